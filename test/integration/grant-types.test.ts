/**
 * kubelogin's other grant types end to end: device-code, password, authcode-keyboard and client-credentials,
 * the built plugin run as a child process against a real oidc-provider. Terminal prompts run under a real
 * pseudo-terminal (util-linux `script`), the way kubectl connects one with interactiveMode IfAvailable.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { cacheKeyFor } from '../../src/core/cache-key.js';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { browse } from '../support/fake-browser.js';
import { ACCESS_TOKEN_RESOURCE, CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, OOB_REDIRECT_URI, defaultAccounts, type TestIdp } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, PLUGIN_BIN, decodePayload, parseCredential, readBrowserLog, runPlugin, type PluginRun } from '../support/plugin.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const INTERACTIVE_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}';
const NON_INTERACTIVE_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}';

const idp = useIdentityProvider({
  // Keycloak with PKCE enforced (kubelogin #1470); a short polling interval keeps the device tests fast.
  requireDevicePkce: true,
  deviceInterval: 0.2,
  // JWT access tokens, so that client credentials give one the API server could verify.
  accessTokenFormat: 'jwt',
  accounts: {
    ...defaultAccounts(),
    bob: { password: 'bob-pw', claims: { email: 'bob@example.com', email_verified: true, groups: ['qa'], name: 'Bob', preferred_username: 'bob' } },
  },
});
const temp = useTempDir();
let cacheDir: string;
beforeEach(() => {
  cacheDir = join(temp.path, 'cache');
  idp.hooks.tokenError = undefined;
});

function args(provider: TestIdp, extra: string[] = []): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${provider.issuer}`,
    `--oidc-client-id=${provider.clientId}`,
    '--oidc-extra-scope=email,groups',
    `--token-cache-dir=${cacheDir}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${FAKE_BROWSER}`,
    ...extra,
  ];
}

function confidential(provider: TestIdp, extra: string[] = []): string[] {
  return args(provider, [`--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`, `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`, ...extra]);
}

function cacheFiles(): string[] {
  try {
    return readdirSync(cacheDir).filter((name) => /^[0-9a-f]{32}$/.test(name)).sort();
  } catch {
    return [];
  }
}

function tokenPolls(provider: TestIdp): number[] {
  return provider.events.filter((event) => event.path === '/token' && event.grantType === DEVICE_CODE_GRANT).map((event) => event.at);
}

function expectOneLineError(run: PluginRun, message: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  const errors = run.stderr.split('\n').filter((line) => line.startsWith('error: '));
  expect(errors, run.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(message);
  expect(run.stderr).toMatch(/^hint: /m);
}

interface TerminalRun {
  code: number | null;
  /** Everything the terminal showed: the plugin's stderr and the echo of what was typed. */
  screen: string;
  /** The plugin's stdout (redirected to a file, as it is not the terminal). */
  stdout: string;
  durationMs: number;
}

/**
 * Runs the plugin with a pseudo-terminal as stdin and stderr (util-linux `script`), stdout to a file.
 * `answer` sees the screen so far each time it grows and returns what to type, if anything (once per prompt).
 */
function runInTerminal(pluginArgs: string[], options: { env?: Record<string, string | undefined>; answer?: (screen: string) => Promise<string | undefined> | string | undefined; timeoutMs?: number }): Promise<TerminalRun> {
  const stdoutFile = join(temp.path, `stdout-${Math.random().toString(36).slice(2)}`);
  const quote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;
  const command = `exec ${[PLUGIN_BIN, ...pluginArgs].map(quote).join(' ')} > ${quote(stdoutFile)}`;
  const env: Record<string, string | undefined> = { ...process.env, KUBERNETES_EXEC_INFO: undefined, SHELL: '/bin/sh', TERM: 'dumb', ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let busy = Promise.resolve();
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString();
      const seen = screen;
      busy = busy.then(async () => {
        const typed = await options.answer?.(seen);
        if (typed !== undefined) child.stdin.write(typed);
      });
      busy.catch(reject);
    });
    child.stderr.on('data', (chunk: Buffer) => (screen += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let stdout = '';
      try {
        stdout = readFileSync(stdoutFile, 'utf8');
      } catch {
        // Not even started.
      }
      resolve({ code, screen, stdout, durationMs: performance.now() - started });
    });
  });
}

