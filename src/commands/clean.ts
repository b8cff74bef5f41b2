/**
 * clean: delete the token cache. kubelogin removes the whole directory; we remove only the files this
 * plugin writes (entries, provider metadata, locks, login markers, temp files), then the directory if it is
 * empty, so a mistaken --token-cache-dir cannot delete anything else.
 *
 * With --oidc-issuer-url / --oidc-client-id only the matching entries go, and with --revoke each entry's
 * refresh token is first revoked at the provider (RFC 7009). Both work entry by entry under the entry's
 * lock, so a concurrent get-token cannot write it back half-way; an entry whose revocation fails is kept
 * (nothing is lost, the user can retry) and the command exits 1 after the others are done.
 *
 * The keyring (--token-cache-storage=keyring, system/keyring-store.ts) is cleaned too, as kubelogin does: all items of
 * the service kubectl-oidc-login (the keyring is the user's, not the cache directory's), or the matching ones. When it
 * cannot be reached, that is only a -v1 line, unless the cache directory's markers say that it holds tokens: then
 * it is an error (exit 1) and those markers are kept, so that the same command can be run again.
 */
import { readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeCacheFilter, matchesCacheFilter, type CacheEntry, type CacheFilter } from '../core/cache-entry.js';
import type { ProviderTls } from '../core/config.js';
import { PluginError, isPluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import { removeLoginMarker } from '../system/login-marker.js';
import { KEYRING_MARKER_SUFFIX, KEYRING_SERVICE, parseKeyringEntry, readKeyring, readKeyringMarkers, reasonOf, removeKeyringMarker, type Keyring, type KeyringListing, type OpenKeyring } from '../system/keyring-store.js';
import { deleteCacheEntry, listCacheEntries, readCacheEntry, type ReadResult } from '../system/token-store.js';

const OWN_FILE = /^(?:[0-9a-f]{32}(?:\.lock|\.lock\.owner|\.login|\.keyring)?|provider-[0-9a-f]{32}\.json|\..+\.tmp)$/;
const FROM_KEYRING = `from the keyring (service ${KEYRING_SERVICE})`;

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
  /** The system keyring, opened once per clean; without it the keyring is left alone. */
  openKeyring?: OpenKeyring;
}

/** Where an entry is kept: its file in the cache directory, or its item in the keyring. */
interface EntryStore {
  where: 'disk' | 'keyring';
  read(key: string, expected: { issuer: string; clientId: string }): Promise<ReadResult>;
  delete(key: string): Promise<void>;
}

function diskStore(dir: string): EntryStore {
  return {
    where: 'disk',
    read: async (key, expected) => readCacheEntry(dir, key, expected),
    delete: async (key) => deleteCacheEntry(dir, key),
  };
}

function keyringStore(dir: string, keyring: Keyring): EntryStore {
  return {
    where: 'keyring',
    read: async (key, expected) => {
      const secret = await keyring.get(key);
      return secret === undefined ? { missing: true } : parseKeyringEntry(secret, key, expected);
    },
    delete: async (key) => {
      await keyring.delete(key);
      removeKeyringMarker(dir, key);
    },
  };
}

export interface CleanOutcome {
  /** Entries kept because they could not be revoked or deleted; each was reported. */
  failed: number;
}

