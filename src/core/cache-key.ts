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

/**
 * canonicalJson of the document { v: 1, issuer, clientId, clientSecret, scopes, redirectUrl, pkceMethod,
 * useAccessToken, requestHeaders, authRequestExtraParams, loginHint?, username?, grant? } (the optional members
 * present only when set, so that the keys of plain settings stay what they were), written out member by member in
 * its sorted key order: this runs on every cache hit. test/unit/cache-key.test.ts holds it against canonicalJson.
 */
export function cacheKeyMaterial(input: CacheKeyInput): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.requestHeaders)) headers[name.toLowerCase()] = value;
  let json = `{"authRequestExtraParams":${canonicalJson({ ...input.authRequestExtraParams })},"clientId":${JSON.stringify(input.clientId)}`;
  json += `,"clientSecret":${JSON.stringify(input.clientSecret ?? null)}`;
  if (input.clientCredentials === true) json += ',"grant":"client-credentials"';
  json += `,"issuer":${JSON.stringify(input.issuerUrl)}`;
  if (input.loginHint !== undefined) json += `,"loginHint":${JSON.stringify(input.loginHint)}`;
  json += `,"pkceMethod":${JSON.stringify(input.pkceMethod)},"redirectUrl":${JSON.stringify(input.redirectUrl ?? null)}`;
  json += `,"requestHeaders":${canonicalJson(headers)},"scopes":${JSON.stringify([...new Set(input.extraScopes)].sort())}`;
  json += `,"useAccessToken":${JSON.stringify(input.useAccessToken)}`;
  if (input.username !== undefined) json += `,"username":${JSON.stringify(input.username)}`;
  return `${json},"v":1}`;
}

export function cacheKey(input: CacheKeyInput): string {
  return fnv1a128Hex(cacheKeyMaterial(input));
}

/**
 * FNV-1a, 128-bit (http://www.isthe.com/chongo/tech/comp/fnv/), over the UTF-8 bytes of text (lone surrogates
 * as U+FFFD, as TextEncoder has it). The state is eight 16-bit limbs, least significant first: this runs on
 * every kubectl command, and BigInt arithmetic plus a TextEncoder cost a few tenths of a millisecond more there
 * (`npm run bench`). Multiplying by the prime 2^88 + 0x13b is h * 0x13b + (h << 88); every intermediate value
 * stays below 2^27, exact in a double. Test vectors from the original BigInt version pin every key.
 */
export function fnv1a128Hex(text: string): string {
  // ASCII text (as key material nearly always is) is its own UTF-8; else hash the UTF-8 bytes as a binary string.
  return fnv1a128Bytes(text, 0x7f) ?? (fnv1a128Bytes(Buffer.from(text, 'utf8').toString('latin1'), 0xff) as string);
}

/** The hash of bytes given as the char codes of a string, or undefined when one is above max. */
function fnv1a128Bytes(bytes: string, max: number): string | undefined {
  let h0 = 0xc58d, h1 = 0x6295, h2 = 0x2175, h3 = 0x62b8, h4 = 0x0142, h5 = 0x07bb, h6 = 0x272e, h7 = 0x6c62;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes.charCodeAt(i);
    if (byte > max) return undefined;
    h0 ^= byte;
    const t0 = h0 * 0x13b;
    const t1 = h1 * 0x13b + (t0 >>> 16);
    const t2 = h2 * 0x13b + (t1 >>> 16);
    const t3 = h3 * 0x13b + (t2 >>> 16);
    const t4 = h4 * 0x13b + (t3 >>> 16);
    const t5 = h5 * 0x13b + (h0 << 8) + (t4 >>> 16);
    const t6 = h6 * 0x13b + (h1 << 8) + (t5 >>> 16);
    const t7 = h7 * 0x13b + (h2 << 8) + (t6 >>> 16);
    h0 = t0 & 0xffff; h1 = t1 & 0xffff; h2 = t2 & 0xffff; h3 = t3 & 0xffff;
    h4 = t4 & 0xffff; h5 = t5 & 0xffff; h6 = t6 & 0xffff; h7 = t7 & 0xffff;
  }
  return hex4(h7) + hex4(h6) + hex4(h5) + hex4(h4) + hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
}

function hex4(limb: number): string {
  return (limb | 0x10000).toString(16).slice(1);
}
