/**
 * The storage decisions of --token-cache-storage=keyring (src/system/keyring-store.ts) with a fake keyring and an
 * in-memory disk side: where a token is written, which entry a read returns, when the disk is the fallback and what
 * is said. The real Secret Service is test/integration/keyring.test.ts; "refused as too large" cannot be produced
 * with gnome-keyring (it stores 100 KB without complaint), so it is covered here only.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanCache, type CleanConfig } from '../../src/commands/clean.js';
import { buildStatusReport, formatStatusText } from '../../src/commands/status.js';
import { serializeCacheEntry, type CacheEntry } from '../../src/core/cache-entry.js';
import { PluginError } from '../../src/core/errors.js';
import { KEYRING_SERVICE, keyringStatusListing, keyringTokenCache, type DiskSide, type Keyring } from '../../src/system/keyring-store.js';
import { createLogger } from '../../src/system/log.js';
import { writeCacheEntry } from '../../src/system/token-store.js';

const KEY = '0123456789abcdef0123456789abcdef';
const OTHER_KEY = 'fedcba9876543210fedcba9876543210';
const ISSUER = 'https://issuer.example.com';
const EXPECTED = { issuer: ISSUER, clientId: 'kubectl' };
const REFRESH_TOKEN = 'refresh-token-secret-value';

function entry(fields: Partial<CacheEntry> = {}): CacheEntry {
  return {
    key: KEY,
    issuer: ISSUER,
    clientId: 'kubectl',
    scopes: ['email'],
    useAccessToken: false,
    savedAt: '2026-06-01T12:00:00.000Z',
    idToken: 'id.token.value',
    accessToken: 'access-token-value',
    refreshToken: REFRESH_TOKEN,
    ...fields,
  };
}

type Op = 'get' | 'set' | 'delete' | 'list';

/** A keyring in a Map; `fail` makes an operation reject with that message (as the native module does). */
class FakeKeyring implements Keyring {
  readonly items = new Map<string, string>();
  readonly fail: Partial<Record<Op, string>> = {};
  readonly calls: Op[] = [];
  async get(account: string): Promise<string | undefined> {
    this.check('get');
    return this.items.get(account);
  }
  async set(account: string, secret: string): Promise<void> {
    this.check('set');
    this.items.set(account, secret);
  }
  async delete(account: string): Promise<boolean> {
    this.check('delete');
    return this.items.delete(account);
  }
  async list(): Promise<Array<{ account: string; secret: string }>> {
    this.check('list');
    return [...this.items].map(([account, secret]) => ({ account, secret }));
  }
  private check(op: Op): void {
    this.calls.push(op);
    const message = this.fail[op];
    if (message !== undefined) throw Object.assign(new Error(message), { code: 'GenericFailure' });
  }
}

class FakeDisk implements DiskSide {
  readonly files = new Map<string, CacheEntry>();
  readonly marked = new Set<string>();
  writeError: string | undefined;
  read(key: string, expected: { issuer: string; clientId: string }) {
    const found = this.files.get(key);
    if (found === undefined) return { missing: true as const };
    if (found.issuer !== expected.issuer || found.clientId !== expected.clientId) return { problem: `/cache/${key} belongs to other provider settings` };
    return { entry: found };
  }
  write(written: CacheEntry): void {
    if (this.writeError !== undefined) throw new PluginError('ERR_CACHE', `could not write the token cache /cache/${written.key}: ${this.writeError}`);
    this.files.set(written.key, written);
  }
  delete(key: string): void {
    this.files.delete(key);
  }
  path(key: string): string {
    return `/cache/${key}`;
  }
  mark(marked: CacheEntry): void {
    this.marked.add(marked.key);
  }
  unmark(key: string): void {
    this.marked.delete(key);
  }
}

function setUp(options: { open?: 'fails'; level?: number } = {}) {
  const keyring = new FakeKeyring();
  const disk = new FakeDisk();
  const output: string[] = [];
  let opens = 0;
  const openKeyring = async (): Promise<Keyring> => {
    opens++;
    if (options.open === 'fails') throw new Error('cannot load @napi-rs/keyring: Cannot find module');
    return keyring;
  };
  const log = createLogger(options.level ?? 0, (text) => output.push(text));
  const cache = (): ReturnType<typeof keyringTokenCache> => keyringTokenCache({ openKeyring, disk, log });
  return { keyring, disk, output, cache, opens: () => opens };
}

