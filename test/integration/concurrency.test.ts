/**
 * Many kubectl processes at once: one login per cache key, one refresh per rotating refresh token,
 * and recovery from a lock whose holder was killed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { withCacheLock } from '../../src/system/file-lock.js';
import { createLogger } from '../../src/system/log.js';
import { HOLDER_WAIT_MS } from '../../src/system/cache-lock.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin } from '../support/plugin.js';

const idp = useIdentityProvider({ idTokenTtlSec: 3 });
const temp = useTempDir();

function args(extra: string[] = [], browser = FAKE_BROWSER): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${idp.issuer}`,
    `--oidc-client-id=${idp.clientId}`,
    '--oidc-extra-scope=email,groups',
    `--token-cache-dir=${join(temp.path, 'cache')}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${browser}`,
    ...extra,
  ];
}

interface LoadRecord {
  pid: number;
  /** Whether the process loaded the full CLI (dist/cli.cjs). */
  cli: boolean;
  /** The cache directory's lock directories at that moment. */
  locksWhenCliLoaded?: string[];
  /** From the preload to the exit. */
  lifetimeMs: number;
  script: string;
}

/**
 * A --require preload (NODE_OPTIONS) that writes a LoadRecord per process into dir: whether the process loaded
 * the full CLI and which locks existed in cacheDir when it did. Only the plugin's processes are kept (the fake
 * browser is a node process too).
 */
function useLoadRecorder(dir: string, cacheDir: string): { env: Record<string, string>; records: () => LoadRecord[] } {
  const preload = join(dir, 'record-loads.cjs');
  writeFileSync(preload, `
const fs = require('fs'), Module = require('module'), started = Date.now();
const record = { pid: process.pid, cli: false, script: process.argv[1] };
const load = Module._load;
Module._load = function (request, ...rest) {
  if (!record.cli && /cli\.cjs$/.test(request)) {
    record.cli = true;
    record.locksWhenCliLoaded = fs.readdirSync(${JSON.stringify(cacheDir)}).filter((name) => name.endsWith('.lock'));
  }
  return load.call(this, request, ...rest);
};
process.on('exit', () => {
  record.lifetimeMs = Date.now() - started;
  fs.writeFileSync(${JSON.stringify(dir)} + '/loads-' + process.pid + '.json', JSON.stringify(record));
});
`);
  return {
    env: { NODE_OPTIONS: `--require ${preload}` },
    records: () =>
      readdirSync(dir)
        .filter((name) => name.startsWith('loads-'))
        .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as LoadRecord)
        .filter((record) => record.script.endsWith('kubectl-oidc_login')),
  };
}

