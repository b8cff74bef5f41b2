/**
 * Opening the browser, end to end with the built plugin: the browser-tab flood guard (kubelogin #904,
 * #1330), headless machines and SSH sessions (nothing is spawned), $BROWSER, and launchers that fail.
 * "Browsers" here are shell scripts that record each launch; WSL is covered by test/unit/browser.test.ts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin } from '../support/plugin.js';

const idp = useIdentityProvider();
const temp = useTempDir();
const cacheDir = (): string => join(temp.path, 'cache');

function args(extra: string[] = []): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${idp.issuer}`,
    `--oidc-client-id=${idp.clientId}`,
    `--token-cache-dir=${cacheDir()}`,
    '--listen-address=127.0.0.1:0',
    ...extra,
  ];
}

interface Recorder {
  path: string;
  /** One argv (without the program) per launch. */
  launches(): string[][];
}

const launchLog = (): string => join(temp.path, 'launches.log');

/** Every launch of any recorder of this test, as its arguments. */
function recordedLaunches(): string[][] {
  if (!existsSync(launchLog())) return [];
  return readFileSync(launchLog(), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t').slice(0, -1));
}

/** A "browser" that records its arguments and exits 0 without visiting anything: the login never completes. */
function recorder(name = 'recording-browser', dir = temp.path): Recorder {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nfor arg in "$@"; do printf '%s\\t' "$arg" >> '${launchLog()}'; done\nprintf '\\n' >> '${launchLog()}'\n`);
  chmodSync(path, 0o755);
  return { path, launches: recordedLaunches };
}

function markers(): string[] {
  try {
    return readdirSync(cacheDir()).filter((name) => name.endsWith('.login'));
  } catch {
    return [];
  }
}

function readMarker(): Record<string, unknown> {
  const [name] = markers();
  if (name === undefined) throw new Error(`no login marker in ${cacheDir()}`);
  return JSON.parse(readFileSync(join(cacheDir(), name), 'utf8')) as Record<string, unknown>;
}

const printedUrl = (stderr: string): string | undefined => /^Please visit the following URL in your browser: (\S+)$/m.exec(stderr)?.[1];

const GUARD_ERROR = /^error: a browser login for this provider was started \d+ s ago and did not complete \(timed out\); not opening another browser tab for \d+ s$/m;
const GUARD_HINT = /^hint: to open a browser now, delete \S+\.login \("kubectl oidc-login clean" deletes it too\) or pass --browser-retry-cooldown-sec=0$/m;

describe('the browser-tab flood guard', () => {
  it('after a browser login that timed out, fails fast without opening a tab; cool-down 0 or an elapsed cool-down opens again; a login clears the marker', async () => {
    const browser = recorder();
    const withBrowser = (extra: string[] = []): string[] => args([`--browser-command=${browser.path}`, '--authentication-timeout-sec=2', ...extra]);

    const first = await runPlugin(withBrowser());
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/^error: timed out after 2 s waiting for the browser login$/m);
    expect(browser.launches()).toEqual([[printedUrl(first.stderr)]]);
    expect(readMarker()).toMatchObject({ outcome: 'timed-out', issuer: idp.issuer, clientId: idp.clientId, pid: expect.any(Number), startedAt: expect.any(String), endedAt: expect.any(String) });

    // A background caller right after: no port, no discovery, no tab, one error line and a hint.
    idp.resetCounts();
    const second = await runPlugin(withBrowser());
    expect(second.code).toBe(1);
    expect(second.durationMs).toBeLessThan(1500);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(GUARD_ERROR);
    expect(second.stderr).toMatch(GUARD_HINT);
    expect(second.stderr).not.toContain('Please visit');
    expect(second.stderr.trimEnd().split('\n')).toHaveLength(2);
    expect(browser.launches()).toHaveLength(1);
    expect(idp.counts.discovery).toBe(0);
    expect(idp.counts.authorizations).toBe(0);

    // --browser-retry-cooldown-sec=0: the user asks for a browser now.
    const now = await runPlugin(withBrowser(['--browser-retry-cooldown-sec=0']));
    expect(now.code).toBe(1);
    expect(now.stderr).toMatch(/^error: timed out after 2 s/m);
    expect(browser.launches()).toHaveLength(2);

    // Once the cool-down has passed (1 s here), a tab opens again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const later = await runPlugin(withBrowser(['--browser-retry-cooldown-sec=1']));
    expect(later.code).toBe(1);
    expect(later.stderr).toMatch(/^error: timed out after 2 s/m);
    expect(browser.launches()).toHaveLength(3);

    // A successful login deletes the marker.
    expect(markers()).toHaveLength(1);
    const success = await runPlugin(args([`--browser-command=${FAKE_BROWSER}`, '--browser-retry-cooldown-sec=0']));
    expect(success.code, success.stderr).toBe(0);
    parseCredential(success);
    expect(markers()).toEqual([]);
  });

  it('says when the login was interrupted and when it failed at the provider', async () => {
    const browser = recorder();
    let pid = 0;
    const running = runPlugin(args([`--browser-command=${browser.path}`, '--authentication-timeout-sec=30']), { onSpawn: (spawned) => (pid = spawned) });
    const deadline = Date.now() + 10_000;
    while (browser.launches().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    process.kill(pid, 'SIGTERM');
    const interrupted = await running;
    expect(interrupted.code).toBe(1);
    expect(readMarker()).toMatchObject({ outcome: 'interrupted' });
    const after = await runPlugin(args([`--browser-command=${browser.path}`]));
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^error: a browser login for this provider was started \d+ s ago and did not complete \(interrupted\); not opening another browser tab for \d+ s$/m);
    expect(browser.launches()).toHaveLength(1);

    // prompt=none without a session: the provider answers login_required at once. (Its own cache key.)
    const denied = args([`--browser-command=${FAKE_BROWSER}`, '--oidc-auth-request-extra-params=prompt=none']);
    expect((await runPlugin(denied)).code).toBe(1);
    const again = await runPlugin(denied);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: a browser login for this provider was started \d+ s ago and did not complete \(authorization error from the provider: login_required.*\); not opening another browser tab for \d+ s$/m);
  });

  it('does not stop --skip-open-browser (nothing opens), and --token-cache-storage=none keeps no marker', async () => {
    const browser = recorder();
    const failed = await runPlugin(args([`--browser-command=${browser.path}`, '--authentication-timeout-sec=1']));
    expect(failed.code).toBe(1);
    expect(markers()).toHaveLength(1);
    const skip = await runPlugin(args([`--browser-command=${browser.path}`, '--authentication-timeout-sec=1', '--skip-open-browser']));
    expect(skip.stderr).toMatch(/^error: timed out after 1 s waiting for the browser login$/m);
    expect(printedUrl(skip.stderr)).toBeDefined();
    expect(browser.launches()).toHaveLength(1);

    const noCache = args([`--browser-command=${browser.path}`, '--authentication-timeout-sec=1', '--token-cache-storage=none', `--token-cache-dir=${join(temp.path, 'unused')}`]);
    expect((await runPlugin(noCache)).code).toBe(1);
    expect((await runPlugin(noCache)).code).toBe(1);
    expect(browser.launches()).toHaveLength(3);
    expect(existsSync(join(temp.path, 'unused'))).toBe(false);
  });

  it('clean deletes the marker, after which a browser opens again', async () => {
    const browser = recorder();
    const run = (): Promise<Awaited<ReturnType<typeof runPlugin>>> => runPlugin(args([`--browser-command=${browser.path}`, '--authentication-timeout-sec=1']));
    expect((await run()).code).toBe(1);
    expect((await run()).stderr).toMatch(GUARD_ERROR);
    const clean = await runPlugin(['clean', `--token-cache-dir=${cacheDir()}`]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).not.toContain('did not write');
    expect(markers()).toEqual([]);
    expect((await run()).stderr).toMatch(/^error: timed out after 1 s/m);
    expect(browser.launches()).toHaveLength(2);
  });
});

const hostIsWsl = existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') || /microsoft/i.test(existsSync('/proc/version') ? readFileSync('/proc/version', 'utf8') : '');

describe.skipIf(process.platform !== 'linux' || hostIsWsl)('where no browser can be opened (Linux)', () => {
  const LAUNCHERS = ['xdg-open', 'x-www-browser', 'www-browser', 'sensible-browser', 'gnome-open', 'kde-open', 'firefox', 'chromium', 'google-chrome', 'links2', 'elinks', 'links', 'lynx', 'w3m'];

  /** No display, no SSH, no BROWSER, and every usual launcher on PATH replaced by a recorder. */
  function headlessEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
    const bin = join(temp.path, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const name of LAUNCHERS) recorder(name, bin);
    return {
      DISPLAY: undefined,
      WAYLAND_DISPLAY: undefined,
      BROWSER: undefined,
      SSH_CONNECTION: undefined,
      SSH_CLIENT: undefined,
      SSH_TTY: undefined,
      WSL_DISTRO_NAME: undefined,
      WSL_INTEROP: undefined,
      PATH: `${bin}:${process.env['PATH'] ?? ''}`,
      ...extra,
    };
  }

  it('spawns nothing without DISPLAY or WAYLAND_DISPLAY: prints the URL and why, then times out', async () => {
    const env = headlessEnv();
    const run = await runPlugin(args(['--authentication-timeout-sec=1']), { env });
    expect(run.code).toBe(1);
    expect(printedUrl(run.stderr)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/auth\?/);
    expect(run.stderr).toMatch(/^No browser can be opened here \(no DISPLAY or WAYLAND_DISPLAY\): open the URL above in a browser on a machine whose localhost:(\d+) reaches this one \(ssh -L \1:localhost:\1\)$/m);
    expect(run.stderr).toMatch(/^error: timed out after 1 s waiting for the browser login$/m);
    expect(run.stderr).not.toContain('warning:');
    expect(recordedLaunches()).toEqual([]);
    // Nothing was opened, so nothing is held against the next attempt.
    expect(markers()).toEqual([]);
    const again = await runPlugin(args(['--authentication-timeout-sec=1']), { env });
    expect(again.stderr).toMatch(/^No browser can be opened here/m);
  });

  it('spawns nothing in an SSH session without a forwarded display', async () => {
    const run = await runPlugin(args(['--authentication-timeout-sec=1']), { env: headlessEnv({ SSH_CONNECTION: '192.0.2.1 50000 192.0.2.2 22' }) });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^No browser can be opened here \(SSH session without a forwarded display: no DISPLAY or WAYLAND_DISPLAY\): /m);
    expect(recordedLaunches()).toEqual([]);
  });

  it('uses $BROWSER: a :-separated list tried in order, %s replaced by the URL, no shell', async () => {
    const browser = recorder('my-browser');
    const run = await runPlugin(args(['--authentication-timeout-sec=1']), { env: headlessEnv({ BROWSER: `no-such-browser-here:${browser.path} --new-tab=%s` }) });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('No browser can be opened');
    expect(run.stderr).not.toContain('warning:');
    expect(browser.launches()).toEqual([[`--new-tab=${printedUrl(run.stderr) ?? ''}`]]);
  });

  it('logs in through $BROWSER without a display', async () => {
    const run = await runPlugin(args(), { env: headlessEnv({ BROWSER: FAKE_BROWSER }) });
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
  });
});

describe('a browser launcher that fails', () => {
  it('prints one warning with the reason, after the URL', async () => {
    const run = await runPlugin(args(['--browser-command=/bin/false', '--authentication-timeout-sec=1']));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Please visit the following URL in your browser: .*\nwarning: could not open the browser \(\/bin\/false exited with code 1\); open the URL above by hand\n/m);
    const missing = await runPlugin(args([`--browser-command=${join(temp.path, 'no-such-browser')}`, '--authentication-timeout-sec=1', '--browser-retry-cooldown-sec=0']));
    expect(missing.stderr).toContain(`warning: could not open the browser (${join(temp.path, 'no-such-browser')}: not found); open the URL above by hand\n`);
    expect(missing.stderr.match(/^warning:/gm)).toHaveLength(1);
  });
});
