/**
 * clean: delete the token cache. kubelogin removes the whole directory; we remove only the files this
 * plugin writes (entries, provider metadata, locks, temp files), then the directory if it is empty, so a
 * mistaken --token-cache-dir cannot delete anything else.
 */
import { readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { PluginError } from '../core/errors.js';

const OWN_FILE = /^(?:[0-9a-f]{32}(?:\.lock|\.lock\.owner)?|provider-[0-9a-f]{32}\.json|\..+\.tmp)$/;

export interface CleanResult {
  removed: number;
  kept: string[];
  directoryRemoved: boolean;
}

export function cleanTokenCache(dir: string): CleanResult {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { removed: 0, kept: [], directoryRemoved: false };
    throw new PluginError('ERR_CACHE', `cannot read the token cache directory ${dir}: ${(error as Error).message}`);
  }
  let removed = 0;
  const kept: string[] = [];
  for (const name of names) {
    if (!OWN_FILE.test(name)) {
      kept.push(name);
      continue;
    }
    try {
      rmSync(join(dir, name), { recursive: name.endsWith('.lock'), force: true });
      removed++;
    } catch (error) {
      throw new PluginError('ERR_CACHE', `could not delete ${join(dir, name)}: ${(error as Error).message}`);
    }
  }
  let directoryRemoved = false;
  if (kept.length === 0) {
    try {
      rmdirSync(dir);
      directoryRemoved = true;
    } catch {
      // not empty after all (a concurrent write), or not ours to remove
    }
  }
  return { removed, kept, directoryRemoved };
}
