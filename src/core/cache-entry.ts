/**
 * The on-disk token cache entry. Besides the tokens it records the provider settings (issuer, client id,
 * scopes) so that `clean` and `status` can list entries without knowing the flags that made them, and a
 * format version so that a later release can migrate or ignore old files.
 */
import { isRecord } from './exec-credential.js';

export const CACHE_FORMAT = 'kubectl-oidc-login/v1';

export interface TokenSet {
  idToken: string | undefined;
  accessToken: string | undefined;
  refreshToken: string | undefined;
}

export interface CacheEntry extends TokenSet {
  /** The cache key (the file name), repeated inside so that a copied or renamed file is not trusted. */
  key: string;
  issuer: string;
  clientId: string;
  scopes: string[];
  useAccessToken: boolean;
  savedAt: string;
}

export function serializeCacheEntry(entry: CacheEntry): string {
  return `${JSON.stringify({
    format: CACHE_FORMAT,
    key: entry.key,
    issuer: entry.issuer,
    client_id: entry.clientId,
    scopes: entry.scopes,
    use_access_token: entry.useAccessToken,
    saved_at: entry.savedAt,
    id_token: entry.idToken,
    access_token: entry.accessToken,
    refresh_token: entry.refreshToken,
  })}\n`;
}

/** Parses a cache file. Throws an Error whose message says what is wrong; callers treat that as a miss. */
export function parseCacheEntry(text: string): CacheEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  if (!isRecord(raw)) throw new Error('not a JSON object');
  if (raw['format'] !== CACHE_FORMAT) throw new Error(`unknown format ${JSON.stringify(raw['format'] ?? null)}`);
  const scopes = raw['scopes'];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) throw new Error('scopes is not a list of strings');
  return {
    key: requireString(raw, 'key'),
    issuer: requireString(raw, 'issuer'),
    clientId: requireString(raw, 'client_id'),
    scopes,
    useAccessToken: raw['use_access_token'] === true,
    savedAt: requireString(raw, 'saved_at'),
    idToken: optionalString(raw, 'id_token'),
    accessToken: optionalString(raw, 'access_token'),
    refreshToken: optionalString(raw, 'refresh_token'),
  };
}

function requireString(raw: Record<string, unknown>, name: string): string {
  const value = raw[name];
  if (typeof value !== 'string' || value === '') throw new Error(`${name} is missing`);
  return value;
}

function optionalString(raw: Record<string, unknown>, name: string): string | undefined {
  const value = raw[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`${name} is not a string`);
  return value === '' ? undefined : value;
}

/** Selects cache entries by provider (status and clean); an undefined field matches every entry. */
export interface CacheFilter {
  issuerUrl: string | undefined;
  clientId: string | undefined;
}

/** Exact matches: the issuer as recorded in the entry, i.e. as given to get-token (trailing slash and all). */
export function matchesCacheFilter(entry: Pick<CacheEntry, 'issuer' | 'clientId'>, filter: CacheFilter): boolean {
  return (filter.issuerUrl === undefined || entry.issuer === filter.issuerUrl) && (filter.clientId === undefined || entry.clientId === filter.clientId);
}

/** The filter as the flags that made it, for messages; undefined when it matches everything. */
export function describeCacheFilter(filter: CacheFilter): string | undefined {
  const parts: string[] = [];
  if (filter.issuerUrl !== undefined) parts.push(`--oidc-issuer-url=${filter.issuerUrl}`);
  if (filter.clientId !== undefined) parts.push(`--oidc-client-id=${filter.clientId}`);
  return parts.length === 0 ? undefined : parts.join(' ');
}