/** Answers each prompt once, when it appears at the end of the screen. */
function prompts(answers: Record<string, string | ((screen: string) => Promise<string>)>): (screen: string) => Promise<string | undefined> {
  const done = new Set<string>();
  return async (screen) => {
    for (const [prompt, answer] of Object.entries(answers)) {
      if (done.has(prompt) || !screen.trimEnd().endsWith(prompt.trimEnd())) continue;
      done.add(prompt);
      return typeof answer === 'string' ? answer : await answer(screen);
    }
    return undefined;
  };
}

describe('--grant-type=device-code', () => {
  it('logs in with PKCE on the device request, prints the code and the URL, opens it, and caches the token', async () => {
    const browserLog = join(temp.path, 'browser.log');
    const run = await runPlugin(args(idp, ['--grant-type=device-code']), { env: { FAKE_BROWSER_LOG: browserLog } });
    expect(run.code, run.stderr).toBe(0);
    const credential = parseCredential(run);
    expect(decodePayload(credential.status.token)).toMatchObject({ iss: idp.issuer, aud: 'kubectl', sub: 'alice', email: 'alice@example.com', groups: ['dev', 'ops'] });

    const userCode = /^Please enter the following code when asked in your browser: (\S+)$/m.exec(run.stderr)?.[1];
    const url = /^Please visit the following URL in your browser: (\S+)$/m.exec(run.stderr)?.[1];
    expect(userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    // verification_uri_complete: the code is in the URL, the page only asks to confirm it.
    expect(url).toBe(`${idp.issuer}/device?user_code=${userCode ?? ''}`);
    expect(readBrowserLog(browserLog)).toEqual([expect.objectContaining({ url, status: 200 })]);
    expect(run.stderr).not.toContain(credential.status.token);

    expect(idp.counts).toMatchObject({ deviceAuthorizations: 1, deviceAuthorizationsWithPkce: 1, deviceAuthorizationsRejected: 0, authorizations: 0 });
    expect(Object.keys(idp.counts.tokenRequests)).toEqual([DEVICE_CODE_GRANT]);
    expect(idp.counts.tokenErrors['invalid_grant']).toBeUndefined();
    expect(cacheFiles()).toHaveLength(1);

    idp.resetCounts();
    const again = await runPlugin(args(idp, ['--grant-type=device-code']));
    expect(again.code, again.stderr).toBe(0);
    expect(parseCredential(again).status.token).toBe(credential.status.token);
    expect(idp.counts.requests).toBe(0);
  });

  it('control: this provider refuses a device request without PKCE (--oidc-pkce-method=no), and the error says so', async () => {
    const run = await runPlugin(args(idp, ['--grant-type=device-code', '--oidc-pkce-method=no']));
    expectOneLineError(run, /^error: the provider refused the device authorization request without PKCE: Missing parameter: code_challenge_method$/);
    expect(run.stderr).toContain('hint: drop --oidc-pkce-method=no');
    expect(idp.counts).toMatchObject({ deviceAuthorizations: 0, deviceAuthorizationsWithPkce: 0, deviceAuthorizationsRejected: 1 });
    expect(idp.counts.tokenRequests).toEqual({});
  });

  it('waits the interval before polling and 5 s more after slow_down', async () => {
    let slowedDown = false;
    idp.hooks.tokenError = (grantType) => {
      if (grantType !== DEVICE_CODE_GRANT || slowedDown) return undefined;
      slowedDown = true;
      return { error: 'slow_down', error_description: 'polling too fast' };
    };
    const run = await runPlugin(args(idp, ['--grant-type=device-code', '--token-cache-storage=none']));
    expect(run.code, run.stderr).toBe(0);
    expect(idp.counts.tokenErrors['slow_down']).toBe(1);
    const started = idp.events.find((event) => event.path === '/device/auth')?.at ?? NaN;
    const [first, second, third] = tokenPolls(idp);
    expect(third, 'the login was done before the second poll').toBeUndefined();
    // interval 0.2 s before the first poll; 0.2 + 5 s after slow_down (RFC 8628 §3.5).
    expect((first ?? NaN) - started).toBeGreaterThanOrEqual(190);
    expect((second ?? NaN) - (first ?? NaN)).toBeGreaterThanOrEqual(5100);
    expect((second ?? NaN) - (first ?? NaN)).toBeLessThan(7000);
  });

  it('gives up after --authentication-timeout-sec, before the code expires, with a clear message', async () => {
    const run = await runPlugin(args(idp, ['--grant-type=device-code', '--skip-open-browser', '--authentication-timeout-sec=1']));
    expectOneLineError(run, /^error: timed out after 1 s waiting for the device login$/);
    expect(run.stderr).toContain('hint: open the URL above, enter the code and log in, or raise --authentication-timeout-sec');
    // The code and the URL were printed even though no browser was opened.
    expect(run.stderr).toMatch(/^Please enter the following code when asked in your browser: \S+$/m);
    expect(run.stderr).toMatch(/^Please visit the following URL in your browser: http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\S+$/m);
    expect(run.durationMs).toBeLessThan(4000);
    expect(tokenPolls(idp).length).toBeGreaterThanOrEqual(2);
    expect(idp.counts.tokenErrors['authorization_pending']).toBeGreaterThanOrEqual(1);
  });

  it('stops polling at once on SIGINT', async () => {
    let pid: number | undefined;
    let signalledAt = NaN;
    const run = await runPlugin(args(idp, ['--grant-type=device-code', '--skip-open-browser']), {
      onSpawn: (spawned) => (pid = spawned),
      onStderr: (chunk) => {
        if (chunk.includes('Please visit the following URL') && pid !== undefined && Number.isNaN(signalledAt)) {
          signalledAt = performance.now();
          setTimeout(() => process.kill(pid ?? 0, 'SIGINT'), 300);
        }
      },
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^error: the login was interrupted$/m);
    expect(performance.now() - signalledAt).toBeLessThan(1300);
  });

  it('reports a login denied in the browser as access_denied', async () => {
    const run = await runPlugin(args(idp, ['--grant-type=device-code']), { env: { FAKE_BROWSER_PRESS: 'abort' } });
    expectOneLineError(run, /^error: the device login was denied: access_denied \(End-User aborted interaction\)$/);
    expect(run.stderr).toContain('hint: approve the request in the browser');
    expect(idp.counts.tokenErrors['access_denied']).toBe(1);
    expect(cacheFiles()).toEqual([]);
  });
});

describe('--grant-type=password', () => {
  it('logs in with --username and --password, without a browser, and caches per username', async () => {
    const alice = await runPlugin(args(idp, ['--username=alice', '--password=alice-pw']));
    expect(alice.code, alice.stderr).toBe(0);
    expect(decodePayload(parseCredential(alice).status.token)).toMatchObject({ iss: idp.issuer, aud: 'kubectl', sub: 'alice', email: 'alice@example.com' });
    expect(idp.counts.tokenRequests).toEqual({ password: 1 });
    expect(idp.counts.authorizations).toBe(0);
    expect(alice.stderr).not.toContain('alice-pw');

    // --grant-type=password given explicitly, another user: another cache entry.
    const bob = await runPlugin(args(idp, ['--grant-type=password', '--username=bob', '--password=bob-pw']));
    expect(bob.code, bob.stderr).toBe(0);
    expect(decodePayload(parseCredential(bob).status.token)).toMatchObject({ sub: 'bob', email: 'bob@example.com' });
    expect(cacheFiles()).toHaveLength(2);

    idp.resetCounts();
    const aliceAgain = await runPlugin(args(idp, ['--username=alice', '--password=alice-pw']));
    const bobAgain = await runPlugin(args(idp, ['--username=bob', '--password=bob-pw']));
    expect(parseCredential(aliceAgain).status.token).toBe(parseCredential(alice).status.token);
    expect(parseCredential(bobAgain).status.token).toBe(parseCredential(bob).status.token);
    expect(idp.counts.requests).toBe(0);
  });

  it('reports a wrong password with a hint', async () => {
    const run = await runPlugin(args(idp, ['--username=alice', '--password=wrong']));
    expectOneLineError(run, /^error: the password token request failed: invalid_grant/);
    expect(run.stderr).toContain('hint: check --username and --password');
  });

  it('fails at once when --password is missing and stdin is an open pipe (never read)', async () => {
    for (const env of [{}, { KUBERNETES_EXEC_INFO: INTERACTIVE_INFO }]) {
      idp.resetCounts();
      const run = await runPlugin(args(idp, ['--username=alice']), { stdin: 'pipe', env, timeoutMs: 10_000 });
      expectOneLineError(run, /^error: --password is missing, and there is no terminal to ask on: stdin is not a terminal, or kubectl did not allow input \(it does only with interactiveMode IfAvailable or Always\)$/);
      expect(run.stderr).toContain('hint: pass --password, or set interactiveMode: IfAvailable');
      expect(run.durationMs).toBeLessThan(2000);
      // Not even discovery.
      expect(idp.counts.requests).toBe(0);
    }
  });

  it('prompts on the terminal when kubectl allows it, without echoing the password', async () => {
    const run = await runInTerminal(args(idp, ['--grant-type=password']), {
      env: { KUBERNETES_EXEC_INFO: INTERACTIVE_INFO },
      answer: prompts({ 'Username: ': 'alice\r', 'Password: ': 'alice-pw\r' }),
    });
    expect(run.code, run.screen).toBe(0);
    const credential = parseCredential({ code: 0, signal: null, stdout: run.stdout, stderr: run.screen, durationMs: run.durationMs });
    expect(credential.spec).toEqual({ interactive: true });
    expect(decodePayload(credential.status.token)).toMatchObject({ sub: 'alice' });
    // The username is echoed as typed; of the password nothing at all.
    expect(run.screen).toMatch(/Username: alice\r?\n/);
    expect(run.screen).toMatch(/Password: \r?\n/);
    expect(run.screen).not.toContain('alice-pw');
    expect(idp.counts.tokenRequests).toEqual({ password: 1 });
  });

  it('stops at Ctrl-C in the password prompt, without a token request', async () => {
    const run = await runInTerminal(args(idp, ['--username=alice']), { answer: prompts({ 'Password: ': '\u0003' }) });
    expect(run.code).toBe(1);
    expect(run.screen).toMatch(/^error: interrupted \(Ctrl-C\)\r?$/m);
    expect(run.stdout).toBe('');
    expect(idp.counts.tokenRequests).toEqual({});
  });

  it('does not prompt on a terminal when kubectl says the session is not interactive', async () => {
    const run = await runInTerminal(args(idp, ['--username=alice']), { env: { KUBERNETES_EXEC_INFO: NON_INTERACTIVE_INFO } });
    expect(run.code).toBe(1);
    expect(run.screen).toContain('error: --password is missing, and there is no terminal to ask on');
    expect(run.screen).not.toContain('Password: ');
    expect(run.durationMs).toBeLessThan(2000);
    expect(idp.counts.requests).toBe(0);
  });

  it('is shared by setup', async () => {
    const run = await runPlugin(['setup', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--oidc-extra-scope=email', '--username=alice', '--password=alice-pw', '--output=json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ claims: { sub: 'alice', email: 'alice@example.com' } });
    expect(idp.counts.tokenRequests).toEqual({ password: 1 });
  });
});

describe('--grant-type=authcode-keyboard', () => {
  it('prints the URL with the out-of-band redirect, reads the pasted code, and redeems it with PKCE', async () => {
    let authorizationUrl: URL | undefined;
    const run = await runInTerminal(args(idp, ['--grant-type=authcode-keyboard', '--skip-open-browser']), {
      env: { KUBERNETES_EXEC_INFO: INTERACTIVE_INFO },
      answer: prompts({
        'Enter code: ': async (screen) => {
          authorizationUrl = new URL(/Please visit the following URL in your browser: (\S+)/.exec(screen)?.[1] ?? 'about:blank');
          // The user logs in and the provider sends the browser to urn:ietf:wg:oauth:2.0:oob?code=…
          const page = await browse(authorizationUrl.href);
          const code = new URL(page.finalUrl).searchParams.get('code');
          if (!page.finalUrl.startsWith(`${OOB_REDIRECT_URI}?`) || code === null) throw new Error(`no code: ${page.finalUrl}`);
          return `${code}\r`;
        },
      }),
    });
    expect(run.code, run.screen).toBe(0);
    expect(authorizationUrl?.searchParams.get('redirect_uri')).toBe(OOB_REDIRECT_URI);
    expect(authorizationUrl?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl?.searchParams.get('nonce')).toBeTruthy();
    const credential = parseCredential({ code: 0, signal: null, stdout: run.stdout, stderr: run.screen, durationMs: run.durationMs });
    expect(decodePayload(credential.status.token)).toMatchObject({ sub: 'alice', aud: 'kubectl', nonce: authorizationUrl?.searchParams.get('nonce') });
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
    expect(cacheFiles()).toHaveLength(1);
  });

  it('uses --oidc-redirect-url, and accepts the whole URL the browser was sent to', async () => {
    const redirect = 'http://127.0.0.1/callback';
    let authorizationUrl: URL | undefined;
    const run = await runInTerminal(args(idp, ['--grant-type=authcode-keyboard', '--skip-open-browser', `--oidc-redirect-url=${redirect}`]), {
      answer: prompts({
        'Enter code: ': async (screen) => {
          authorizationUrl = new URL(/Please visit the following URL in your browser: (\S+)/.exec(screen)?.[1] ?? 'about:blank');
          const page = await browse(authorizationUrl.href, { stopAt: redirect });
          return `${page.finalUrl}\r`;
        },
      }),
    });
    expect(run.code, run.screen).toBe(0);
    expect(authorizationUrl?.searchParams.get('redirect_uri')).toBe(redirect);
    expect(decodePayload(parseCredential({ code: 0, signal: null, stdout: run.stdout, stderr: '', durationMs: 0 }).status.token)).toMatchObject({ sub: 'alice' });
  });

  it('fails at once without a terminal', async () => {
    const run = await runPlugin(args(idp, ['--grant-type=authcode-keyboard']), { stdin: 'pipe', timeoutMs: 10_000 });
    expectOneLineError(run, /^error: --grant-type=authcode-keyboard needs a terminal to read the code from, and there is no terminal to ask on/);
    expect(run.durationMs).toBeLessThan(2000);
    expect(idp.counts.requests).toBe(0);
  });
});

describe('--grant-type=client-credentials', () => {
  it('needs --oidc-use-access-token: the provider issues no id_token for this grant', async () => {
    const run = await runPlugin(confidential(idp, ['--grant-type=client-credentials']));
    expectOneLineError(run, /^error: the client credentials token response has no id_token/);
    expect(run.stderr).toContain('hint: add --oidc-use-access-token');
    expect(idp.counts.tokenRequests).toEqual({ client_credentials: 1 });
    expect(cacheFiles()).toEqual([]);
  });

  it('returns the verified JWT access token, with the extra parameters in the body, cached under its own key', async () => {
    let body: URLSearchParams | undefined;
    idp.hooks.tokenError = (grantType, form) => {
      if (grantType === 'client_credentials') body = form;
      return undefined;
    };
    const flags = confidential(idp, ['--grant-type=client-credentials', '--oidc-use-access-token', `--oidc-auth-request-extra-params=resource=${ACCESS_TOKEN_RESOURCE}`]);
    const run = await runPlugin(flags);
    expect(run.code, run.stderr).toBe(0);
    const claims = decodePayload(parseCredential(run).status.token);
    expect(claims).toMatchObject({ iss: idp.issuer, sub: CONFIDENTIAL_CLIENT_ID, client_id: CONFIDENTIAL_CLIENT_ID, aud: 'kubernetes' });
    expect(body?.get('scope')).toBe('email groups openid');
    expect(body?.get('resource')).toBe(ACCESS_TOKEN_RESOURCE);
    // The signature was checked against the provider's keys.
    expect(idp.counts.jwks).toBe(1);

    const config = parseGetTokenFlags(
      {
        'oidc-issuer-url': idp.issuer,
        'oidc-client-id': CONFIDENTIAL_CLIENT_ID,
        'oidc-client-secret': CONFIDENTIAL_CLIENT_SECRET,
        'oidc-extra-scope': ['email,groups'],
        'token-cache-dir': cacheDir,
        'grant-type': 'client-credentials',
        'oidc-use-access-token': true,
        'oidc-auth-request-extra-params': [`resource=${ACCESS_TOKEN_RESOURCE}`],
      },
      {},
    );
    const key = cacheKeyFor(config);
    expect(cacheFiles()).toEqual([key]);
    expect(cacheKeyFor({ ...config, login: { ...config.login, grantType: 'authcode' } })).not.toBe(key);

    idp.resetCounts();
    const again = await runPlugin(flags);
    expect(parseCredential(again).status.token).toBe(parseCredential(run).status.token);
    expect(idp.counts.requests).toBe(0);
  });

  it('fails at once without --oidc-client-secret', async () => {
    const run = await runPlugin(args(idp, ['--grant-type=client-credentials', '--oidc-use-access-token']));
    expectOneLineError(run, /^error: --grant-type=client-credentials needs --oidc-client-secret$/);
    expect(idp.counts.requests).toBe(0);
  });
});