describe('keyringTokenCache: where tokens go', () => {
  it('stores the entry in the keyring as the disk JSON, records a marker, writes no file, and reads it back', async () => {
    const { keyring, disk, output, cache } = setUp();
    await cache().write(entry());
    expect(keyring.items.get(KEY)).toBe(serializeCacheEntry(entry()));
    expect(disk.files.size).toBe(0);
    expect([...disk.marked]).toEqual([KEY]);
    expect(await cache().read(KEY, EXPECTED)).toEqual(entry());
    expect(output).toEqual([]);
  });

  it('a successful keyring write deletes the disk copy (a fallback, or a disk cache from before the switch)', async () => {
    const { keyring, disk, cache } = setUp();
    disk.files.set(KEY, entry({ savedAt: '2026-06-01T11:00:00.000Z' }));
    await cache().write(entry());
    expect(disk.files.has(KEY)).toBe(false);
    expect(keyring.items.has(KEY)).toBe(true);
  });

  it('keyring unavailable (the module does not load): the entry goes to disk with one warning naming the reason; the keyring is opened once', async () => {
    const { disk, output, cache, opens } = setUp({ open: 'fails' });
    const store = cache();
    expect(await store.read(KEY, EXPECTED)).toBeUndefined();
    await store.write(entry());
    await store.write(entry({ savedAt: '2026-06-01T12:30:00.000Z' }));
    expect(disk.files.get(KEY)?.savedAt).toBe('2026-06-01T12:30:00.000Z');
    expect(output).toEqual([`warning: could not store the token in the keyring (cannot load @napi-rs/keyring: Cannot find module); it is cached in /cache/${KEY} instead\n`]);
    expect(opens()).toBe(1);
    expect(disk.marked.size).toBe(0);
    // The next process finds that entry on disk.
    expect(await cache().read(KEY, EXPECTED)).toEqual(entry({ savedAt: '2026-06-01T12:30:00.000Z' }));
  });

  it('keyring locked (reading fails): the disk entry is used, and the write goes to disk without asking the keyring again', async () => {
    const { keyring, disk, output, cache } = setUp({ level: 1 });
    keyring.fail.get = "Couldn't access platform storage: Secret Service: no result found";
    disk.files.set(KEY, entry({ savedAt: '2026-06-01T11:00:00.000Z' }));
    const store = cache();
    expect((await store.read(KEY, EXPECTED))?.savedAt).toBe('2026-06-01T11:00:00.000Z');
    await store.write(entry());
    expect(keyring.calls).toEqual(['get']);
    expect(disk.files.get(KEY)).toEqual(entry());
    expect(output).toContain(`the keyring cannot be used (reading the token): Couldn't access platform storage: Secret Service: no result found\n`);
    expect(output).toContain(`using the token cached in /cache/${KEY}, as the keyring cannot be used\n`);
    expect(output.filter((line) => line.startsWith('warning: '))).toEqual([
      `warning: could not store the token in the keyring (Couldn't access platform storage: Secret Service: no result found); it is cached in /cache/${KEY} instead\n`,
    ]);
  });

  it('refused as too large (kubelogin #1255): the entry goes to disk with a warning, and the older keyring item is deleted', async () => {
    const { keyring, disk, output, cache } = setUp();
    const old = entry({ savedAt: '2026-06-01T11:00:00.000Z', refreshToken: 'older-refresh-token' });
    keyring.items.set(KEY, serializeCacheEntry(old));
    disk.marked.add(KEY);
    keyring.fail.set = 'Attribute password is longer than platform limit of 2560 chars';
    const big = entry({ idToken: `x.${'g'.repeat(5000)}.y` });
    await cache().write(big);
    expect(disk.files.get(KEY)).toEqual(big);
    expect(keyring.items.has(KEY)).toBe(false);
    // Nothing of this key is left in the keyring: its marker goes too.
    expect(disk.marked.size).toBe(0);
    expect(output).toEqual([`warning: could not store the token in the keyring (Attribute password is longer than platform limit of 2560 chars); it is cached in /cache/${KEY} instead\n`]);
    expect(await cache().read(KEY, EXPECTED)).toEqual(big);
  });

  it('refused, and the older keyring item cannot be deleted: reads still take the newer entry, from disk', async () => {
    const { keyring, disk, cache } = setUp();
    keyring.items.set(KEY, serializeCacheEntry(entry({ savedAt: '2026-06-01T11:00:00.000Z' })));
    keyring.fail.set = 'data passed to Set was too big';
    keyring.fail.delete = 'locked';
    await cache().write(entry());
    keyring.fail.set = undefined;
    expect(keyring.items.has(KEY)).toBe(true);
    expect(await cache().read(KEY, EXPECTED)).toEqual(entry());
    expect(disk.files.has(KEY)).toBe(true);
  });

  it('with an entry in both places the newer one is read (savedAt); equal times prefer the keyring', async () => {
    const { keyring, disk, cache } = setUp();
    const early = entry({ savedAt: '2026-06-01T11:00:00.000Z', idToken: 'early' });
    const late = entry({ savedAt: '2026-06-01T12:00:00.000Z', idToken: 'late' });
    keyring.items.set(KEY, serializeCacheEntry(early));
    disk.files.set(KEY, late);
    expect((await cache().read(KEY, EXPECTED))?.idToken).toBe('late');
    keyring.items.set(KEY, serializeCacheEntry(late));
    disk.files.set(KEY, early);
    expect((await cache().read(KEY, EXPECTED))?.idToken).toBe('late');
    disk.files.set(KEY, entry({ savedAt: late.savedAt, idToken: 'same time on disk' }));
    expect((await cache().read(KEY, EXPECTED))?.idToken).toBe('late');
  });

  it('checks a keyring item as a file is checked: corrupt, another key or other provider settings are a miss', async () => {
    const { keyring, output, cache } = setUp({ level: 1 });
    for (const [secret, problem] of [
      ['not json', 'is not a valid cache entry: not valid JSON'],
      [serializeCacheEntry(entry({ key: OTHER_KEY })), `records another cache key (${OTHER_KEY})`],
      [serializeCacheEntry(entry({ issuer: 'https://other.example.com' })), 'belongs to other provider settings'],
      [JSON.stringify({ format: 'kubelogin' }), 'is not a valid cache entry: unknown format "kubelogin"'],
    ] as const) {
      keyring.items.set(KEY, secret);
      output.length = 0;
      expect(await cache().read(KEY, EXPECTED)).toBeUndefined();
      expect(output).toEqual([`ignoring the keyring item: keyring:${KEYRING_SERVICE}/${KEY} ${problem}\n`]);
    }
  });

  it('when the disk cannot be written either, the write rejects with one ERR_CACHE naming both (get-token then warns that the token is not cached)', async () => {
    const { disk, output, cache } = setUp({ open: 'fails' });
    disk.writeError = 'EACCES: permission denied';
    const failure = await cache().write(entry()).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(PluginError);
    expect((failure as PluginError).code).toBe('ERR_CACHE');
    expect((failure as PluginError).message).toBe(
      `could not store the token in the keyring (cannot load @napi-rs/keyring: Cannot find module), nor on disk: could not write the token cache /cache/${KEY}: EACCES: permission denied`,
    );
    expect(output).toEqual([]);
  });

  it('never prints a token, even at -v3', async () => {
    const { keyring, disk, output, cache } = setUp({ level: 3 });
    keyring.items.set(KEY, 'corrupt');
    keyring.fail.set = 'too big';
    disk.files.set(KEY, entry({ savedAt: '2026-06-01T11:00:00.000Z' }));
    await cache().read(KEY, EXPECTED);
    await cache().write(entry());
    const text = output.join('');
    for (const secret of [REFRESH_TOKEN, 'id.token.value', 'access-token-value']) expect(text).not.toContain(secret);
  });
});

