/**
 * The cache-hit bundle (dist/hit.cjs, CommonJS), run by the installed command dist/kubectl-oidc_login.cjs
 * (cli/launch.ts) from V8's code cache. It holds only the cache-hit path; the full CLI (commander,
 * openid-client) is the separate bundle dist/cli.cjs, and the entry lock (proper-lockfile) dist/lock.cjs, each
 * required only on a miss.
 */
import { writeSync } from 'node:fs';
import { serveFromCache, waitForLockHolder, type MissProbe } from './cache-hit.js';

type CacheLock = typeof import('../system/cache-lock.js');
// The CommonJS require of the bundle; './cli.cjs' and './lock.cjs' are left external by scripts/build.mjs.
declare const require: ((id: './cli.cjs') => { main(): Promise<void> }) & ((id: './lock.cjs') => CacheLock);

/** Rounds of "the lock is held: wait for the holder, find no token, try to lock" before the full CLI takes over. */
const LOCK_ROUNDS = 3;

const argv = process.argv.slice(2);
const probe: MissProbe = {};
const output = serveFromCache(argv, process.env, Date.now(), probe);
if (output !== undefined) print(output);
else if (probe.entry === undefined) loadCli();
else void lockThenLoadCli(probe.entry.dir, probe.entry.key);

function print(line: string): never {
  // fs.writeSync on fd 1: no stdout stream to create, and the line is out before the process exits. Nothing is
  // left to do: process.exit skips the environment's teardown (about 0.3 ms of every kubectl command).
  writeSync(1, line);
  process.exit(0);
}

function loadCli(): void {
  void require('./cli.cjs').main();
}

/**
 * A miss the cache will answer once the entry is written (no token yet, or an expired one): take the entry's
 * lock here, before loading the full CLI, and hand it over to the CLI (cache-lock.ts). Of many parallel
 * invocations (kubectl in scripts, k9s, kubectl's version dispatcher) the one that gets the lock loads the CLI
 * and logs in or refreshes; the others wait for it here, in a small process, and print what it wrote. Anything
 * else (the lock is held longer than HOLDER_WAIT_MS, the directory cannot be created) leaves it all to the full
 * CLI, which waits and reports with its messages.
 */
async function lockThenLoadCli(dir: string, key: string): Promise<void> {
  const lock = require('./lock.cjs');
  // SIGINT and SIGTERM end this process at once, the lock let go, until the full CLI handles them itself.
  const stopHandlingSignals = lock.exitOnInterrupt();
  const lockPath = lock.cacheLockPath(dir, key);
  for (let round = 0; round < LOCK_ROUNDS; round++) {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lock.takeCacheLock(dir, key, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') break;
    }
    if (release !== undefined) {
      // The holder this process waited for, or one that finished between the cache read and the lock.
      const written = serveFromCache(argv, process.env, Date.now());
      if (written !== undefined) {
        await release().catch(() => undefined);
        print(written);
      }
      lock.handOverLock(lockPath, release);
      break;
    }
    const waited = await waitForLockHolder(lockPath);
    if (waited === 'still-held') break;
    const written = serveFromCache(argv, process.env, Date.now());
    if (written !== undefined) print(written);
    // Released without a usable token (the holder failed), or stale (the holder died): try to lock again.
  }
  // The CLI sets up its own handlers as it starts, before any signal can be handled (its loading is synchronous).
  stopHandlingSignals();
  loadCli();
}
