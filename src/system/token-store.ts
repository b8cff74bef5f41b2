/**
 * The token cache on disk: one JSON file per cache key in a 0700 directory, each file 0600, replaced
 * atomically (temp file, fsync, rename) so that a reader, or a crash, never sees half a file. A lock-free
 * reader therefore always sees either the old entry or the new one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCacheEntry, serializeCacheEntry, type CacheEntry } from '../core/cache-entry.js';
import { PluginError } from '../core/errors.js';
import { writeFileAtomically } from './atomic-file.js';

/** Larger files are not read: no real token set comes close, and a huge file must not stall kubectl. */
const MAX_ENTRY_BYTES = 1024 * 1024;

export type ReadResult = { entry: CacheEntry } | { missing: true } | { problem: string };

export function cacheFilePath(dir: string, key: string): string {
  return join(dir, key);
}

/** Reads the entry for key. A missing file, an unreadable or corrupt one, or one for another key is a miss. */
export function readCacheEntry(dir: string, key: string, expected: { issuer: string; clientId: string }): ReadResult {
  const path = cacheFilePath(dir, key);
  let text: string;
  try {
    const buffer = readFileSync(path);
    if (buffer.length > MAX_ENTRY_BYTES) return { problem: `${path} is larger than ${MAX_ENTRY_BYTES} bytes` };
    text = buffer.toString('utf8');
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
  if (entry.key !== key || entry.issuer !== expected.issuer || entry.clientId !== expected.clientId) {
    return { problem: `${path} belongs to other provider settings` };
  }
  return { entry };
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
