/**
 * The one test a person would do by hand, with a real browser: kubectl runs the plugin, the plugin "opens a
 * browser" (a --browser-command that only records the URL, so that the test can hand it to Chromium), and
 * Debian's Chromium, driven by playwright-core, shows the provider's login page, submits the form, follows the
 * redirect to the loopback callback and ends on our success page; then kubectl's command succeeds. Every other
 * test uses the HTTP-client browser (≈ 50× cheaper); this one proves the pages work in what users run.
 *
 * Chromium may reach loopback only: the host resolver resolves no other name, and every request the browser
 * context makes is checked. Logins are counted at the provider, not in plugin runs: the Cloud SDK kubectl
 * dispatcher may run the plugin more than once per command.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type TestApiServer } from '../support/api-server.js';
import { DEFAULT_LOGIN, DEFAULT_PASSWORD, startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { PLUGIN_BIN, makeTempDir } from '../support/plugin.js';

/** Debian's package `chromium`; CI installs it, so on Linux a missing binary fails the test instead of skipping it. */
const CHROMIUM = '/usr/bin/chromium';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);

/** libraries.md §4.2: no name but loopback resolves, and Chromium's own background traffic is off. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Every wait is bounded; the whole test takes ≈ 2 s when things work. */
const STEP_TIMEOUT_MS = 10_000;
const KUBECTL_TIMEOUT_MS = 30_000;

interface KubectlRun {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Kills kubectl, the plugin and the browser command: they share kubectl's process group. */
  kill(): void;
}

