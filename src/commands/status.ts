/**
 * status: what the token cache holds, read from the files alone (no request to any provider). Pure: the
 * listing and the current time come in, a report and its text or JSON go out; the CLI prints it on stdout,
 * since the listing is the command's product (as for `kubectl get`).
 *
 * Token values never appear in either output: only facts read from them (subject, email, expiry) and
 * whether a refresh token is held.
 *
 * Entries of --token-cache-storage=keyring come in the same listing, marked `storage: 'keyring'`, their `file`
 * naming the item (`keyring:kubectl-oidc-login/<key>`, system/keyring-store.ts).
 */
import { describeCacheFilter, matchesCacheFilter, type CacheEntry, type CacheFilter } from '../core/cache-entry.js';
import { credentialToken } from '../core/token-policy.js';
import { readTokenIdentity, readTokenTimes } from '../core/token-claims.js';
import type { ListedEntry, UnreadableEntry } from '../system/token-store.js';

export type CacheStorageKind = 'disk' | 'keyring';

/** The token cache files (system/token-store.ts listCacheEntries) and keyring items, the latter with storage 'keyring'. */
export interface StatusListing {
  entries: Array<ListedEntry & { storage?: CacheStorageKind }>;
  unreadable: UnreadableEntry[];
}

export type StatusOutput = 'text' | 'json';

export interface StatusConfig {
  dir: string;
  filter: CacheFilter;
  output: StatusOutput;
  verbosity: number;
}

/** One cache entry as reported; the field names are those of `--output json`. */
export interface StatusEntry {
  /** The cache key, which is the file name (the keyring item's account). */
  key: string;
  /** The entry file; for a keyring entry, `keyring:<service>/<key>`. */
  file: string;
  issuer: string;
  clientId: string;
  /** The scopes requested besides openid (get-token's --oidc-extra-scope). */
  scopes: string[];
  /** The token kubectl gets: the ID token, or the access token with --oidc-use-access-token. */
  tokenType: 'id_token' | 'access_token';
  subject: string | null;
  email: string | null;
  /** The token's exp (RFC 3339, UTC); null when there is no such token or it has no exp. */
  expiresAt: string | null;
  /** True when expiresAt has passed, and when it is null (get-token would not reuse such a token). */
  expired: boolean;
  refreshToken: boolean;
  storage: CacheStorageKind;
  savedAt: string;
}

export interface StatusReport {
  cacheDir: string;
  entries: StatusEntry[];
  unreadable: UnreadableEntry[];
  /** The filter flags, for the text output; undefined without a filter. */
  filter: string | undefined;
  /** Entries the filter left out. */
  filteredOut: number;
}

export function buildStatusReport(listing: StatusListing, options: { cacheDir: string; filter: CacheFilter; nowMs: number }): StatusReport {
  const matching = listing.entries.filter(({ entry }) => matchesCacheFilter(entry, options.filter));
  const entries = matching
    .map(({ file, entry, storage }) => describeEntry(file, entry, storage ?? 'disk', options.nowMs))
    .sort((a, b) => compare(a.issuer, b.issuer) || compare(a.clientId, b.clientId) || compare(a.file, b.file));
  return {
    cacheDir: options.cacheDir,
    entries,
    // A file that cannot be read cannot be matched either: it is always shown, since it may be the one sought.
    unreadable: listing.unreadable,
    filter: describeCacheFilter(options.filter),
    filteredOut: listing.entries.length - matching.length,
  };
}

function describeEntry(file: string, entry: CacheEntry, storage: CacheStorageKind, nowMs: number): StatusEntry {
  const token = credentialToken(entry, entry.useAccessToken);
  const times = token === undefined ? undefined : readTokenTimes(token);
  // The identity comes from the token kubectl gets; access tokens often lack email, the ID token has it.
  const identity = token === undefined ? undefined : readTokenIdentity(token);
  const idIdentity = entry.idToken === undefined ? undefined : readTokenIdentity(entry.idToken);
  return {
    key: entry.key,
    file,
    issuer: entry.issuer,
    clientId: entry.clientId,
    scopes: entry.scopes,
    tokenType: entry.useAccessToken ? 'access_token' : 'id_token',
    subject: identity?.subject ?? idIdentity?.subject ?? null,
    email: identity?.email ?? idIdentity?.email ?? null,
    expiresAt: times === undefined ? null : rfc3339(times.expiresAtMs),
    expired: times === undefined || times.expiresAtMs <= nowMs,
    refreshToken: entry.refreshToken !== undefined,
    storage,
    savedAt: entry.savedAt,
  };
}

