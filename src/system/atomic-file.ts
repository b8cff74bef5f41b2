/** Replacing files atomically (temp file, fsync, rename); the token cache's files are 0600 in a 0700 directory. */
import { chmodSync, closeSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Creates dir with mode 0700, and tightens it if it exists with wider permissions. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** Writes text to path (0600) in a private directory, atomically: see replaceFileAtomically. */
export function writeFileAtomically(path: string, text: string): void {
  ensurePrivateDir(dirname(path));
  replaceFileAtomically(path, text);
}

export interface NewFileOptions {
  /** Default 0600; applied exactly, whatever the umask. */
  mode?: number;
  /** Give the file to this owner when run as another user (root); otherwise it stays ours. */
  owner?: { uid: number; gid: number };
}

/**
 * Writes data to path so that readers, and a crash at any point, see either the old file or the new one. The
 * directory is left as it is. Throws the underlying error; the temp file is removed on failure.
 */
export function replaceFileAtomically(path: string, data: string | Buffer, options: NewFileOptions = {}): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    createFileExclusively(temp, data, options);
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already gone
    }
    throw error;
  }
}

/** Creates path ('wx': never follows or reuses an existing file, EEXIST if there is one), writes and fsyncs data. */
export function createFileExclusively(path: string, data: string | Buffer, options: NewFileOptions = {}): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    const { owner } = options;
    if (owner !== undefined && process.getuid?.() !== owner.uid) {
      try {
        fchownSync(fd, owner.uid, owner.gid);
      } catch {
        // only root can give a file away; the file then belongs to us
      }
    }
    fchmodSync(fd, options.mode ?? 0o600);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The largest file of the token cache that is read at all (entries, provider metadata, markers, lock owners). */
export const MAX_CACHE_FILE_BYTES = 1024 * 1024;

/**
 * Reads a file of the token cache as UTF-8, but only a regular file of at most maxBytes: anything else throws
 * without being opened (a FIFO would block the open, a device such as a link to /dev/zero never ends, and a huge
 * file would stall the command and its memory). Missing: the file system's ENOENT error. Symlinks are followed
 * for reading (token-store.ts says why); nothing is ever written through one (replaceFileAtomically).
 */
export function readCacheFile(path: string, maxBytes: number = MAX_CACHE_FILE_BYTES): string {
  const stats = statSync(path);
  if (!stats.isFile()) throw new Error(`${path} is not a regular file`);
  if (stats.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
  return readFileSync(path, 'utf8');
}