describe.skipIf(process.platform !== 'linux')('a real browser (Debian Chromium) through the authorization-code login', () => {
  let idp: TestIdp;
  let api: TestApiServer;
  let temp: { path: string; remove(): void };
  let chromiumServer: BrowserServer | undefined;
  let browser: Browser | undefined;
  const kubectlRuns: KubectlRun[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: this end-to-end test drives Debian's Chromium; install it with \`apt-get install -y chromium\` (it is not skipped on Linux)`);
    }
    temp = makeTempDir();
    idp = await startIdentityProvider();
    api = await startApiServer({ issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:' });
    // launchServer rather than launch: it hands out Chromium's pid (the leader of its own process group), so
    // cleanup can kill it for sure even when a graceful close hangs.
    chromiumServer = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT_MS });
    browser = await chromium.connect(chromiumServer.wsEndpoint(), { timeout: STEP_TIMEOUT_MS });
  });

  afterAll(async () => {
    for (const run of kubectlRuns) run.kill();
    const chromiumPid = chromiumServer?.process().pid;
    await withinMs(2_000, browser?.close());
    // close() also removes the temporary profile directory Playwright made.
    await withinMs(3_000, chromiumServer?.close());
    if (chromiumPid !== undefined) killGroup(chromiumPid);
    await api?.close();
    await idp?.close();
    temp?.remove();
  });

  /** Starts `kubectl <args>` with the kubeconfig and a private HOME and cache, without waiting for it. */
  function startKubectl(kubeconfig: string, args: string[]): KubectlRun {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      env: { ...process.env, PATH: `${dirname(PLUGIN_BIN)}:${process.env['PATH'] ?? ''}`, HOME: temp.path, KUBECACHEDIR: join(temp.path, 'kube-cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error('kubectl did not start');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => killGroup(pid), KUBECTL_TIMEOUT_MS);
    const exited = new Promise<Awaited<KubectlRun['exited']>>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
    const run: KubectlRun = { pid, exited, kill: () => killGroup(pid) };
    kubectlRuns.push(run);
    return run;
  }

  it('logs in through the provider\'s form in Chromium, ends on our success page, and kubectl auth whoami succeeds; the next command is a cache hit', async () => {
    const openedUrls = join(temp.path, 'opened-urls');
    const browserCommand = join(temp.path, 'record-url');
    // The plugin runs `<command> <url>` without a shell; recording the URL is all this "browser" does.
    writeFileSync(browserCommand, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${openedUrls}'\n`);
    chmodSync(browserCommand, 0o755);
    const kubeconfig = join(temp.path, 'kubeconfig');
    await writeKubeconfig(kubeconfig, {
      server: api.url,
      caPath: api.caPath,
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'kubectl-oidc_login',
          args: [
            'get-token',
            `--oidc-issuer-url=${idp.issuer}`,
            `--oidc-client-id=${idp.clientId}`,
            '--oidc-extra-scope=email groups offline_access',
            `--browser-command=${browserCommand}`,
            '--listen-address=127.0.0.1:0',
            '--authentication-timeout-sec=30',
          ],
          interactiveMode: 'Never',
        },
      },
    });

    const whoami = startKubectl(kubeconfig, ['auth', 'whoami', '-o', 'json']);
    const authorizationUrl = await waitForOpenedUrl(openedUrls, whoami);
    const issuerOrigin = new URL(idp.issuer).origin;
    expect(new URL(authorizationUrl).origin).toBe(issuerOrigin);
    const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? '';
    expect(redirectUri).toMatch(/^http:\/\/localhost:\d+$/);

    if (browser === undefined) throw new Error('Chromium did not start');
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const requestedUrls: string[] = [];
    context.on('request', (request) => requestedUrls.push(request.url()));
    try {
      const page = await context.newPage();

      // The provider's own login page, as a person sees it.
      await page.goto(authorizationUrl);
      expect(new URL(page.url()).origin).toBe(issuerOrigin);
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+$/);
      expect(await page.title()).toBe('Sign in');
      await page.fill('#login', DEFAULT_LOGIN);
      await page.fill('#password', DEFAULT_PASSWORD);

      // Submitting redirects through the provider to the plugin's loopback callback.
      const callbackResponse = page.waitForResponse((response) => response.url().startsWith(`${redirectUri}/?`));
      await page.click('#submit');
      const callback = await callbackResponse;
      expect(callback.status()).toBe(200);
      const callbackParams = new URL(callback.url()).searchParams;
      expect(callbackParams.get('code')).toBeTruthy();
      expect(callbackParams.get('state')).toBeTruthy();

      // What Chromium finally shows is our success page (src/oidc/loopback-server.ts). Its window.close() is
      // refused for a tab the page did not open, so the page stays to be read.
      await page.waitForLoadState('load');
      expect(page.url()).toBe(callback.url());
      expect(await page.title()).toBe('Authenticated');
      expect(await page.textContent('h1')).toBe('Authenticated');
      expect(await page.textContent('p')).toBe('You have logged in to the cluster. You can close this window.');
    } finally {
      await context.close();
    }

    const first = await whoami.exited;
    expect(first.code, first.stderr).toBe(0);
    const review = JSON.parse(first.stdout) as { status: { userInfo: { username: string; groups: string[] } } };
    expect(review.status.userInfo).toEqual({ username: 'alice@example.com', groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    expect(api.requests.some((request) => request.authenticated && request.username === 'alice@example.com')).toBe(true);

    // One login, through the form (not a session or autoLogin), and one code redeemed.
    expect(idp.counts.authorizations).toBe(1);
    expect(idp.counts.logins).toBe(1);
    expect(idp.counts.tokenRequests['authorization_code']).toBe(1);
    expect(idp.events.some((event) => event.method === 'POST' && /^\/interaction\/[^/]+\/login$/.test(event.path) && event.status === 303)).toBe(true);

    // The browser went to the provider and the callback, and nowhere that is not loopback.
    expect(requestedUrls.some((url) => url.startsWith(`${issuerOrigin}/interaction/`))).toBe(true);
    expect(requestedUrls.some((url) => url.startsWith(`${redirectUri}/?`))).toBe(true);
    expect(requestedUrls.filter((url) => !LOOPBACK_HOSTS.has(new URL(url).hostname))).toEqual([]);

    // The next command is served from the cache: no request to the provider, no browser.
    idp.resetCounts();
    const second = await startKubectl(kubeconfig, ['auth', 'whoami', '-o', 'json']).exited;
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as typeof review).status.userInfo.username).toBe('alice@example.com');
    expect(idp.counts.requests).toBe(0);
    expect(readFileSync(openedUrls, 'utf8').trim().split('\n')).toEqual([authorizationUrl]);
  });
});

/** The first URL the browser command recorded; fails early, with kubectl's stderr, when kubectl ends first. */
async function waitForOpenedUrl(file: string, kubectl: KubectlRun): Promise<string> {
  let ended: Awaited<KubectlRun['exited']> | undefined;
  void kubectl.exited.then((result) => (ended = result));
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const url = existsSync(file) ? readFileSync(file, 'utf8').split('\n')[0] : undefined;
    if (url) return url;
    if (ended !== undefined) throw new Error(`kubectl exited (${ended.code ?? ended.signal}) before the plugin opened a browser:\n${ended.stderr}`);
    await sleep(20);
  }
  throw new Error(`the plugin did not open a browser within ${STEP_TIMEOUT_MS} ms`);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Waits for a cleanup step, but never longer than ms: a hung close must not hang the test run. */
async function withinMs(ms: number, promise: Promise<unknown> | undefined): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