export async function cleanCache(config: CleanConfig, deps: CleanDeps): Promise<CleanOutcome> {
  const { dir, filter } = config;
  const { log } = deps;
  const filterText = describeCacheFilter(filter);
  const inKeyring = await openKeyringForClean(config, deps);
  let failed = inKeyring.unreachable;
  const keyring = inKeyring.keyring;
  if (filterText === undefined && !config.revoke) {
    // The keyring first, so that the markers of items it could not delete are kept.
    const keyringSweep = keyring === undefined ? undefined : await sweepKeyring(keyring, inKeyring.listing.accounts, deps);
    failed += keyringSweep?.failed.length ?? 0;
    reportSweep(dir, cleanTokenCache(dir, new Set([...inKeyring.keepMarkers, ...(keyringSweep?.failed ?? []).map(markerName)])), log);
    if ((keyringSweep?.deleted ?? 0) > 0) log.info(`Deleted ${count(keyringSweep?.deleted ?? 0, 'cached token')} ${FROM_KEYRING}`);
    return { failed };
  }

  const matching = ({ entry }: { entry: CacheEntry }): boolean => matchesCacheFilter(entry, filter);
  const targets: Array<{ entry: CacheEntry; store: EntryStore }> = [
    ...listCacheEntries(dir).entries.filter(matching).map(({ entry }) => ({ entry, store: diskStore(dir) })),
    ...(keyring === undefined ? [] : inKeyring.listing.entries.filter(matching).map(({ entry }) => ({ entry, store: keyringStore(dir, keyring) }))),
  ];
  if (filterText !== undefined && targets.length === 0) {
    if (failed === 0) log.info(`No cached tokens in ${dir} match ${filterText}; nothing was deleted`);
    return { failed };
  }
  const deleted: Array<{ entry: CacheEntry; where: EntryStore['where'] }> = [];
  const kept: CacheEntry[] = [];
  const withoutEndpoint = new Set<string>();
  for (const { entry, store } of targets) {
    const outcome = await cleanEntry(entry, store, config, deps, withoutEndpoint);
    if (outcome === 'deleted') deleted.push({ entry, where: store.where });
    else if (outcome === 'kept') kept.push(entry);
  }
  const deletedFrom = (where: EntryStore['where']): CacheEntry[] => deleted.filter((item) => item.where === where).map(({ entry }) => entry);

  if (filterText === undefined) {
    // --revoke without a filter: the rest of the cache goes as without --revoke, except what was kept.
    const keptKeys = new Set(kept.map(({ key }) => key));
    const rest = keyring === undefined ? undefined : await sweepKeyring(keyring, inKeyring.listing.accounts.filter((account) => !keptKeys.has(account) && !deleted.some(({ entry, where }) => where === 'keyring' && entry.key === account)), deps);
    failed += rest?.failed.length ?? 0;
    const keep = new Set([...kept.flatMap(({ key }) => [key, `${key}.lock`, `${key}.lock.owner`, `${key}.login`, markerName(key)]), ...inKeyring.keepMarkers, ...(rest?.failed ?? []).map(markerName)]);
    const swept = cleanTokenCache(dir, keep);
    reportSweep(dir, { ...swept, removed: swept.removed + deletedFrom('disk').length }, log);
    const fromKeyring = deletedFrom('keyring').length + (rest?.deleted ?? 0);
    if (fromKeyring > 0) log.info(`Deleted ${count(fromKeyring, 'cached token')} ${FROM_KEYRING}`);
  } else {
    const fromDisk = deletedFrom('disk');
    const fromKeyring = deletedFrom('keyring');
    if (fromDisk.length > 0) log.info(`Deleted ${count(fromDisk.length, 'cached token')} (${fromDisk.map(describeEntry).join('; ')}) from ${dir}`);
    if (fromKeyring.length > 0) log.info(`Deleted ${count(fromKeyring.length, 'cached token')} (${fromKeyring.map(describeEntry).join('; ')}) ${FROM_KEYRING}`);
  }
  if (kept.length > 0) log.info(`Kept ${count(kept.length, 'cached token')} (${kept.map(describeEntry).join('; ')}); run the command again to retry`);
  return { failed: failed + kept.length };
}

function markerName(key: string): string {
  return `${key}${KEYRING_MARKER_SUFFIX}`;
}

interface KeyringForClean {
  keyring: Keyring | undefined;
  listing: KeyringListing;
  /** Marker files to keep: the keyring could not be reached and holds these tokens. */
  keepMarkers: string[];
  /** 1 when that was reported as an error, else 0. */
  unreachable: number;
}

/**
 * Opens and lists the keyring. When it cannot be, and markers of matching entries are in the cache directory, that is
 * reported as an error and the markers are kept; without such markers only -v1 says so (machines without a keyring).
 */