/** The JSON output: one object, pretty-printed, ending in a newline. */
export function formatStatusJson(report: StatusReport): string {
  const { cacheDir, entries, unreadable } = report;
  return `${JSON.stringify({ cacheDir, entries, unreadable }, null, 2)}\n`;
}

export function formatStatusText(report: StatusReport, nowMs: number): string {
  const { cacheDir, entries, filter } = report;
  let text: string;
  if (entries.length === 0) {
    text = filter === undefined ? `No cached tokens in ${cacheDir}\n` : `No cached tokens in ${cacheDir} match ${filter}\n`;
  } else {
    const count = `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}`;
    const scope = filter === undefined || report.filteredOut === 0 ? count : `${count} matching ${filter}; ${report.filteredOut} more not shown`;
    text = `Token cache ${cacheDir} (${scope})\n`;
    for (const entry of entries) text += `\n${formatEntry(entry, nowMs)}`;
  }
  if (report.unreadable.length > 0) {
    text += `\nUnreadable files (get-token ignores them; "kubectl oidc-login clean" deletes them):\n`;
    for (const { file, problem } of report.unreadable) text += `  ${file}: ${problem}\n`;
  }
  return text;
}

function formatEntry(entry: StatusEntry, nowMs: number): string {
  const rows: Array<[string, string]> = [
    ['extra scopes', entry.scopes.length > 0 ? entry.scopes.join(' ') : '(none)'],
    ['subject', entry.subject ?? '-'],
    ['email', entry.email ?? '-'],
    [entry.tokenType, describeExpiry(entry, nowMs)],
    ['refresh token', entry.refreshToken ? 'yes' : 'no'],
    ['storage', `${entry.storage}, saved ${normalizeTime(entry.savedAt)}`],
    entry.storage === 'keyring' ? ['keyring item', entry.file] : ['cache file', entry.file],
  ];
  return `${entry.issuer} (client ${entry.clientId})\n${rows.map(([label, value]) => `  ${`${label}:`.padEnd(15)} ${value}\n`).join('')}`;
}

function describeExpiry(entry: StatusEntry, nowMs: number): string {
  const mode = entry.tokenType === 'access_token' ? ' (--oidc-use-access-token)' : '';
  if (entry.expiresAt === null) return `no usable token${mode}: none cached, or not a JWT with exp`;
  return `${relativeTime(Date.parse(entry.expiresAt) - nowMs)} (${entry.expiresAt})${mode}`;
}

/** "in 4m 10s" for a future instant, "expired 2h ago" for a past one. */
export function relativeTime(deltaMs: number): string {
  if (deltaMs > 0) return `expires in ${formatDuration(deltaMs)}`;
  if (deltaMs > -1000) return 'expired just now';
  return `expired ${formatDuration(-deltaMs)} ago`;
}

const UNITS: ReadonlyArray<[string, number]> = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
];

/** The two largest units, whole and truncated: 250 s → "4m 10s", 7200 s → "2h", 90061 s → "1d 1h". */
export function formatDuration(ms: number): string {
  let seconds = Math.floor(Math.abs(ms) / 1000);
  const first = UNITS.findIndex(([, size]) => seconds >= size);
  if (first === -1) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of UNITS.slice(first, first + 2)) {
    const value = Math.floor(seconds / size);
    seconds -= value * size;
    if (value > 0) parts.push(`${value}${unit}`);
  }
  return parts.join(' ');
}

/** RFC 3339 in UTC to the second: exp is whole seconds. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function normalizeTime(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : rfc3339(ms);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
