/**
 * One lock per cache key, held from the cache read through refresh or login to the cache write, so that
 * concurrent kubectl processes log in once and never refresh with the same rotating refresh token twice.
 *
 * The lock itself is cache-lock.ts (proper-lockfile: an atomic mkdir of `<key>.lock`, kept fresh, taken over
 * when stale); a lock the executable's entry already took for this process is adopted, not taken again. The
 * lock directory carries no data, so the holder records its pid in the sidecar `<key>.lock.owner`, which a
 * waiter names in its message.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { PluginError } from '../core/errors.js';
import { readCacheFile } from './atomic-file.js';
import type { Logger } from './log.js';
import { cacheLockPath, takeCacheLock, takeHandedOverLock, type ReleaseLock } from './cache-lock.js';

/** A waiter says whom it waits for after this long. */
const WAIT_NOTICE_MS = 1_000;

export interface LockOptions {
  log: Logger;
  /** Give up waiting after this long: a holder may be waiting for a person to finish a browser login. */
  maxWaitMs: number;
  /** What the holder is doing, for waiters' messages. */
  purpose: string;
  /** Ends the wait for another holder at once: the call rejects with its reason (SIGINT, SIGTERM: cli/main.ts). */
  signal?: AbortSignal;
  /**
   * Run the work without the lock when it cannot be taken because the cache directory cannot be written (read-only,
   * full, no permission, not a directory): get-token still gets a token, which it cannot cache either.
   */
  unlockedIfUnwritable?: boolean;
}

/** The errors of a directory nothing can be created in. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR']);

interface LockOwner {
  pid: number;
  since: string;
  purpose: string;
}

export async function withCacheLock<T>(dir: string, key: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const lockPath = cacheLockPath(dir, key);
  const ownerPath = `${lockPath}.owner`;
  let release: ReleaseLock | undefined = takeHandedOverLock(lockPath);
  if (release === undefined) release = await lockWaiting(dir, key, lockPath, options);
  if (release === undefined) return work();
  try {
    writeOwner(ownerPath, { pid: process.pid, since: new Date().toISOString(), purpose: options.purpose });
    return await work();
  } finally {
    removeQuietly(ownerPath);
    await release().catch((error: Error) => options.log.debug(`could not release the lock ${lockPath}: ${error.message}`));
  }
}

/** The lock, or undefined when the directory cannot be written and options.unlockedIfUnwritable. */
async function lockWaiting(dir: string, key: string, lockPath: string, options: LockOptions): Promise<ReleaseLock | undefined> {
  const ownerPath = `${lockPath}.owner`;
  const notice = setTimeout(() => options.log.info(`waiting for ${describeOwner(ownerPath)} (lock ${lockPath})`), WAIT_NOTICE_MS);
  try {
    const locking = takeCacheLock(dir, key, options.maxWaitMs, (message) => options.log.warn(message));
    return await (options.signal === undefined ? locking : untilAborted(locking, options.signal));
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    const code = (error as NodeJS.ErrnoException).code;
    if (options.unlockedIfUnwritable && code !== undefined && UNWRITABLE.has(code)) {
      // The cache write that follows fails too, and says so (one warning); here only at -v1.
      options.log.debug(`could not lock the token cache ${lockPath} (${(error as Error).message}): going on without the lock`);
      return undefined;
    }
    if (code === 'ELOCKED') {
      throw new PluginError('ERR_LOCK', `gave up after ${Math.round(options.maxWaitMs / 1000)} s waiting for ${describeOwner(ownerPath)}`, {
        hint: `if no other kubectl-oidc_login is running, remove ${lockPath}`,
        cause: error,
      });
    }
    throw new PluginError('ERR_LOCK', `could not lock the token cache ${lockPath}: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(notice);
  }
}

/** The lock, or a rejection with the signal's reason as soon as it aborts; a lock taken after that is let go at once. */
function untilAborted(locking: Promise<ReleaseLock>, signal: AbortSignal): Promise<ReleaseLock> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      locking.then((release) => release().catch(() => undefined), () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    locking.then(
      (release) => {
        signal.removeEventListener('abort', onAbort);
        resolve(release);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function writeOwner(path: string, owner: LockOwner): void {
  try {
    // Never through a symlink: whatever is at the path (a dead holder's file, or a link) is removed (the lock is ours),
    // and the file is created anew with 'wx' (O_EXCL fails on any existing name, and never follows a link).
    removeQuietly(path);
    writeFileSync(path, JSON.stringify(owner), { mode: 0o600, flag: 'wx' });
  } catch {
    // Only waiters' messages depend on it.
  }
}

function describeOwner(ownerPath: string): string {
  let owner: Partial<LockOwner>;
  try {
    owner = JSON.parse(readCacheFile(ownerPath)) as Partial<LockOwner>;
  } catch {
    return 'another kubectl-oidc_login process';
  }
  const pid = typeof owner.pid === 'number' ? owner.pid : undefined;
  if (pid === undefined) return 'another kubectl-oidc_login process';
  const what = `kubectl-oidc_login (pid ${pid}${owner.purpose ? `, ${owner.purpose}` : ''}${owner.since ? ` since ${owner.since}` : ''})`;
  return isRunning(pid) ? what : `the lock of ${what}, which is no longer running, to expire`;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
