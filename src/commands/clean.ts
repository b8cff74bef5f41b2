/**
 * clean: delete the token cache. kubelogin removes the whole directory; we remove only the files this
 * plugin writes (entries, provider metadata, locks, login markers, temp files), then the directory if it is
 * empty, so a mistaken --token-cache-dir cannot delete anything else.
 *
 * With --oidc-issuer-url / --oidc-client-id only the matching entries go, and with --revoke each entry's
 * refresh token is first revoked at the provider (RFC 7009). Both work entry by entry under the entry's
 * lock, so a concurrent get-token cannot write it back half-way; an entry whose revocation fails is kept
 * (nothing is lost, the user can retry) and the command exits 1 after the others are done.
 */
import { readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeCacheFilter, matchesCacheFilter, type CacheEntry, type CacheFilter } from '../core/cache-entry.js';
import type { ProviderTls } from '../core/config.js';
import { PluginError, isPluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import { removeLoginMarker } from '../system/login-marker.js';
import { deleteCacheEntry, listCacheEntries, readCacheEntry } from '../system/token-store.js';

const OWN_FILE = /^(?:[0-9a-f]{32}(?:\.lock|\.lock\.owner|\.login)?|provider-[0-9a-f]{32}\.json|\..+\.tmp)$/;

export interface CleanConfig {
  dir: string;
  filter: CacheFilter;
  revoke: boolean;
  /** For revocation by a confidential client: entries of --oidc-client-id when given, else all. */
  clientSecret: string | undefined;
  requestHeaders: Record<string, string>;
  /** --certificate-authority(-data), --insecure-skip-tls-verify: for the revocation requests. */
  tls: ProviderTls;
  verbosity: number;
}

export interface RevocationRequest {
  issuerUrl: string;
  clientId: string;
  clientSecret: string | undefined;
  requestHeaders: Record<string, string>;
}

export interface Revoker {
  /** 'unsupported' when the provider has no revocation endpoint; throws a PluginError on any failure. */
  revoke(request: RevocationRequest, refreshToken: string): Promise<'revoked' | 'unsupported'>;
}

export interface CleanDeps {
  log: Logger;
  /** Runs work while holding the lock of the cache key (the lock files are gone once it returns). */
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Loads the OIDC code on first use: only --revoke of an entry with a refresh token needs it. */
  revoker: () => Promise<Revoker>;
  /** Prints an error (an entry that was kept) the way the CLI prints errors. */
  reportError(error: PluginError): void;
}

export interface CleanOutcome {
  /** Entries kept because they could not be revoked or deleted; each was reported. */
  failed: number;
}

export async function cleanCache(config: CleanConfig, deps: CleanDeps): Promise<CleanOutcome> {
  const { dir, filter } = config;
  const { log } = deps;
  const filterText = describeCacheFilter(filter);
  if (filterText === undefined && !config.revoke) {
    reportSweep(dir, cleanTokenCache(dir), log);
    return { failed: 0 };
  }

  const targets = listCacheEntries(dir).entries.filter(({ entry }) => matchesCacheFilter(entry, filter));
  if (filterText !== undefined && targets.length === 0) {
    log.info(`No cached tokens in ${dir} match ${filterText}; nothing was deleted`);
    return { failed: 0 };
  }
  const deleted: CacheEntry[] = [];
  const kept: CacheEntry[] = [];
  const withoutEndpoint = new Set<string>();
  for (const { entry } of targets) {
    const outcome = await cleanEntry(entry, config, deps, withoutEndpoint);
    if (outcome === 'deleted') deleted.push(entry);
    else if (outcome === 'kept') kept.push(entry);
  }

  if (filterText === undefined) {
    // --revoke without a filter: the rest of the cache goes as without --revoke, except what was kept.
    const keep = new Set(kept.flatMap(({ key }) => [key, `${key}.lock`, `${key}.lock.owner`, `${key}.login`]));
    const swept = cleanTokenCache(dir, keep);
    reportSweep(dir, { ...swept, removed: swept.removed + deleted.length }, log);
  } else if (deleted.length > 0) {
    log.info(`Deleted ${count(deleted.length, 'cached token')} (${deleted.map(describeEntry).join('; ')}) from ${dir}`);
  }
  if (kept.length > 0) log.info(`Kept ${count(kept.length, 'cached token')} (${kept.map(describeEntry).join('; ')}); run the command again to retry`);
  return { failed: kept.length };
}

/** Revokes (with --revoke) and deletes one entry under its lock. */
async function cleanEntry(entry: CacheEntry, config: CleanConfig, deps: CleanDeps, withoutEndpoint: Set<string>): Promise<'deleted' | 'gone' | 'kept'> {
  const { log } = deps;
  // Set inside the locked work; an object, so that the catch below sees the step it failed in.
  const progress: { step: 'revoke' | 'delete' } = { step: 'delete' };
  try {
    return await deps.withLock(entry.key, async () => {
      // Read again under the lock: a concurrent get-token may have refreshed it (a new refresh token).
      const current = readCacheEntry(config.dir, entry.key, { issuer: entry.issuer, clientId: entry.clientId });
      if ('missing' in current) return 'gone';
      // A file that turned corrupt meanwhile is deleted as it is: there is no refresh token to read from it.
      const refreshToken = 'entry' in current ? current.entry.refreshToken : undefined;
      if (config.revoke && refreshToken !== undefined) {
        progress.step = 'revoke';
        const clientSecret = config.filter.clientId === undefined || config.filter.clientId === entry.clientId ? config.clientSecret : undefined;
        const request = { issuerUrl: entry.issuer, clientId: entry.clientId, clientSecret, requestHeaders: config.requestHeaders };
        const result = await (await deps.revoker()).revoke(request, refreshToken);
        if (result === 'revoked') {
          log.info(`Revoked the refresh token of ${entry.issuer} (client ${entry.clientId})`);
        } else if (!withoutEndpoint.has(entry.issuer)) {
          withoutEndpoint.add(entry.issuer);
          log.warn(`${entry.issuer} has no revocation endpoint (none in its discovery document): its cached refresh tokens are deleted without revoking them`);
        }
        progress.step = 'delete';
      } else if (config.revoke) {
        log.debug(`no refresh token to revoke for ${entry.issuer} (client ${entry.clientId})`);
      }
      deleteCacheEntry(config.dir, entry.key);
      // The browser-tab guard's marker of a failed login goes with the entry (system/login-marker.ts).
      removeLoginMarker(config.dir, entry.key);
      return 'deleted';
    });
  } catch (error) {
    const cause = isPluginError(error) ? error : new PluginError('ERR_CACHE', error instanceof Error ? error.message : String(error), { cause: error });
    const what = progress.step === 'revoke' ? 'revoke the refresh token of' : 'delete the cached token of';
    deps.reportError(
      new PluginError(cause.code, `could not ${what} ${entry.issuer} (client ${entry.clientId}): ${cause.message}`, {
        hint: `${cause.hint ?? (progress.step === 'revoke' ? 'check that the provider is reachable' : 'check the token cache directory')}; the entry was kept, so the same command can be run again`,
        cause: cause.cause,
      }),
    );
    return 'kept';
  }
}

function describeEntry(entry: Pick<CacheEntry, 'issuer' | 'clientId'>): string {
  return `${entry.issuer}, client ${entry.clientId}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export interface CleanResult {
  removed: number;
  kept: string[];
  directoryRemoved: boolean;
}

function reportSweep(dir: string, result: CleanResult, log: Logger): void {
  if (result.removed === 0 && result.kept.length === 0 && !result.directoryRemoved) log.info(`The token cache ${dir} is already empty`);
  else log.info(`Deleted the token cache from ${dir} (${count(result.removed, 'file')})`);
  if (result.kept.length > 0) log.info(`Kept ${result.kept.length} file(s) that kubectl-oidc_login did not write: ${result.kept.join(', ')}`);
}

/** Removes the plugin's own files from dir except the names in keep, then dir itself if that empties it. */
export function cleanTokenCache(dir: string, keep: ReadonlySet<string> = new Set()): CleanResult {
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
    if (keep.has(name)) continue;
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
  if (kept.length === 0 && keep.size === 0) {
    try {
      rmdirSync(dir);
      directoryRemoved = true;
    } catch {
      // not empty after all (a concurrent write), or not ours to remove
    }
  }
  return { removed, kept, directoryRemoved };
}
