/**
 * The lock of one cache entry, `<dir>/<key>.lock`, through proper-lockfile: an atomic mkdir whose mtime the
 * holder keeps fresh; a lock untouched for STALE_MS belongs to a dead process and is taken over.
 *
 * This module is its own bundle, dist/lock.cjs (scripts/build.mjs), shared by the executable's small entry and
 * the full CLI through Node's module cache. On a cache miss the entry takes the lock itself before it loads
 * the full CLI (cli/entry.ts), so that of many parallel cold invocations only the one that will log in pays
 * for loading it; it hands the held lock over with handOverLock, and file-lock.ts's withCacheLock adopts it
 * with takeHandedOverLock instead of locking again. Errors are proper-lockfile's own (code ELOCKED when held):
 * file-lock.ts turns them into the plugin's messages.
 */
import { lstatSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { ensurePrivateDir } from './atomic-file.js';

/** A lock untouched this long belongs to a dead process. The holder refreshes it every UPDATE_MS. */
export const STALE_MS = 10_000;
const UPDATE_MS = 2_000;

export type ReleaseLock = () => Promise<void>;

/** What the CLI's logger would print at level 0 (system/log.ts warn), for a lock taken before it exists. */
function warnOnStderr(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

export function cacheLockPath(dir: string, key: string): string {
  return join(dir, `${key}.lock`);
}

/**
 * Takes the lock, waiting up to maxWaitMs with a short, randomised, capped back-off (waiters queue behind one
 * holder, libraries.md §5.2), or not at all with maxWaitMs 0. Rejects with proper-lockfile's ELOCKED error when
 * still held then; creates dir (0700) first. `warn` hears of a held lock that was lost (its directory removed, or taken over as stale).
 */
export async function takeCacheLock(dir: string, key: string, maxWaitMs: number, warn: (message: string) => void = warnOnStderr): Promise<ReleaseLock> {
  const lockPath = cacheLockPath(dir, key);
  ensurePrivateDir(dir);
  removeNonDirectory(lockPath);
  const options: lockfile.LockOptions = {
    realpath: false,
    lockfilePath: lockPath,
    stale: STALE_MS,
    update: UPDATE_MS,
    retries: 0,
    onCompromised: (error) => warn(`lost the token cache lock ${lockPath}: ${error.message}`),
  };
  // proper-lockfile retries any error, and a directory that cannot be written (EROFS, EACCES, ENOSPC) would be
  // tried for all of maxWaitMs: only a lock held by another process is waited for.
  try {
    return await lockfile.lock(join(dir, key), options);
  } catch (error) {
    if (maxWaitMs <= 0 || (error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
  }
  return lockfile.lock(join(dir, key), {
    ...options,
    // `retry` precomputes one timeout per retry, so a huge count costs ~150 ms up front: 20 steps reach the
    // 500 ms cap, `forever` repeats the last one, and maxRetryTime bounds the wait.
    retries: { retries: 20, forever: true, factor: 1.2, minTimeout: 25, maxTimeout: 500, randomize: true, maxRetryTime: maxWaitMs },
  });
}

/**
 * How long a miss waits in the small entry for another process's login or refresh before handing over to the
 * full CLI, which then waits on, saying for whom (file-lock.ts).
 */
export const HOLDER_WAIT_MS = 1_000;
const HOLDER_POLL_MS = 10;

/** How waitForLockHolder ended. */
export type HolderWait = 'released' | 'stale' | 'still-held';

/**
 * Waits, in the small entry (cli/lock-first.ts), while another process holds the entry's lock (parallel kubectl commands after
 * expiry, kubectl's version dispatcher), polling only the lock's stat: the holder writes the entry before it
 * releases the lock, so 'released' means the cache may now answer. Loading the full CLI only to queue on the
 * lock would cost each waiter ~25 ms of CPU, and 31 waiters on 2 cores delay the one login they all wait for
 * (npm run bench: 32 parallel cold invocations). 'stale': the holder died (the lock may be taken over);
 * 'still-held' after maxWaitMs.
 */
export async function waitForLockHolder(lockPath: string, maxWaitMs: number = HOLDER_WAIT_MS): Promise<HolderWait> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    let lockTouchedMs: number;
    try {
      lockTouchedMs = statSync(lockPath).mtimeMs;
    } catch {
      return 'released';
    }
    if (Date.now() - lockTouchedMs > STALE_MS) return 'stale';
    if (Date.now() >= deadline) return 'still-held';
    // On a timer, not blocking the thread (Atomics.wait): a SIGINT or SIGTERM is handled at once (exitOnInterrupt).
    await new Promise((resolve) => setTimeout(resolve, HOLDER_POLL_MS));
  }
}

/**
 * SIGINT and SIGTERM in the small entry (cli/entry.ts), while it waits for or holds an entry's lock before the full
 * CLI, which handles them itself, is loaded: one error line and exit code 1, as the CLI; a lock held is removed at
 * the exit (proper-lockfile removes its locks in an exit handler). Returns the function that removes the handlers.
 */
export function exitOnInterrupt(): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`error: interrupted by ${signal}\n`);
    process.exit(1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/**
 * A lock is always a directory (made by mkdir). Anything else at its name, a symlink (to a directory outside the cache,
 * say) or a file, is no lock, and the lock library, unable to remove it with rmdir, would retry until the wait runs out:
 * it is unlinked, which removes a link itself, never its target (and never a directory, should one appear meanwhile).
 */
function removeNonDirectory(path: string): void {
  try {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats !== undefined && !stats.isDirectory()) unlinkSync(path);
  } catch {
    // gone meanwhile, or a directory by now: the lock library decides
  }
}

/**
 * Locks taken before the full CLI was loaded, by lock path, until the CLI adopts them. Kept on globalThis: the
 * standalone executable's main script and its CLI asset each bundle their own copy of this module (dist/ shares one,
 * dist/lock.cjs), and a release function works whichever copy calls it.
 */
const HANDED_OVER = Symbol.for('kubectl-oidc-login.handed-over-locks');
const handedOver: Map<string, ReleaseLock> = ((globalThis as Record<symbol, unknown>)[HANDED_OVER] ??= new Map()) as Map<string, ReleaseLock>;

export function handOverLock(lockPath: string, release: ReleaseLock): void {
  handedOver.set(lockPath, release);
}

/** The release of a lock this process already holds (handed over by the entry), once; else undefined. */
export function takeHandedOverLock(lockPath: string): ReleaseLock | undefined {
  const release = handedOver.get(lockPath);
  handedOver.delete(lockPath);
  return release;
}
