/**
 * Process faults, end to end with the built binary (bin/kubectl-oidc_login → dist/) against the real
 * oidc-provider: signals during a login (every phase that can hold the entry's lock), a lock holder killed
 * with SIGKILL, a crash between writing a cache entry's temp file and renaming it, and a cache directory that
 * is read-only, full, or cannot be created.
 *
 * Test-side instruments only: a --require preload (NODE_OPTIONS) in the plugin's process that records when the
 * full CLI is loaded, signals the process at a chosen point, or SIGKILLs it at the rename of a cache entry; and,
 * where chmod cannot stop root, a private mount namespace (unshare) with a read-only bind mount or a full tmpfs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { cacheKey } from '../../src/core/cache-key.js';
import { withCacheLock } from '../../src/system/file-lock.js';
import { createLogger } from '../../src/system/log.js';
import { entryFiles, expectOneLineFailure, onlyEntry } from '../support/fault-assertions.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { FAKE_BROWSER, PLUGIN_BIN, makeTempDir, parseCredential, runPlugin, type PluginRun, type RunOptions } from '../support/plugin.js';

const idp = useIdentityProvider();
const temp = useTempDir();
const cacheDir = (): string => join(temp.path, 'cache');

/** No proxy and no preload from the environment running the tests. */
const ENV = { HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined, NODE_OPTIONS: undefined };

function args(extra: string[] = [], dir = cacheDir(), issuer = idp.issuer): string[] {
  return ['get-token', `--oidc-issuer-url=${issuer}`, '--oidc-client-id=kubectl', `--token-cache-dir=${dir}`, ...extra];
}

const LOGIN = ['--listen-address=127.0.0.1:0', `--browser-command=${FAKE_BROWSER}`];

