/**
 * --token-cache-storage=keyring: token cache entries in the system keyring instead of files. Secret Service over
 * D-Bus on Linux (gnome-keyring, KWallet), the macOS Keychain, the Windows Credential Manager, all through
 * @napi-rs/keyring (keyring-rs), whose prebuilt binaries ship in per-platform npm packages.
 *
 * - The native module is loaded here and only here, lazily (openSystemKeyring), only for
 *   --token-cache-storage=keyring and for status and clean. scripts/build.mjs leaves it external to dist/cli.cjs
 *   and dist/api/index.cjs, so that Node resolves it from node_modules at run time; the cache-hit bundle never
 *   imports this file (cli/cache-hit.ts hands every keyring invocation over to the full CLI). The standalone
 *   executable (scripts/build-sea.mjs) cannot load a native module: there the import fails with a message saying
 *   so, and get-token falls back to disk.
 * - Items: service KEYRING_SERVICE ("kubectl-oidc-login", not kubelogin's "kubelogin", so neither tool reads or
 *   deletes the other's items), account = the cache key, secret = exactly the JSON of an entry file
 *   (core/cache-entry.ts), checked on read as a file is: format, recorded key, issuer and client ID.
 * - On Linux the Secret Service is required (keyring-rs would otherwise fall back to the kernel keyring, which
 *   does not outlive the login session): without it the keyring is "unavailable".
 * - The lock stays the cache directory's lock file (file-lock.ts), as kubelogin does: one login per key.
 * - Fallback: when the keyring cannot be used (the module does not load, no D-Bus session, no Secret Service,
 *   locked, no answer within KEYRING_TIMEOUT_MS) or refuses an item as too large (the Windows Credential Manager
 *   takes 2560 bytes; kubelogin #1255, where go-keyring's macOS limit failed every command), the entry is written to
 *   its file in the cache directory with one warning, and the kubectl command succeeds. Reads look in both places and take the newer entry (savedAt), so
 *   that entry is found; a later successful keyring write deletes the file. A disk cache written before switching
 *   to keyring is used the same way, and moves into the keyring at the next refresh or login.
 * - `<key>.keyring` marker files in the cache directory record which keys were stored in the keyring from it.
 *   status and clean read the whole service's items; when the keyring cannot be reached they stay quiet (a -v1
 *   line) unless markers say that it holds tokens: then status lists those as unreadable and clean fails (exit 1)
 *   keeping the markers, so that it can be run again.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { parseCacheEntry, serializeCacheEntry, type CacheEntry } from '../core/cache-entry.js';
import { PluginError } from '../core/errors.js';
import { writeFileAtomically } from './atomic-file.js';
import type { Logger } from './log.js';
import { cacheFilePath, deleteCacheEntry, MAX_ENTRY_BYTES, readCacheEntry, writeCacheEntry, type ListedEntry, type ReadResult, type UnreadableEntry } from './token-store.js';

/** The keyring service of every item; kubelogin's is "kubelogin". */
export const KEYRING_SERVICE = 'kubectl-oidc-login';
/**
 * A keyring operation that takes longer fails (and get-token falls back to disk). Long enough for a person to
 * unlock the keyring at the desktop's prompt; a D-Bus call to a hung service would otherwise never return.
 */
export const KEYRING_TIMEOUT_MS = 30_000;
/** The marker file that records that the entry of a key was stored in the keyring. */
export const KEYRING_MARKER_SUFFIX = '.keyring';
const ACCOUNT = /^[0-9a-f]{32}$/;

export interface KeyringItem {
  account: string;
  secret: string;
}

/** The keyring operations the cache needs, on the service KEYRING_SERVICE. Each rejects when the keyring cannot be used. */
export interface Keyring {
  /** The secret of account, or undefined when there is none. */
  get(account: string): Promise<string | undefined>;
  set(account: string, secret: string): Promise<void>;
  /** true when an item was deleted, false when there was none. */
  delete(account: string): Promise<boolean>;
  /** Every item of the service, with its secret. */
  list(): Promise<KeyringItem[]>;
}

export type OpenKeyring = () => Promise<Keyring>;

type KeyringBinding = typeof import('@napi-rs/keyring');

