/**
 * A cache miss in the small entry (cli/entry.ts, and the standalone executable's cli/sea-entry.ts) that the cache
 * will answer once the entry is written (no token yet, or an expired one): take the entry's lock before loading the
 * full CLI, and hand it over to the CLI (system/cache-lock.ts). Of many parallel invocations (kubectl in scripts,
 * k9s, kubectl's version dispatcher) the one that gets the lock loads the CLI and logs in or refreshes; the others
 * wait for it in their small process and print what it wrote. Anything else (the lock is held longer than
 * cache-lock.ts HOLDER_WAIT_MS, the directory cannot be created) leaves it all to the full CLI, which waits and reports with its
 * messages.
 */
import { serveFromCache } from './cache-hit.js';

type CacheLock = typeof import('../system/cache-lock.js');

/** Rounds of "the lock is held: wait for the holder, find no token, try to lock" before the full CLI takes over. */
const LOCK_ROUNDS = 3;

export interface LockFirstMiss {
  argv: readonly string[];
  /** The cache entry the miss was for (MissProbe.entry). */
  entry: { dir: string; key: string };
  /** The lock module, loaded only now. */
  lock: CacheLock;
  /** Prints the ExecCredential line and ends the process. */
  print(line: string): never;
  loadCli(): void;
}

export async function lockThenLoadCli(miss: LockFirstMiss): Promise<void> {
  const { argv, lock, print } = miss;
  const { dir, key } = miss.entry;
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
    const waited = await lock.waitForLockHolder(lockPath);
    if (waited === 'still-held') break;
    const written = serveFromCache(argv, process.env, Date.now());
    if (written !== undefined) print(written);
    // Released without a usable token (the holder failed), or stale (the holder died): try to lock again.
  }
  // The CLI sets up its own handlers as it starts, before any signal can be handled (its loading is synchronous).
  stopHandlingSignals();
  miss.loadCli();
}
