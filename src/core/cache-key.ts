/**
 * The cache key: which cached token belongs to which provider settings.
 *
 * Every setting that can change the token the provider issues goes into a canonical JSON document (keys
 * sorted at every level, scopes de-duplicated and sorted, header names lower-cased), and the key is the
 * FNV-1a 128-bit hash of its UTF-8 bytes, as 32 hex digits. kubelogin hashes a Go gob encoding whose map
 * order is random, so two or more request headers give a different file on every run (kubelogin-compat.md
 * §7.2); sorted JSON cannot do that.
 *
 * Why not SHA-256: loading node:crypto costs about 3 ms per process, over 10% of Node's whole start-up, on
 * the path kubectl runs for every command (`npm run bench` measures it). The key only names a file in the
 * user's own 0700 directory, and the entry repeats its key, issuer and client id, which are checked on read,
 * so an accidental collision would be a cache miss, never a wrong token.
 */

export interface CacheKeyInput {
  issuerUrl: string;
  clientId: string;
  clientSecret: string | undefined;
  extraScopes: readonly string[];
  redirectUrl: string | undefined;
  pkceMethod: string;
  useAccessToken: boolean;
  requestHeaders: Readonly<Record<string, string>>;
  authRequestExtraParams: Readonly<Record<string, string>>;
  /** Who the token is for, when the settings say: --login-hint, the password grant's --username, or the client itself. */
  loginHint?: string | undefined;
  username?: string | undefined;
  clientCredentials?: boolean;
}

/** The key of a get-token configuration: the provider settings plus whose token it is. */
export function cacheKeyFor(settings: { provider: CacheKeyInput; login: { grantType: string; username: string | undefined } }): string {
  const { provider, login } = settings;
  return cacheKey({
    ...provider,
    username: login.grantType === 'password' ? login.username : undefined,
    clientCredentials: login.grantType === 'client-credentials',
  });
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json | undefined };

/** JSON with object keys sorted at every level; undefined members are dropped. */
export function canonicalJson(value: Json | undefined): string {
  if (value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.keys(value)
      .sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

export function cacheKeyMaterial(input: CacheKeyInput): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.requestHeaders)) headers[name.toLowerCase()] = value;
  return canonicalJson({
    v: 1,
    issuer: input.issuerUrl,
    clientId: input.clientId,
    clientSecret: input.clientSecret ?? null,
    scopes: [...new Set(input.extraScopes)].sort(),
    redirectUrl: input.redirectUrl ?? null,
    pkceMethod: input.pkceMethod,
    useAccessToken: input.useAccessToken,
    requestHeaders: headers,
    authRequestExtraParams: { ...input.authRequestExtraParams },
    // Present only when set, so that the keys of plain settings stay what they were.
    loginHint: input.loginHint,
    username: input.username,
    grant: input.clientCredentials === true ? 'client-credentials' : undefined,
  });
}

export function cacheKey(input: CacheKeyInput): string {
  return fnv1a128Hex(cacheKeyMaterial(input));
}

const FNV128_PRIME = 0x0000000001000000000000000000013bn;
const FNV128_OFFSET = 0x6c62272e07bb014262b821756295c58dn;
const MASK128 = (1n << 128n) - 1n;

/** FNV-1a, 128-bit (http://www.isthe.com/chongo/tech/comp/fnv/), over the UTF-8 bytes of text. */
export function fnv1a128Hex(text: string): string {
  let hash = FNV128_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * FNV128_PRIME) & MASK128;
  }
  return hash.toString(16).padStart(32, '0');
}
