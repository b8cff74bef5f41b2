/**
 * The token cache on disk: one JSON file per cache key in a 0700 directory, each file 0600, replaced
 * atomically (temp file, fsync, rename) so that a reader, or a crash, never sees half a file. A lock-free
 * reader therefore always sees either the old entry or the new one.
 *
 * Symlinks: nothing is ever written through one. Every write creates a new file exclusively ('wx', which never
 * follows a link) and renames it over the name, which replaces a link at that name rather than its target; the lock
 * owner file is removed and created the same way (file-lock.ts). Reading through a link is accepted: the directory is
 * the user's own and private (0700), so whoever can place a link in it can as well write the entry itself, and what is
 * read is checked as any entry is (a regular file within the size limit, the format, the key, issuer and client ID).
 * A cache directory that is itself a link (a symlinked ~/.kube/cache) is used as a directory, and kept private.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCacheEntry, serializeCacheEntry, type CacheEntry } from '../core/cache-entry.js';
import { PluginError } from '../core/errors.js';
import { writeFileAtomically } from './atomic-file.js';

/** Larger files are not read: no real token set comes close, and a huge file must not stall kubectl. */
export const MAX_ENTRY_BYTES = 1024 * 1024;

export type ReadResult = { entry: CacheEntry } | { missing: true } | { problem: string };

export function cacheFilePath(dir: string, key: string): string {
  // What path.join gives for the usual, already normal absolute POSIX directory, without the call (this runs on
  // every cache hit); anything else (., .., doubled or trailing separators, Windows) goes through path.join.
  if (plainPosixDir(dir)) return `${dir}/${key}`;
  return join(dir, key);
}

function plainPosixDir(dir: string): boolean {
  return (
    process.platform !== 'win32' &&
    dir.charCodeAt(0) === 0x2f &&
    !dir.endsWith('/') &&
    !dir.endsWith('/.') &&
    !dir.endsWith('/..') &&
    !dir.includes('//') &&
    !dir.includes('/./') &&
    !dir.includes('/../')
  );
}

/** Entry files are named by their cache key: 32 hex digits (kubelogin's are 64, and are left alone). */
export const ENTRY_FILE_NAME = /^[0-9a-f]{32}$/;

/** Reads the entry for key. A missing file, an unreadable or corrupt one, or one for another key is a miss. */
export function readCacheEntry(dir: string, key: string, expected: { issuer: string; clientId: string }): ReadResult {
  const result = readEntryFile(dir, key);
  if (!('entry' in result)) return result;
  const { entry } = result;
  if (entry.issuer !== expected.issuer || entry.clientId !== expected.clientId) {
    return { problem: `${cacheFilePath(dir, key)} belongs to other provider settings` };
  }
  return { entry };
}

/** Reads and parses the file of key, and checks that the entry records that key. */
function readEntryFile(dir: string, key: string): ReadResult {
  const path = cacheFilePath(dir, key);
  let text: string;
  try {
    // Checked before anything is read (readFileSync reads to the end, whatever the size): not a regular file (a FIFO
    // would block the open, a link to /dev/zero never ends) or over the limit is a miss, as in readCacheFile.
    const stats = statSync(path);
    if (!stats.isFile()) return { problem: `${path} is not a regular file` };
    if (stats.size > MAX_ENTRY_BYTES) return { problem: `${path} is larger than ${MAX_ENTRY_BYTES} bytes` };
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { problem: `cannot read ${path}: ${(error as Error).message}` };
  }
  let entry: CacheEntry;
  try {
    entry = parseCacheEntry(text);
  } catch (error) {
    return { problem: `${path} is not a valid cache entry: ${(error as Error).message}` };
  }
  if (entry.key !== key) return { problem: `${path} records another cache key (${entry.key}): a copied or renamed file` };
  return { entry };
}

export interface ListedEntry {
  /** The path of the entry file. */
  file: string;
  entry: CacheEntry;
}

export interface UnreadableEntry {
  file: string;
  /** Why get-token would not use it, without the path. */
  problem: string;
}

export interface CacheListing {
  entries: ListedEntry[];
  unreadable: UnreadableEntry[];
}

/**
 * Every entry file in dir (the 32-hex-digit names), parsed, in file-name order. A missing directory is an
 * empty cache; a file that get-token would not use (unreadable, corrupt, renamed) is listed with the reason.
 * Reads only: nothing is locked or written, so a concurrent get-token is never held up.
 */
export function listCacheEntries(dir: string): CacheListing {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], unreadable: [] };
    throw new PluginError('ERR_CACHE', `cannot read the token cache directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const listing: CacheListing = { entries: [], unreadable: [] };
  for (const name of names.filter((candidate) => ENTRY_FILE_NAME.test(candidate)).sort()) {
    const file = cacheFilePath(dir, name);
    const result = readEntryFile(dir, name);
    if ('entry' in result) listing.entries.push({ file, entry: result.entry });
    // Gone since readdir (a concurrent clean) is not worth a line.
    else if ('problem' in result) listing.unreadable.push({ file, problem: withoutPath(result.problem, file) });
  }
  return listing;
}

function withoutPath(problem: string, file: string): string {
  if (problem.startsWith(`${file} `)) return problem.slice(file.length + 1);
  if (problem.startsWith('cannot read ')) return problem.replace(`cannot read ${file}: `, 'cannot read: ');
  return problem;
}

/**
 * Deletes the entry file of key. Its lock files are not touched: the caller holds the lock, and releasing it
 * removes them. A missing file is not an error (deleted meanwhile). Throws PluginError ERR_CACHE.
 */
export function deleteCacheEntry(dir: string, key: string): void {
  const path = cacheFilePath(dir, key);
  try {
    rmSync(path, { force: true });
  } catch (error) {
    throw new PluginError('ERR_CACHE', `could not delete ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes the entry atomically. Throws PluginError ERR_CACHE; the caller decides whether that is fatal. */
export function writeCacheEntry(dir: string, entry: CacheEntry): void {
  const path = cacheFilePath(dir, entry.key);
  try {
    writeFileAtomically(path, serializeCacheEntry(entry));
  } catch (error) {
    throw new PluginError('ERR_CACHE', `could not write the token cache ${path}: ${(error as Error).message}`, { cause: error });
  }
}