/** The system keyring through @napi-rs/keyring, loaded now (never at start-up). Rejects when the module cannot be loaded. */
export async function openSystemKeyring(): Promise<Keyring> {
  let binding: KeyringBinding;
  try {
    const loaded = (await import('@napi-rs/keyring')) as KeyringBinding & { default?: KeyringBinding };
    binding = typeof loaded.AsyncEntry === 'function' ? loaded : (loaded.default ?? loaded);
  } catch (error) {
    throw new Error(`cannot load @napi-rs/keyring: ${reasonOf(error)}`, { cause: error });
  }
  // Linux: Secret Service or nothing (see the top of this file); ignored elsewhere.
  const options = { linux: { store: 'secret-service' as const } };
  const entry = (account: string) => new binding.AsyncEntry(KEYRING_SERVICE, account, options);
  return {
    get: (account) => bounded('read', async () => (await entry(account).getPassword()) ?? undefined),
    set: (account, secret) => bounded('write', () => entry(account).setPassword(secret)),
    delete: (account) => bounded('delete', () => entry(account).deleteCredential()),
    list: () =>
      bounded('list', async () => {
        // findCredentials takes no store: on Linux it would fall back to the kernel keyring without a Secret Service and
        // answer "nothing" where it should fail. A read through the pinned store fails then.
        if (process.platform === 'linux') await entry('availability-check').getPassword();
        return (await binding.findCredentialsAsync(KEYRING_SERVICE)).map(({ account, password }) => ({ account, secret: password }));
      }),
  };
}

/**
 * run(), failing after KEYRING_TIMEOUT_MS. The native call cannot be cancelled once it runs (its AbortSignal only
 * cancels work not yet started), so the wait is bounded here; the CLI exits when done, whatever is left running.
 */
