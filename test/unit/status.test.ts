import { describe, expect, it } from 'vitest';
import type { CacheEntry } from '../../src/core/cache-entry.js';
import { buildStatusReport, formatDuration, formatStatusJson, formatStatusText, relativeTime } from '../../src/commands/status.js';
import type { CacheListing } from '../../src/system/token-store.js';
import { unsignedJwt } from '../support/jwt.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const sec = (ms: number): number => Math.floor(ms / 1000);
const DIR = '/home/alice/.kube/cache/oidc-login';
const KEY_A = '0123456789abcdef0123456789abcdef';
const KEY_B = 'fedcba9876543210fedcba9876543210';
const NO_FILTER = { issuerUrl: undefined, clientId: undefined };

function entry(fields: Partial<CacheEntry>): CacheEntry {
  return {
    key: KEY_A,
    issuer: 'https://issuer.example.com',
    clientId: 'kubectl',
    scopes: ['email', 'groups'],
    useAccessToken: false,
    savedAt: '2026-06-01T11:55:00.123Z',
    idToken: undefined,
    accessToken: undefined,
    refreshToken: undefined,
    ...fields,
  };
}

function listing(...entries: CacheEntry[]): CacheListing {
  return { entries: entries.map((e) => ({ file: `${DIR}/${e.key}`, entry: e })), unreadable: [] };
}

const ID_TOKEN = unsignedJwt({ sub: 'alice', email: 'alice@example.com', iat: sec(NOW) - 50, exp: sec(NOW) + 250 });
const REFRESH_TOKEN = 'refresh-token-value-that-must-not-appear';

describe('formatDuration and relativeTime', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [59_000, '59s'],
    [250_000, '4m 10s'],
    [3_600_000, '1h'],
    [7_200_000 + 5 * 60_000 + 9_000, '2h 5m'],
    [90_061_000, '1d 1h'],
    [3 * 86_400_000, '3d'],
  ])('%i ms is "%s"', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('says "expires in" ahead and "expired … ago" behind', () => {
    expect(relativeTime(250_000)).toBe('expires in 4m 10s');
    expect(relativeTime(-7_200_000)).toBe('expired 2h ago');
    expect(relativeTime(-400)).toBe('expired just now');
    expect(relativeTime(0)).toBe('expired just now');
  });
});

describe('buildStatusReport', () => {
  it('reports the ID token: who, when it expires, whether a refresh token is held', () => {
    const report = buildStatusReport(listing(entry({ idToken: ID_TOKEN, accessToken: 'opaque', refreshToken: REFRESH_TOKEN })), { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW });
    expect(report.entries).toEqual([
      {
        key: KEY_A,
        file: `${DIR}/${KEY_A}`,
        issuer: 'https://issuer.example.com',
        clientId: 'kubectl',
        scopes: ['email', 'groups'],
        tokenType: 'id_token',
        subject: 'alice',
        email: 'alice@example.com',
        expiresAt: '2026-06-01T12:04:10Z',
        expired: false,
        refreshToken: true,
        storage: 'disk',
        savedAt: '2026-06-01T11:55:00.123Z',
      },
    ]);
  });

  it('in access-token mode reports the access token, taking the email from the ID token when the access token lacks it', () => {
    const accessToken = unsignedJwt({ sub: 'alice', aud: 'kubernetes', exp: sec(NOW) - 7200 });
    const [reported] = buildStatusReport(listing(entry({ useAccessToken: true, idToken: ID_TOKEN, accessToken })), { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW }).entries;
    expect(reported).toMatchObject({ tokenType: 'access_token', subject: 'alice', email: 'alice@example.com', expiresAt: '2026-06-01T10:00:00Z', expired: true, refreshToken: false });
  });

  it('a missing token or one without exp has no expiry and counts as expired (get-token would not reuse it)', () => {
    const report = buildStatusReport(
      listing(entry({ key: KEY_A, idToken: undefined }), entry({ key: KEY_B, clientId: 'other', idToken: unsignedJwt({ sub: 'bob' }) })),
      { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW },
    );
    expect(report.entries.map(({ expiresAt, expired, subject }) => ({ expiresAt, expired, subject }))).toEqual([
      { expiresAt: null, expired: true, subject: null },
      { expiresAt: null, expired: true, subject: 'bob' },
    ]);
  });

  it('filters by exact issuer and client ID, sorts by issuer then client, and always keeps the unreadable files', () => {
    const all: CacheListing = {
      ...listing(entry({ key: KEY_A, clientId: 'z-client' }), entry({ key: KEY_B, clientId: 'a-client' }), entry({ key: 'c'.repeat(32), issuer: 'https://issuer.example.com/' })),
      unreadable: [{ file: `${DIR}/${'d'.repeat(32)}`, problem: 'not valid JSON' }],
    };
    const sorted = buildStatusReport(all, { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW });
    expect(sorted.entries.map((e) => `${e.issuer} ${e.clientId}`)).toEqual(['https://issuer.example.com a-client', 'https://issuer.example.com z-client', 'https://issuer.example.com/ kubectl']);
    const filtered = buildStatusReport(all, { cacheDir: DIR, filter: { issuerUrl: 'https://issuer.example.com', clientId: 'a-client' }, nowMs: NOW });
    expect(filtered.entries.map((e) => e.key)).toEqual([KEY_B]);
    expect(filtered.filteredOut).toBe(2);
    expect(filtered.filter).toBe('--oidc-issuer-url=https://issuer.example.com --oidc-client-id=a-client');
    expect(filtered.unreadable).toEqual(all.unreadable);
  });
});