function run(argv: string[], options: RunOptions = {}): Promise<PluginRun> {
  return runPlugin(argv, { ...options, env: { ...ENV, ...options.env } });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `ready` every 20 ms until it holds; fails after timeoutMs. */
async function waitFor(what: string, ready: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The entry's key for this test's flags (no extra scopes), as the plugin computes it. */
function keyFor(dir = cacheDir(), issuer = idp.issuer): string {
  return cacheKey(parseGetTokenFlags({ 'oidc-issuer-url': issuer, 'oidc-client-id': 'kubectl', 'token-cache-dir': dir }, {}).provider);
}

/** The lock directories and owner files in dir. */
function lockFiles(dir = cacheDir()): string[] {
  try {
    return readdirSync(dir).filter((name) => name.includes('.lock'));
  } catch {
    return [];
  }
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether 127.0.0.1:port can be bound now (it is bound and released again). */
async function canBind(port: number): Promise<boolean> {
  const server = createNetServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) await new Promise<void>((resolve) => server.close(() => resolve()));
  return bound;
}

/**
 * A preload for the plugin's process (NODE_OPTIONS=--require), steered by its environment:
 * - PRELOAD_MARKS=<dir>: writes <dir>/lock when dist/lock.cjs is loaded and <dir>/cli when dist/cli.cjs is;
 * - PRELOAD_SIGNAL_AT_CLI=<signal>: the process signals itself just before the full CLI is loaded (with the
 *   entry's lock held), so that the signal is handled by whatever is listening once the CLI has started;
 * - PRELOAD_KILL_AT_ENTRY_RENAME=1: SIGKILL when fs.renameSync moves a cache entry's temp file
 *   (`.<32 hex>.<pid>.<random>.tmp`, system/atomic-file.ts) into place: a crash between the write and the rename.
 */
function preload(dir: string): string {
  const path = join(dir, 'preload.cjs');
  writeFileSync(
    path,
    `
const fs = require('fs'), Module = require('module');
const marks = process.env.PRELOAD_MARKS;
const load = Module._load;
Module._load = function (request, ...rest) {
  if (marks && /(^|\\/)lock\\.cjs$/.test(request)) fs.writeFileSync(marks + '/lock', '');
  if (/(^|\\/)cli\\.cjs$/.test(request)) {
    if (marks) fs.writeFileSync(marks + '/cli', '');
    if (process.env.PRELOAD_SIGNAL_AT_CLI) process.kill(process.pid, process.env.PRELOAD_SIGNAL_AT_CLI);
  }
  return load.call(this, request, ...rest);
};
if (process.env.PRELOAD_KILL_AT_ENTRY_RENAME) {
  const rename = fs.renameSync;
  fs.renameSync = function (from, to) {
    if (/\\/\\.[0-9a-f]{32}\\.\\d+\\.[0-9a-z]+\\.tmp$/.test(String(from))) process.kill(process.pid, 'SIGKILL');
    return rename.apply(this, arguments);
  };
}
`,
  );
  return path;
}

let tools: { path: string; remove(): void };
beforeAll(() => {
  tools = makeTempDir('process-faults-');
});
afterAll(() => tools.remove());

/**
 * A lock holder killed with SIGKILL leaves its lock directory; the next invocation must take it over once it is
 * stale (cache-lock.ts STALE_MS, 10 s) and log in: about 10 s of waiting each. Both scenarios start before the
 * other tests, with a provider of their own, and are checked at the end of the file.
 */
interface KilledHolder {
  dir: string;
  holder: PluginRun;
  /** The lock files right after the kill. */
  locksAfterKill: string[];
  next: PluginRun;
}
const killed: { idp?: TestIdp; whileWaitingForBrowser?: Promise<KilledHolder>; inSmallEntry?: Promise<KilledHolder>; afterOpeningBrowser?: Promise<KilledHolder> } = {};

async function killHolderThenRunNext(kind: 'browser' | 'entry' | 'opened-browser', sideIdp: TestIdp): Promise<KilledHolder> {
  const dir = join(tools.path, `killed-${kind}`);
  const argv = (extra: string[]): string[] => args(extra, dir, sideIdp.issuer);
  let pid = 0;
  let stderr = '';
  // While waiting for the browser (--skip-open-browser: nothing opens, so the browser-tab guard stays out of it;
  // or after opening one that never logs in), or in the small entry, holding the lock it took before the full CLI
  // loads (the preload kills it there).
  const waiting = ['--listen-address=127.0.0.1:0', '--authentication-timeout-sec=60'];
  const holderArgs = kind === 'browser' ? [...waiting, '--skip-open-browser'] : kind === 'opened-browser' ? [...waiting, '--browser-command=/bin/true'] : LOGIN;
  const holder = run(argv(holderArgs), {
    onSpawn: (spawned) => (pid = spawned),
    onStderr: (chunk) => (stderr += chunk),
    env: kind === 'entry' ? { NODE_OPTIONS: `--require ${preload(tools.path)}`, PRELOAD_SIGNAL_AT_CLI: 'SIGKILL' } : {},
  });
  if (kind !== 'entry') {
    await waitFor('the login URL', () => stderr.includes('Please visit the following URL'));
    // The URL is printed before the browser command starts; the browser-tab guard's marker is written as it does.
    if (kind === 'opened-browser') await waitFor('the login marker', () => existsSync(dir) && readdirSync(dir).some((name) => name.endsWith('.login')));
    process.kill(pid, 'SIGKILL');
  }
  const held = await holder;
  const locksAfterKill = lockFiles(dir).sort();
  const next = await run(argv(LOGIN), { timeoutMs: 30_000 });
  return { dir, holder: held, locksAfterKill, next };
}

beforeAll(async () => {
  const sideIdp = await startIdentityProvider();
  killed.idp = sideIdp;
  killed.whileWaitingForBrowser = killHolderThenRunNext('browser', sideIdp);
  killed.inSmallEntry = killHolderThenRunNext('entry', sideIdp);
  killed.afterOpeningBrowser = killHolderThenRunNext('opened-browser', sideIdp);
  // Settled by the tests at the end; never an unhandled rejection before that.
  for (const scenario of [killed.whileWaitingForBrowser, killed.inSmallEntry, killed.afterOpeningBrowser]) scenario.catch(() => undefined);
});
afterAll(async () => {
  await Promise.allSettled([killed.whileWaitingForBrowser, killed.inSmallEntry, killed.afterOpeningBrowser]);
  await killed.idp?.close();
});

describe('SIGINT and SIGTERM during a login: exit 1 within 1 s, the lock released, the callback port free', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s while the login waits for the browser', async (signal) => {
    const port = await freePort();
    let pid = 0;
    let stderr = '';
    const running = run(args([`--listen-address=127.0.0.1:${port}`, '--browser-command=/bin/true', '--authentication-timeout-sec=30']), {
      onSpawn: (spawned) => (pid = spawned),
      onStderr: (chunk) => (stderr += chunk),
    });
    await waitFor('the login URL', () => stderr.includes('Please visit the following URL'));
    const key = keyFor();
    expect(lockFiles().sort()).toEqual([`${key}.lock`, `${key}.lock.owner`]);
    expect(await canBind(port)).toBe(false);
    const sentAt = performance.now();
    process.kill(pid, signal);
    const result = await running;
    const exitMs = performance.now() - sentAt;
    expectOneLineFailure(result, { error: 'the login was interrupted', hint: null });
    expect(exitMs).toBeLessThan(1000);
    expect(lockFiles()).toEqual([]);
    expect(await canBind(port)).toBe(true);
    expect(entryFiles(cacheDir())).toEqual([]);
  });

  /**
   * Holds the entry's lock in this test while a get-token waits for it; once the preload has left `mark` (the
   * phase the signal is for) and settleMs passed, sends the signal: one error line, exit within 1 s. check runs
   * while the test still holds the lock.
   */
  async function interruptWhileTestHoldsLock(signal: NodeJS.Signals, mark: 'cli' | 'lock', settleMs: number, check: (key: string, marks: string) => void): Promise<void> {
    const marks = join(temp.path, 'marks');
    mkdirSync(marks);
    const key = keyFor();
    const silent = createLogger(0, () => undefined);
    await withCacheLock(cacheDir(), key, { log: silent, maxWaitMs: 5_000, purpose: 'a test holding the lock' }, async () => {
      let pid = 0;
      const running = run(args(LOGIN), { onSpawn: (spawned) => (pid = spawned), env: { NODE_OPTIONS: `--require ${preload(temp.path)}`, PRELOAD_MARKS: marks } });
      await waitFor(mark === 'cli' ? 'the full CLI' : 'the lock module', () => existsSync(join(marks, mark)));
      await sleep(settleMs);
      const sentAt = performance.now();
      process.kill(pid, signal);
      const result = await running;
      const exitMs = performance.now() - sentAt;
      expectOneLineFailure(result, { error: `interrupted by ${signal}`, hint: null });
      expect(exitMs).toBeLessThan(1000);
      check(key, marks);
    });
  }

  it('SIGTERM while the full CLI waits for the lock another process holds: that lock is left alone', async () => {
    // The small entry waits for the holder for a second, then hands over to the full CLI, which waits on.
    await interruptWhileTestHoldsLock('SIGTERM', 'cli', 200, (key) => {
      // The holder's lock and its owner file are still there.
      expect(lockFiles().sort()).toEqual([`${key}.lock`, `${key}.lock.owner`]);
      expect(JSON.parse(readFileSync(join(cacheDir(), `${key}.lock.owner`), 'utf8'))).toMatchObject({ pid: process.pid });
    });
    expect(lockFiles()).toEqual([]);
  });

  it('SIGINT while the small entry waits for the lock another process holds', async () => {
    await interruptWhileTestHoldsLock('SIGINT', 'lock', 100, (key, marks) => {
      expect(existsSync(join(marks, 'cli'))).toBe(false);
      expect(lockFiles().sort()).toEqual([`${key}.lock`, `${key}.lock.owner`]);
    });
  });

  it('SIGTERM while the full CLI is being loaded, the small entry holding the lock: the CLI takes it over and lets it go', async () => {
    const result = await run(args(LOGIN), { env: { NODE_OPTIONS: `--require ${preload(temp.path)}`, PRELOAD_SIGNAL_AT_CLI: 'SIGTERM' } });
    expectOneLineFailure(result, { error: 'interrupted by SIGTERM', hint: null });
    expect(idp.counts.requests).toBe(0);
    expect(lockFiles()).toEqual([]);
  });

  describe('while a request to the provider is in flight', () => {
    let silentServer: Server;
    let issuer: string;
    const sockets = new Set<Socket>();
    let requests = 0;
    beforeAll(async () => {
      silentServer = createHttpServer(() => (requests += 1));
      silentServer.on('connection', (socket: Socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
      issuer = `http://127.0.0.1:${(silentServer.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silentServer.close(() => resolve()));
    });

    it('SIGINT during discovery that gets no answer: no 30 s wait', async () => {
      let pid = 0;
      requests = 0;
      const running = run(args(LOGIN, cacheDir(), issuer), { onSpawn: (spawned) => (pid = spawned) });
      await waitFor('the discovery request', () => requests > 0);
      const key = keyFor(cacheDir(), issuer);
      expect(lockFiles().sort()).toEqual([`${key}.lock`, `${key}.lock.owner`]);
      const sentAt = performance.now();
      process.kill(pid, 'SIGINT');
      const result = await running;
      const exitMs = performance.now() - sentAt;
      expectOneLineFailure(result, { error: 'interrupted by SIGINT', hint: null });
      expect(exitMs).toBeLessThan(1000);
      expect(lockFiles()).toEqual([]);
    });
  });
});

describe('a crash between writing a cache entry\'s temp file and renaming it', () => {
  it('leaves the previous entry byte for byte, still served; the complete temp file is ignored by get-token and status, and removed by clean', async () => {
    const first = await run(args(LOGIN));
    expect(first.code, first.stderr).toBe(0);
    const before = onlyEntry(cacheDir());
    idp.resetCounts();
    const crashed = await run(args([...LOGIN, '--force-refresh']), { env: { NODE_OPTIONS: `--require ${preload(temp.path)}`, PRELOAD_KILL_AT_ENTRY_RENAME: '1' } });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    expect(crashed.stdout).toBe('');
    // It had refreshed: the new tokens were written, fsynced, and not yet renamed into place.
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(onlyEntry(cacheDir()).bytes.equals(before.bytes)).toBe(true);
    const temps = readdirSync(cacheDir()).filter((name) => /^\.[0-9a-f]{32}\.\d+\.[0-9a-z]+\.tmp$/.test(name));
    expect(temps).toHaveLength(1);
    const stray = JSON.parse(readFileSync(join(cacheDir(), temps[0] ?? ''), 'utf8')) as Record<string, unknown>;
    expect(stray['format']).toBe('kubectl-oidc-login/v1');
    expect(stray['saved_at']).not.toBe((JSON.parse(before.bytes.toString()) as Record<string, unknown>)['saved_at']);

    // The previous token is still served from the cache, without any request.
    idp.resetCounts();
    const hit = await run(args(LOGIN));
    expect(hit.code, hit.stderr).toBe(0);
    expect(hit.stderr).toBe('');
    expect(parseCredential(hit).status.token).toBe(parseCredential(first).status.token);
    expect(idp.counts.requests).toBe(0);

    const status = await run(['status', `--token-cache-dir=${cacheDir()}`, '--output=json']);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { entries: unknown[]; unreadable: unknown[] };
    expect(report.entries).toHaveLength(1);
    expect(report.unreadable).toEqual([]);
    expect(status.stdout).not.toContain(temps[0]);

    const clean = await run(['clean', `--token-cache-dir=${cacheDir()}`]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(existsSync(cacheDir())).toBe(false);
  });
});

/**
 * Root ignores file modes, so where the tests run as root, a read-only directory is a read-only bind mount in a
 * private mount namespace (unshare), and a full one a small tmpfs filled up: real EROFS and ENOSPC. Without root,
 * chmod makes the directory read-only, and the mounts need a user namespace.
 */
const isRoot = process.getuid?.() === 0;
const NAMESPACE = isRoot ? ['--mount', '--propagation', 'private'] : ['--user', '--map-root-user', '--mount'];
const haveNamespaces = ((): boolean => {
  const probe = makeTempDir('mount-probe-');
  try {
    return spawnSync('unshare', [...NAMESPACE, 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', probe.path], { stdio: 'ignore' }).status === 0;
  } finally {
    probe.remove();
  }
})();

/** Runs `sh -c script` in a private mount namespace: $0 is the first of scriptArgs, "$@" the rest; the plugin is $PLUGIN. */
function runInNamespace(script: string, scriptArgs: string[]): Promise<PluginRun> {
  const env: Record<string, string | undefined> = { ...process.env, ...ENV, KUBERNETES_EXEC_INFO: undefined, PLUGIN: PLUGIN_BIN };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', [...NAMESPACE, 'sh', '-c', script, ...scriptArgs], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started });
    });
  });
}

const NOT_CACHED = (code: string): RegExp => new RegExp(`^warning: could not write the token cache \\S+: ${code}: .+; the token is not cached$`);

/** A token on stdout, exit 0, and on stderr the warning, once, and nothing else (but the login URL, for a login). */
function expectTokenWithOneWarning(result: PluginRun, warning: RegExp): string {
  expect(result.code, result.stderr).toBe(0);
  const token = parseCredential(result).status.token;
  const lines = result.stderr.trimEnd().split('\n').filter((line) => !/^Please visit the following URL in your browser: \S+$/.test(line));
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(warning);
  return token;
}

describe('a cache directory that cannot be written: the token is still printed, with one warning', () => {
  it.skipIf(isRoot && !haveNamespaces)(`read-only (${isRoot ? 'a read-only bind mount, as root' : 'chmod 0500'}): a refresh is printed, the previous entry stays, no lock or temp file is left`, async () => {
    const first = await run(args(LOGIN));
    expect(first.code, first.stderr).toBe(0);
    const before = onlyEntry(cacheDir());
    idp.resetCounts();
    let result: PluginRun;
    if (isRoot) {
      result = await runInNamespace('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$PLUGIN" "$@"', [cacheDir(), ...args([...LOGIN, '--force-refresh'])]);
    } else {
      chmodSync(cacheDir(), 0o500);
      try {
        result = await run(args([...LOGIN, '--force-refresh']));
      } finally {
        chmodSync(cacheDir(), 0o700);
      }
    }
    expectTokenWithOneWarning(result, NOT_CACHED(isRoot ? 'EROFS' : 'EACCES'));
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(onlyEntry(cacheDir()).bytes.equals(before.bytes)).toBe(true);
    expect(readdirSync(cacheDir()).filter((name) => name.endsWith('.tmp') || name.includes('.lock'))).toEqual([]);
  });

  it.skipIf(!haveNamespaces)('full (ENOSPC: a tmpfs filled up): a refresh is printed, the previous entry stays, no lock or temp file is left', async () => {
    const first = await run(args(LOGIN));
    expect(first.code, first.stderr).toBe(0);
    const before = onlyEntry(cacheDir());
    const full = join(temp.path, 'full');
    const out = join(temp.path, 'out');
    mkdirSync(full);
    mkdirSync(out);
    idp.resetCounts();
    // The cache (entry and provider metadata) copied onto a 64 KiB tmpfs, the rest of it filled with zeros; after
    // the run, the entry and the listing are copied out (the tmpfs goes with the namespace).
    const script = [
      'set -e',
      'mount -t tmpfs -o size=64k,mode=0700 tmpfs "$0"',
      `cp -p "${cacheDir()}"/* "$0"/`,
      'dd if=/dev/zero of="$0/filler" bs=1024 2>/dev/null || true',
      `if printf x 2>/dev/null > "$0/probe"; then echo "the tmpfs is not full" >&2; exit 99; fi`,
      'set +e',
      '"$PLUGIN" "$@"; code=$?',
      `cp "$0/${before.path.split('/').pop() ?? ''}" "${out}/entry"; ls -A "$0" > "${out}/listing"`,
      'exit $code',
    ].join('\n');
    const result = await runInNamespace(script, [full, ...args([...LOGIN, '--force-refresh'], full)]);
    expectTokenWithOneWarning(result, NOT_CACHED('ENOSPC'));
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(readFileSync(join(out, 'entry')).equals(before.bytes)).toBe(true);
    // The entry, the provider metadata, and the test's own two files: no lock, owner or temp file is left.
    const listing = readFileSync(join(out, 'listing'), 'utf8').trim().split('\n');
    expect(listing.filter((name) => !/^provider-[0-9a-f]{32}\.json$/.test(name)).sort(), listing.join(' ')).toEqual([before.path.split('/').pop(), 'filler', 'probe'].sort());
    expect(listing).toHaveLength(4);
  });

  it('cannot be created (a file where a parent directory should be): a login is printed, nothing else is left', async () => {
    writeFileSync(join(temp.path, 'file'), '');
    const dir = join(temp.path, 'file', 'cache');
    const result = await run(args(LOGIN, dir));
    expectTokenWithOneWarning(result, NOT_CACHED('ENOTDIR'));
    expect(readFileSync(join(temp.path, 'file'), 'utf8')).toBe('');
  });
});

describe('a lock holder killed with SIGKILL mid-login (started with the first test)', () => {
  function expectRecovered(run: KilledHolder, waitingFor: RegExp): void {
    expect(run.holder.signal).toBe('SIGKILL');
    expect(run.locksAfterKill.some((name) => name.endsWith('.lock'))).toBe(true);
    expect(run.next.code, run.next.stderr).toBe(0);
    parseCredential(run.next);
    expect(run.next.stderr).toMatch(waitingFor);
    expect(run.next.durationMs).toBeLessThan(15_000);
    expect(lockFiles(run.dir)).toEqual([]);
    expect(entryFiles(run.dir)).toHaveLength(1);
  }

  it('while waiting for the browser: the next invocation, started after the kill, takes the lock over within 15 s and logs in', async () => {
    const recovered = await (killed.whileWaitingForBrowser as Promise<KilledHolder>);
    expect(recovered.locksAfterKill).toHaveLength(2);
    expectRecovered(recovered, /^waiting for the lock of kubectl-oidc_login \(pid \d+, getting a token since \S+\), which is no longer running, to expire \(lock \S+\.lock\)$/m);
  });

  it('in the small entry, holding the lock before the full CLI loaded: the same, though no owner file names it', async () => {
    const recovered = await (killed.inSmallEntry as Promise<KilledHolder>);
    expect(recovered.locksAfterKill).toHaveLength(1);
    expectRecovered(recovered, /^waiting for another kubectl-oidc_login process \(lock \S+\.lock\)$/m);
  });

  it('after opening a browser: the lock is taken over within 15 s, then the browser-tab guard refuses a second tab at once, saying why (by design; --browser-retry-cooldown-sec=0 logs in, concurrency.test.ts)', async () => {
    const recovered = await (killed.afterOpeningBrowser as Promise<KilledHolder>);
    expect(recovered.holder.signal).toBe('SIGKILL');
    expect(recovered.locksAfterKill).toHaveLength(2);
    expectOneLineFailure(recovered.next, {
      error: /^a browser login for this provider was started \d+ s ago and did not complete \(its process ended without finishing it\); not opening another browser tab for \d+ s$/,
      hint: /^to open a browser now, delete \S+\.login \("kubectl oidc-login clean" deletes it too\) or pass --browser-retry-cooldown-sec=0$/,
      alsoAllowed: [/^waiting for the lock of kubectl-oidc_login \(pid \d+, getting a token since \S+\), which is no longer running, to expire \(lock \S+\.lock\)$/],
    });
    expect(recovered.next.durationMs).toBeLessThan(15_000);
    expect(lockFiles(recovered.dir)).toEqual([]);
  });
});