describe('status and clean with an unreachable keyring', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function cacheDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'keyring-unit-'));
    dirs.push(dir);
    return dir;
  }
  const unreachable = async (): Promise<Keyring> => {
    throw new Error('Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead');
  };
  function cleanConfig(dir: string, filter: CleanConfig['filter'] = { issuerUrl: undefined, clientId: undefined }): CleanConfig {
    return { dir, filter, revoke: false, clientSecret: undefined, requestHeaders: {}, tls: { caFiles: [], caData: [], insecureSkipVerify: false }, verbosity: 0 };
  }
  function cleanDeps(output: string[], errors: PluginError[], openKeyring: () => Promise<Keyring>) {
    return {
      log: createLogger(0, (text: string) => output.push(text)),
      withLock: <T>(_key: string, work: () => Promise<T>) => work(),
      revoker: async () => {
        throw new Error('no revocation here');
      },
      reportError: (error: PluginError) => errors.push(error),
      openKeyring,
    };
  }

  it('status: without markers the keyring is not mentioned; with markers their keys are listed as unreadable, with the reason', async () => {
    const dir = cacheDir();
    const output: string[] = [];
    const log = createLogger(0, (text) => output.push(text));
    expect(await keyringStatusListing(dir, unreachable, log)).toEqual({ entries: [], unreadable: [] });
    writeFileSync(join(dir, `${KEY}.keyring`), JSON.stringify({ service: KEYRING_SERVICE, account: KEY, issuer: ISSUER, client_id: 'kubectl' }));
    const listing = await keyringStatusListing(dir, unreachable, log);
    expect(listing.unreadable).toEqual([{ file: `keyring:${KEYRING_SERVICE}/${KEY}`, problem: expect.stringMatching(/^the keyring cannot be read: Platform failure: DBus error/) }]);
    expect(output).toEqual([]);
    const report = buildStatusReport(listing, { cacheDir: dir, filter: { issuerUrl: undefined, clientId: undefined }, nowMs: Date.now() });
    expect(formatStatusText(report, Date.now())).toContain(`  keyring:${KEYRING_SERVICE}/${KEY}: the keyring cannot be read: Platform failure`);
  });

  it('status lists keyring entries as storage "keyring", naming the item', async () => {
    const keyring = new FakeKeyring();
    keyring.items.set(KEY, serializeCacheEntry(entry()));
    keyring.items.set('not-a-key', 'x');
    const listing = await keyringStatusListing(cacheDir(), async () => keyring, createLogger(0, () => {}));
    const report = buildStatusReport({ entries: listing.entries.map((listed) => ({ ...listed, storage: 'keyring' as const })), unreadable: listing.unreadable }, { cacheDir: '/c', filter: { issuerUrl: undefined, clientId: undefined }, nowMs: Date.now() });
    expect(report.entries).toMatchObject([{ key: KEY, storage: 'keyring', file: `keyring:${KEYRING_SERVICE}/${KEY}`, refreshToken: true }]);
    expect(report.unreadable).toEqual([{ file: `keyring:${KEYRING_SERVICE}/not-a-key`, problem: 'not an account of kubectl-oidc-login (not a cache key)' }]);
    expect(formatStatusText(report, Date.now())).toContain(`  keyring item:   keyring:${KEYRING_SERVICE}/${KEY}\n`);
  });

  it('clean: an unreachable keyring without markers is no error; with markers it is (exit 1), and the markers are kept for the next run', async () => {
    const dir = cacheDir();
    writeCacheEntry(dir, entry({ key: OTHER_KEY }));
    const output: string[] = [];
    const errors: PluginError[] = [];
    expect(await cleanCache(cleanConfig(dir), cleanDeps(output, errors, unreachable))).toEqual({ failed: 0 });
    expect(errors).toEqual([]);
    expect(output).toEqual([`Deleted the token cache from ${dir} (1 file)\n`]);
    expect(existsSync(dir)).toBe(false);

    const marked = cacheDir();
    writeCacheEntry(marked, entry({ key: OTHER_KEY }));
    writeFileSync(join(marked, `${KEY}.keyring`), JSON.stringify({ service: KEYRING_SERVICE, account: KEY, issuer: ISSUER, client_id: 'kubectl' }));
    output.length = 0;
    expect(await cleanCache(cleanConfig(marked), cleanDeps(output, errors, unreachable))).toEqual({ failed: 1 });
    expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(new RegExp(`^could not clean the keyring, which holds 1 cached token from ${marked}: Platform failure`))]);
    expect(readdirSync(marked)).toEqual([`${KEY}.keyring`]);
    // A filter that the marker's provider does not match: no error.
    errors.length = 0;
    expect(await cleanCache(cleanConfig(marked, { issuerUrl: 'https://other.example.com', clientId: undefined }), cleanDeps(output, errors, unreachable))).toEqual({ failed: 0 });
    expect(errors).toEqual([]);
  });

  it('clean deletes every item of the service, or with a filter only the matching ones (and their markers)', async () => {
    const dir = cacheDir();
    const keyring = new FakeKeyring();
    keyring.items.set(KEY, serializeCacheEntry(entry()));
    keyring.items.set(OTHER_KEY, serializeCacheEntry(entry({ key: OTHER_KEY, issuer: 'https://other.example.com' })));
    writeFileSync(join(dir, `${KEY}.keyring`), '{}');
    writeFileSync(join(dir, `${OTHER_KEY}.keyring`), '{}');
    const output: string[] = [];
    const errors: PluginError[] = [];
    expect(await cleanCache(cleanConfig(dir, { issuerUrl: ISSUER, clientId: undefined }), cleanDeps(output, errors, async () => keyring))).toEqual({ failed: 0 });
    expect([...keyring.items.keys()]).toEqual([OTHER_KEY]);
    expect(readdirSync(dir)).toEqual([`${OTHER_KEY}.keyring`]);
    expect(output).toEqual([`Deleted 1 cached token (${ISSUER}, client kubectl) from the keyring (service ${KEYRING_SERVICE})\n`]);
    output.length = 0;
    keyring.items.set('0'.repeat(32), 'corrupt');
    expect(await cleanCache(cleanConfig(dir), cleanDeps(output, errors, async () => keyring))).toEqual({ failed: 0 });
    expect(keyring.items.size).toBe(0);
    expect(output).toEqual([`Deleted the token cache from ${dir} (1 file)\n`, `Deleted 2 cached tokens from the keyring (service ${KEYRING_SERVICE})\n`]);
    expect(errors).toEqual([]);
  });
});
