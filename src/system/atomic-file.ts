/** Replacing a file atomically (temp file, fsync, rename), mode 0600, in a 0700 directory. */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Creates dir with mode 0700, and tightens it if it exists with wider permissions. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * Writes text to path so that readers, and a crash at any point, see either the old file or the new one.
 * Throws the underlying error; the temp file is removed on failure.
 */
export function writeFileAtomically(path: string, text: string): void {
  const dir = dirname(path);
  ensurePrivateDir(dir);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    // 'wx' never follows or reuses an existing file; the mode is set at creation.
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
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