function bounded<T>(what: string, run: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the keyring within ${KEYRING_TIMEOUT_MS / 1000} s (${what})`)), KEYRING_TIMEOUT_MS);
    // Through then(): a synchronous throw (a rejected argument) rejects too, and clears the timer.
    Promise.resolve()
      .then(run)
      .then(resolve, reject)
      .finally(() => clearTimeout(timer));
  });
}

/** The first line of the error's message, for one-line warnings. */
export function reasonOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** How an item is named in status and messages: `keyring:<service>/<account>`. */
export function keyringItemName(key: string): string {
  return `keyring:${KEYRING_SERVICE}/${key}`;
}

/** An item's secret checked as readCacheEntry checks a file: size, JSON entry, recorded key, and provider when given. */
export function parseKeyringEntry(secret: string, key: string, expected?: { issuer: string; clientId: string }): ReadResult {
  const name = keyringItemName(key);
  if (secret.length > MAX_ENTRY_BYTES) return { problem: `${name} is larger than ${MAX_ENTRY_BYTES} bytes` };
  let entry: CacheEntry;
  try {
    entry = parseCacheEntry(secret);
  } catch (error) {
    return { problem: `${name} is not a valid cache entry: ${(error as Error).message}` };
  }
  if (entry.key !== key) return { problem: `${name} records another cache key (${entry.key})` };
  if (expected !== undefined && (entry.issuer !== expected.issuer || entry.clientId !== expected.clientId)) {
    return { problem: `${name} belongs to other provider settings` };
  }
  return { entry };
}

/** The cache directory's side of keyring storage: entry files (the fallback) and markers. */
export interface DiskSide {
  read(key: string, expected: { issuer: string; clientId: string }): ReadResult;
  /** Throws PluginError ERR_CACHE. */
  write(entry: CacheEntry): void;
  /** Deletes the entry file if there is one. Throws PluginError ERR_CACHE. */
  delete(key: string): void;
  /** The entry file's path, for messages. */
  path(key: string): string;
  /** Records that the entry of key is in the keyring (its marker file). */
  mark(entry: CacheEntry): void;
  /** Removes that record. */
  unmark(key: string): void;
}

export function diskSide(dir: string): DiskSide {
  return {
    read: (key, expected) => readCacheEntry(dir, key, expected),
    write: (entry) => writeCacheEntry(dir, entry),
    delete: (key) => deleteCacheEntry(dir, key),
    path: (key) => cacheFilePath(dir, key),
    mark: (entry) => {
      const path = keyringMarkerPath(dir, entry.key);
      // Not a secret: where the entry is and whose it is, so that clean and status can name it without the keyring.
      if (!existsSync(path)) writeFileAtomically(path, `${JSON.stringify({ service: KEYRING_SERVICE, account: entry.key, issuer: entry.issuer, client_id: entry.clientId })}\n`);
    },
    unmark: (key) => removeKeyringMarker(dir, key),
  };
}

/** The token cache of --token-cache-storage=keyring, for the TokenCache of commands/get-token.ts (the lock is separate). */
export interface KeyringTokenCache {
  /** The newer of the keyring's and the disk's entries for key; undefined for a miss. Never rejects for the keyring's sake. */
  read(key: string, expected: { issuer: string; clientId: string }): Promise<CacheEntry | undefined>;
  /** Into the keyring, else (with one warning) into the entry file. Rejects (PluginError ERR_CACHE) only when the file cannot be written either. */
  write(entry: CacheEntry): Promise<void>;
}

/**
 * The keyring with the disk as fallback (see the top of this file). The keyring is opened on the first read;
 * after one failure it is not tried again in this process (a locked or hung keyring would cost every operation
 * the timeout), and the warning is printed once, when a token goes to disk instead.
 */
export function keyringTokenCache(options: { openKeyring: OpenKeyring; disk: DiskSide; log: Logger }): KeyringTokenCache {
  const { disk, log } = options;
  let opening: Promise<Keyring> | undefined;
  let opened: Keyring | undefined;
  /** Why the keyring is not used any more in this process. */
  let failure: string | undefined;
  let warned = false;

  async function attempt<T>(what: string, operation: (keyring: Keyring) => Promise<T>): Promise<{ value: T } | { failed: string }> {
    if (failure !== undefined) return { failed: failure };
    try {
      opening ??= options.openKeyring();
      opened = await opening;
      return { value: await operation(opened) };
    } catch (error) {
      failure = reasonOf(error);
      log.debug(`the keyring cannot be used (${what}): ${failure}`);
      return { failed: failure };
    }
  }

  return {
    async read(key, expected) {
      const stored = await attempt('reading the token', (keyring) => keyring.get(key));
      let inKeyring: CacheEntry | undefined;
      if ('value' in stored && stored.value !== undefined) {
        const result = parseKeyringEntry(stored.value, key, expected);
        if ('entry' in result) inKeyring = result.entry;
        else if ('problem' in result) log.debug(`ignoring the keyring item: ${result.problem}`);
      }
      // The fallback file, or a disk cache from before the switch to keyring.
      const onDisk = disk.read(key, expected);
      let inFile: CacheEntry | undefined;
      if ('entry' in onDisk) inFile = onDisk.entry;
      else if ('problem' in onDisk) log.debug(`ignoring the cache entry: ${onDisk.problem}`);
      if (inFile === undefined) return inKeyring;
      if (inKeyring !== undefined && !isNewer(inFile, inKeyring)) return inKeyring;
      log.debug(`using the token cached in ${disk.path(key)}${'failed' in stored ? ', as the keyring cannot be used' : ''}`);
      return inFile;
    },

    async write(entry) {
      const triedKeyring = failure === undefined;
      const stored = await attempt('storing the token', (keyring) => keyring.set(entry.key, serializeCacheEntry(entry)));
      if ('value' in stored) {
        quietly(`could not write the keyring marker of ${entry.key}`, () => disk.mark(entry));
        // The keyring holds the token now: a fallback file (or a disk cache from before) would only be an older copy.
        quietly(`could not delete ${disk.path(entry.key)}`, () => disk.delete(entry.key));
        return;
      }
      try {
        disk.write(entry);
      } catch (error) {
        throw new PluginError('ERR_CACHE', `could not store the token in the keyring (${stored.failed}), nor on disk: ${reasonOf(error)}`, { cause: error });
      }
      if (!warned) {
        warned = true;
        log.warn(`could not store the token in the keyring (${stored.failed}); it is cached in ${disk.path(entry.key)} instead`);
      }
      // Refused by a keyring that works (too large): its older item would hold an older refresh token. Reads take the
      // newer entry anyway; this only removes the stale secret.
      if (triedKeyring && opened !== undefined) {
        const keyring = opened;
        await keyring.delete(entry.key).then(
          (deleted) => {
            if (deleted) log.debug(`deleted the older keyring item ${keyringItemName(entry.key)}`);
            // The keyring holds nothing of this key now.
            quietly(`could not delete the keyring marker of ${entry.key}`, () => disk.unmark(entry.key));
          },
          (error: unknown) => log.debug(`could not delete the older keyring item ${keyringItemName(entry.key)}: ${reasonOf(error)}`),
        );
      }
    },
  };

  function quietly(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      log.debug(`${what}: ${reasonOf(error)}`);
    }
  }
}

/** Whether a was saved after b (an unreadable time is never newer). */
function isNewer(a: CacheEntry, b: CacheEntry): boolean {
  const at = Date.parse(a.savedAt);
  const bt = Date.parse(b.savedAt);
  return !Number.isNaN(at) && (Number.isNaN(bt) || at > bt);
}

export function keyringMarkerPath(dir: string, key: string): string {
  return cacheFilePath(dir, `${key}${KEYRING_MARKER_SUFFIX}`);
}

export interface KeyringMarker {
  key: string;
  /** As recorded; undefined when the marker cannot be read. */
  issuer: string | undefined;
  clientId: string | undefined;
}

/** The markers in dir: the keys stored in the keyring from it. A missing or unreadable directory has none. */
export function readKeyringMarkers(dir: string): KeyringMarker[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const markers: KeyringMarker[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(KEYRING_MARKER_SUFFIX)) continue;
    const key = name.slice(0, -KEYRING_MARKER_SUFFIX.length);
    if (!ACCOUNT.test(key)) continue;
    let recorded: Record<string, unknown> = {};
    try {
      recorded = JSON.parse(readFileSync(keyringMarkerPath(dir, key), 'utf8')) as Record<string, unknown>;
    } catch {
      // an empty or broken marker still says that the key was in the keyring
    }
    const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
    markers.push({ key, issuer: text(recorded['issuer']), clientId: text(recorded['client_id']) });
  }
  return markers;
}

export function removeKeyringMarker(dir: string, key: string): void {
  rmSync(keyringMarkerPath(dir, key), { force: true });
}

/** The keyring's items as status and clean see them: parsed entries, and the items get-token would not use. */
export interface KeyringListing {
  entries: ListedEntry[];
  unreadable: UnreadableEntry[];
  /** Accounts of every item, entries and unreadable alike (clean deletes them all). */
  accounts: string[];
}

export async function listKeyringEntries(keyring: Keyring): Promise<KeyringListing> {
  const items = (await keyring.list()).sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
  const listing: KeyringListing = { entries: [], unreadable: [], accounts: [] };
  for (const { account, secret } of items) {
    listing.accounts.push(account);
    const file = keyringItemName(account);
    if (!ACCOUNT.test(account)) {
      listing.unreadable.push({ file, problem: 'not an account of kubectl-oidc-login (not a cache key)' });
      continue;
    }
    const result = parseKeyringEntry(secret, account);
    if ('entry' in result) listing.entries.push({ file, entry: result.entry });
    else if ('problem' in result) listing.unreadable.push({ file, problem: result.problem.startsWith(`${file} `) ? result.problem.slice(file.length + 1) : result.problem });
  }
  return listing;
}

/** What status shows of the keyring, or why it shows nothing. */
export type KeyringStatus = { listing: KeyringListing } | { failed: string };

/** Opens the keyring and lists it; a failure is the reason, never a rejection. */
export async function readKeyring(openKeyring: OpenKeyring): Promise<KeyringStatus & { keyring?: Keyring }> {
  try {
    const keyring = await openKeyring();
    return { listing: await listKeyringEntries(keyring), keyring };
  } catch (error) {
    return { failed: reasonOf(error) };
  }
}

/**
 * The keyring's part of status: all of the service's items, or, when the keyring cannot be read, the keys the
 * markers in dir record as unreadable (nothing at all, but a -v1 line, without markers).
 */
export async function keyringStatusListing(dir: string, openKeyring: OpenKeyring, log: Logger): Promise<{ entries: ListedEntry[]; unreadable: UnreadableEntry[] }> {
  const read = await readKeyring(openKeyring);
  if ('listing' in read) return read.listing;
  const markers = readKeyringMarkers(dir);
  if (markers.length === 0) {
    log.debug(`not listing the keyring: ${read.failed}`);
    return { entries: [], unreadable: [] };
  }
  return { entries: [], unreadable: markers.map(({ key }) => ({ file: keyringItemName(key), problem: `the keyring cannot be read: ${read.failed}` })) };
}