describe('formatStatusText', () => {
  it('prints one block per entry with relative and absolute expiry, and never a token value', () => {
    const tokens = { idToken: ID_TOKEN, accessToken: 'access-token-value', refreshToken: REFRESH_TOKEN };
    const report = buildStatusReport(listing(entry(tokens)), { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW });
    const text = formatStatusText(report, NOW);
    expect(text).toBe(
      [
        `Token cache ${DIR} (1 entry)`,
        '',
        'https://issuer.example.com (client kubectl)',
        '  extra scopes:   email groups',
        '  subject:        alice',
        '  email:          alice@example.com',
        '  id_token:       expires in 4m 10s (2026-06-01T12:04:10Z)',
        '  refresh token:  yes',
        '  storage:        disk, saved 2026-06-01T11:55:00Z',
        `  cache file:     ${DIR}/${KEY_A}`,
        '',
      ].join('\n'),
    );
    for (const value of Object.values(tokens)) {
      expect(text).not.toContain(value);
      expect(formatStatusJson(report)).not.toContain(value);
    }
  });

  it('shows an expired access token and missing claims', () => {
    const accessToken = unsignedJwt({ exp: sec(NOW) - 7200 });
    const text = formatStatusText(buildStatusReport(listing(entry({ useAccessToken: true, accessToken, scopes: [] })), { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW }), NOW);
    expect(text).toContain('  extra scopes:   (none)\n  subject:        -\n  email:          -\n');
    expect(text).toContain('  access_token:   expired 2h ago (2026-06-01T10:00:00Z) (--oidc-use-access-token)\n');
    expect(text).toContain('  refresh token:  no\n');
  });

  it('says when the cache is empty or nothing matches, and lists unreadable files with the reason', () => {
    const empty = buildStatusReport({ entries: [], unreadable: [] }, { cacheDir: DIR, filter: NO_FILTER, nowMs: NOW });
    expect(formatStatusText(empty, NOW)).toBe(`No cached tokens in ${DIR}\n`);
    const unreadable = { file: `${DIR}/${KEY_B}`, problem: 'is not a valid cache entry: not valid JSON' };
    const none = buildStatusReport({ ...listing(entry({})), unreadable: [unreadable] }, { cacheDir: DIR, filter: { issuerUrl: undefined, clientId: 'x' }, nowMs: NOW });
    expect(formatStatusText(none, NOW)).toBe(
      `No cached tokens in ${DIR} match --oidc-client-id=x\n\nUnreadable files (get-token ignores them; "kubectl oidc-login clean" deletes them):\n  ${DIR}/${KEY_B}: is not a valid cache entry: not valid JSON\n`,
    );
  });

  it('says how many entries a filter left out', () => {
    const report = buildStatusReport(listing(entry({ key: KEY_A }), entry({ key: KEY_B, clientId: 'other' })), { cacheDir: DIR, filter: { issuerUrl: undefined, clientId: 'other' }, nowMs: NOW });
    expect(formatStatusText(report, NOW).split('\n')[0]).toBe(`Token cache ${DIR} (1 entry matching --oidc-client-id=other; 1 more not shown)`);
  });
});

describe('formatStatusJson', () => {
  it('is one object with cacheDir, entries and unreadable only', () => {
    const report = buildStatusReport(listing(entry({ idToken: ID_TOKEN })), { cacheDir: DIR, filter: { issuerUrl: undefined, clientId: 'kubectl' }, nowMs: NOW });
    const json = JSON.parse(formatStatusJson(report)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['cacheDir', 'entries', 'unreadable']);
    expect(json['entries']).toEqual([expect.objectContaining({ key: KEY_A, subject: 'alice', expired: false, refreshToken: false })]);
  });
});