describe('concurrent get-token', () => {
  it('a cache miss while another process holds the lock waits in the small entry and is served from the entry the holder writes, without loading the full CLI', async () => {
    const first = await runPlugin(args());
    expect(first.code, first.stderr).toBe(0);
    const cacheDir = join(temp.path, 'cache');
    const [entryName] = readdirSync(cacheDir).filter((name) => /^[0-9a-f]{32}$/.test(name));
    const entryPath = join(cacheDir, entryName ?? '');
    const saved = readFileSync(entryPath);
    unlinkSync(entryPath);
    const record = join(temp.path, 'loaded.json');
    const preload = join(temp.path, 'record.cjs');
    writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(Object.keys(require.cache))));`);
    idp.resetCounts();
    const silent = createLogger(0, () => {});
    const { child } = await withCacheLock(cacheDir, entryName ?? '', { log: silent, maxWaitMs: 5_000, purpose: 'a test holding the lock' }, async () => {
      const child = promisify(execFile)(process.execPath, ['--require', preload, join(REPO_ROOT, 'dist', 'kubectl-oidc_login.cjs'), ...args()], { env: { ...process.env, KUBERNETES_EXEC_INFO: '' } });
      await new Promise((resolve) => setTimeout(resolve, 150));
      // The holder's result lands before it releases the lock, as get-token writes the entry under the lock.
      writeFileSync(entryPath, saved, { mode: 0o600 });
      return { child };
    });
    const waiter = await child;
    expect(JSON.parse(waiter.stdout) as { status: { token: string } }).toMatchObject({ status: { token: parseCredential(first).status.token } });
    expect(waiter.stderr).toBe('');
    expect((JSON.parse(readFileSync(record, 'utf8')) as string[]).some((path) => path.endsWith('cli.cjs'))).toBe(false);
    expect(idp.counts.requests).toBe(0);
  });

  it('16 parallel cold invocations make exactly one authorization and all print the same token; the others wait for it without loading the full CLI', async () => {
    const cacheDir = join(temp.path, 'cache');
    mkdirSync(cacheDir, { mode: 0o700 });
    const recorder = useLoadRecorder(temp.path, cacheDir);
    const runs = await Promise.all(Array.from({ length: 16 }, () => runPlugin(args(), { env: recorder.env })));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const tokens = new Set(runs.map((run) => parseCredential(run).status.token));
    expect(tokens.size).toBe(1);
    expect(idp.counts.authorizations).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
    const records = recorder.records();
    expect(records).toHaveLength(16);
    // One process loaded the CLI, holding the lock it took in the small entry. Any other did so only after
    // waiting HOLDER_WAIT_MS for that holder (a machine too slow to log in within it).
    const loaders = records.filter((record) => record.cli).sort((a, b) => b.lifetimeMs - a.lifetimeMs);
    expect(loaders.length, JSON.stringify(records)).toBeGreaterThanOrEqual(1);
    for (const record of loaders.slice(1)) expect(record.lifetimeMs, JSON.stringify(records)).toBeGreaterThan(HOLDER_WAIT_MS);
    for (const record of loaders) expect(record.locksWhenCliLoaded).toHaveLength(1);
  });

  it('a cold miss takes the lock before loading the full CLI, which logs in under it; a waiter whose holder gave up without a token logs in itself', async () => {
    const cacheDir = join(temp.path, 'cache');
    mkdirSync(cacheDir, { mode: 0o700 });
    const recorder = useLoadRecorder(temp.path, cacheDir);
    const alone = await runPlugin(args(), { env: recorder.env });
    expect(alone.code, alone.stderr).toBe(0);
    expect(recorder.records()).toMatchObject([{ cli: true, locksWhenCliLoaded: [expect.stringMatching(/^[0-9a-f]{32}\.lock$/)] }]);
    expect(readdirSync(cacheDir).filter((name) => name.includes('.lock'))).toEqual([]);
    expect(idp.counts.authorizations).toBe(1);

    // A holder (this test) that releases the lock after 300 ms without writing a token: the waiter, in the small
    // entry until then, takes the lock and logs in.
    const [entryName] = readdirSync(cacheDir).filter((name) => /^[0-9a-f]{32}$/.test(name));
    unlinkSync(join(cacheDir, entryName ?? ''));
    idp.resetCounts();
    const silent = createLogger(0, () => {});
    const waiter = await withCacheLock(cacheDir, entryName ?? '', { log: silent, maxWaitMs: 5_000, purpose: 'a test holding the lock' }, async () => {
      const waiter = runPlugin(args(), { env: recorder.env });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(idp.counts.requests).toBe(0);
      return { waiter };
    });
    const run = await waiter.waiter;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('waiting for');
    parseCredential(run);
    expect(idp.counts.authorizations).toBe(1);
    expect(readdirSync(cacheDir).filter((name) => name.includes('.lock'))).toEqual([]);
  });

  it('parallel refreshes with a rotating refresh token make one refresh grant and no invalid_grant', async () => {
    const first = await runPlugin(args());
    expect(first.code, first.stderr).toBe(0);
    // Wait until the token is inside its margin (half of the 3 s lifetime).
    await new Promise((resolve) => setTimeout(resolve, 1600));
    idp.resetCounts();
    const runs = await Promise.all(Array.from({ length: 8 }, () => runPlugin(args())));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(new Set(runs.map((run) => parseCredential(run).status.token)).size).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(idp.counts.tokenErrors).toEqual({});
    expect(idp.counts.authorizations).toBe(0);
  });

  it('a waiter says which process it waits for, and a lock left by a killed process is recovered within 15 s', async () => {
    // The holder opens a "browser" that never logs in (/bin/true), so it holds the lock waiting for the callback.
    let holderPid = 0;
    const holder = runPlugin(args(['--authentication-timeout-sec=60'], '/bin/true'), { onSpawn: (pid) => (holderPid = pid) });
    const lockDir = join(temp.path, 'cache');
    const deadline = Date.now() + 10_000;
    while (!(existsSync(lockDir) && (await import('node:fs')).readdirSync(lockDir).some((name) => name.endsWith('.lock.owner'))) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The killed holder's browser login did not complete: without this the browser-tab guard refuses to open another.
    const waiter = runPlugin(args(['--browser-retry-cooldown-sec=0']));
    // The waiter waits HOLDER_WAIT_MS (1 s) in the small entry, then the full CLI names the holder after 1 s of waiting.
    await new Promise((resolve) => setTimeout(resolve, HOLDER_WAIT_MS + 2500));
    process.kill(holderPid, 'SIGKILL');
    const killedAt = Date.now();
    const held = await holder;
    expect(held.signal).toBe('SIGKILL');
    const run = await waiter;
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(run.stderr).toContain(`waiting for kubectl-oidc_login (pid ${holderPid}, getting a token since `);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  });
});