async function openKeyringForClean(config: CleanConfig, deps: CleanDeps): Promise<KeyringForClean> {
  const none: KeyringListing = { entries: [], unreadable: [], accounts: [] };
  if (deps.openKeyring === undefined) return { keyring: undefined, listing: none, keepMarkers: [], unreachable: 0 };
  const read = await readKeyring(deps.openKeyring);
  if ('listing' in read) return { keyring: read.keyring, listing: read.listing, keepMarkers: [], unreachable: 0 };
  // A marker without its provider (unreadable) may belong to any filter.
  const affected = readKeyringMarkers(config.dir).filter(
    ({ issuer, clientId }) => issuer === undefined || clientId === undefined || matchesCacheFilter({ issuer, clientId }, config.filter),
  );
  if (affected.length === 0) {
    deps.log.debug(`the keyring was not cleaned: ${read.failed}`);
    return { keyring: undefined, listing: none, keepMarkers: [], unreachable: 0 };
  }
  deps.reportError(
    new PluginError('ERR_CACHE', `could not clean the keyring, which holds ${count(affected.length, 'cached token')} from ${config.dir}: ${read.failed}`, {
      hint: 'run the command again where the keyring can be used (unlocked; on Linux, in the desktop session with its D-Bus and Secret Service); the markers in the cache directory were kept for that',
    }),
  );
  return { keyring: undefined, listing: none, keepMarkers: affected.map(({ key }) => markerName(key)), unreachable: 1 };
}

/** Deletes the keyring items of accounts without a lock, as the disk sweep deletes files; a failure is reported, its key returned. */
async function sweepKeyring(keyring: Keyring, accounts: readonly string[], deps: CleanDeps): Promise<{ deleted: number; failed: string[] }> {
  let deleted = 0;
  const failed: string[] = [];
  for (const account of accounts) {
    try {
      // Its marker goes with the disk sweep that follows.
      if (await keyring.delete(account)) deleted++;
    } catch (error) {
      failed.push(account);
      deps.reportError(new PluginError('ERR_CACHE', `could not delete the keyring item of ${account}: ${reasonOf(error)}`, { hint: 'check that the keyring is unlocked, and run the command again' }));
    }
  }
  return { deleted, failed };
}

/** Revokes (with --revoke) and deletes one entry under its lock. */
async function cleanEntry(entry: CacheEntry, store: EntryStore, config: CleanConfig, deps: CleanDeps, withoutEndpoint: Set<string>): Promise<'deleted' | 'gone' | 'kept'> {
  const { log } = deps;
  // Set inside the locked work; an object, so that the catch below sees the step it failed in.
  const progress: { step: 'revoke' | 'delete' } = { step: 'delete' };
  try {
    return await deps.withLock(entry.key, async () => {
      // Read again under the lock: a concurrent get-token may have refreshed it (a new refresh token).
      const current = await store.read(entry.key, { issuer: entry.issuer, clientId: entry.clientId });
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
      await store.delete(entry.key);
      // The browser-tab guard's marker of a failed login goes with the entry (system/login-marker.ts).
      removeLoginMarker(config.dir, entry.key);
      return 'deleted';
    });
  } catch (error) {
    const cause = isPluginError(error) ? error : new PluginError('ERR_CACHE', error instanceof Error ? error.message : String(error), { cause: error });
    const what = progress.step === 'revoke' ? 'revoke the refresh token of' : `delete the cached token${store.where === 'keyring' ? ' in the keyring' : ''} of`;
    const check = progress.step === 'revoke' ? 'check that the provider is reachable' : store.where === 'keyring' ? 'check that the keyring is unlocked' : 'check the token cache directory';
    deps.reportError(
      new PluginError(cause.code, `could not ${what} ${entry.issuer} (client ${entry.clientId}): ${cause.message}`, {
        hint: `${cause.hint ?? check}; the entry was kept, so the same command can be run again`,
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
