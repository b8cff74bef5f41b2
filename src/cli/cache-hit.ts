/**
 * The cache-hit path, run on every kubectl command: read the flags, read the cache entry, and return the
 * ExecCredential when the cached token is still valid. Anything unusual (an unknown flag, -v, a corrupt entry,
 * an expired token) returns undefined, and the entry hands over to the full CLI, which does the same work again
 * with full checks, messages and the lock.
 *
 * Every byte and call here is start-up time on every kubectl command (`npm run bench`; README, Performance): no
 * commander (the small arg library reads the flags), no flag descriptions (the compact table below), no Date, and
 * no error messages: the checks of parseGetTokenFlags, parseExecInfo and readCacheEntry are repeated here as plain yes/no answers (a hit never
 * reports anything; the full CLI does). test/unit/cache-hit.test.ts holds each of them against the original on
 * thousands of inputs, so a rule changed there and not here fails the tests.
 *
 * No lock is taken here: entries are replaced by atomic rename, so a reader sees the old or the new
 * entry, never a torn one, and a hit writes nothing. Everything that may write takes the lock.
 */
import { readFileSync, statSync } from 'node:fs';
import arg from 'arg';
import { CACHE_FORMAT, type TokenSet } from '../core/cache-entry.js';
import { cacheKeyFor } from '../core/cache-key.js';
import { GRANT_TYPES, PKCE_METHODS, isLoopbackHost } from '../core/config.js';
import { EXEC_API_V1, EXEC_API_V1BETA1, buildExecCredential, formatExecCredential, isRecord, type ExecInfo } from '../core/exec-credential.js';
import { DEFAULT_EXPIRY_MARGIN_SEC, usableTokenMs } from '../core/token-policy.js';
import { MAX_ENTRY_BYTES, cacheFilePath } from '../system/token-store.js';
import type { RawFlags } from './flag-spec.js';
import { CLUSTER_CONFIG_FLAGS, joinPath, list, splitScopes, str, type FlagEnvironment } from './flags.js';

const SWITCH = 0;
const VALUE = 1;
const REPEATED = 2;
const KIND = 3;
/** Checked by hitSettings itself; any other flag (or a flag added later without it) goes to the full CLI. */
const HIT = 4;

/**
 * get-token's flags (GET_TOKEN_FLAGS) by how they are read (KIND bits): a switch (boolean), one value
 * (string: the last one wins), or a repeatable value (list, array, map); plus HIT for the flags hitSettings checks.
 * A unit test keeps the kinds equal to GET_TOKEN_FLAGS; a flag missing here is only slower (the full CLI answers),
 * never read differently.
 */
export const HIT_FLAG_KINDS: ReadonlyMap<string, number> = new Map([
  ['oidc-issuer-url', VALUE | HIT], ['oidc-client-id', VALUE | HIT], ['oidc-client-secret', VALUE | HIT], ['oidc-redirect-url', VALUE | HIT],
  ['oidc-extra-scope', REPEATED | HIT], ['oidc-use-access-token', SWITCH | HIT], ['oidc-request-header', REPEATED | HIT],
  ['certificate-authority', REPEATED | HIT], ['certificate-authority-data', REPEATED | HIT], ['insecure-skip-tls-verify', SWITCH | HIT],
  ['login-hint', VALUE | HIT], ['tls-renegotiation-once', SWITCH | HIT], ['tls-renegotiation-freely', SWITCH | HIT],
  ['oidc-pkce-method', VALUE | HIT], ['oidc-use-pkce', SWITCH], ['grant-type', VALUE | HIT], ['listen-address', REPEATED | HIT],
  ['skip-open-browser', SWITCH | HIT], ['browser-command', VALUE | HIT], ['authentication-timeout-sec', VALUE | HIT],
  ['local-server-cert', VALUE | HIT], ['local-server-key', VALUE | HIT], ['open-url-after-authentication', VALUE | HIT],
  ['oidc-auth-request-extra-params', REPEATED | HIT], ['browser-retry-cooldown-sec', VALUE | HIT], ['username', VALUE | HIT],
  ['password', VALUE | HIT], ['token-cache-dir', VALUE | HIT], ['token-cache-storage', VALUE | HIT], ['force-refresh', SWITCH],
  ['expiry-margin-sec', VALUE | HIT], ['v', VALUE | HIT], ['vmodule', VALUE | HIT], ['log_dir', VALUE | HIT], ['log_file', VALUE | HIT],
  ['log_file_max_size', VALUE | HIT], ['stderrthreshold', VALUE | HIT], ['log_backtrace_at', VALUE | HIT], ['logtostderr', SWITCH | HIT],
  ['alsologtostderr', SWITCH | HIT], ['skip_headers', SWITCH | HIT], ['skip_log_headers', SWITCH | HIT], ['add_dir_header', SWITCH | HIT],
  ['one_output', SWITCH | HIT],
]);

/** arg's specification of get-token's flags, built once from the compact table (no descriptions on this path). */
let argSpec: arg.Spec | undefined;
function getTokenArgSpec(): arg.Spec {
  if (argSpec !== undefined) return argSpec;
  const spec: arg.Spec = { '-v': '--v' };
  for (const [name, flag] of HIT_FLAG_KINDS) {
    const kind = flag & KIND;
    spec[`--${name}`] = kind === SWITCH ? Boolean : kind === REPEATED ? [String] : String;
  }
  argSpec = spec;
  return spec;
}

/**
 * The flags in args[from…], read by the arg library with get-token's flag table (strict: an unknown flag, a
 * positional or a missing value throws), as commander reads them in the full CLI (test/unit/flags.test.ts holds
 * the two together). Anything it refuses returns undefined: the full CLI decides, with its messages.
 *
 * Why arg and not node:util parseArgs: parseArgs is Node-internal code outside the hit bundle's code cache, and
 * costs ~0.65 ms of every kubectl command against ~0.25 ms (npm run bench, README: Performance).
 */
export function scanGetTokenArgs(args: readonly string[], from: number): RawFlags | undefined {
  const given = args.slice(from);
  for (const item of given) {
    // arg reads a switch given a value (--skip-open-browser=false) as set; commander reads it pflag-style.
    const equals = item.indexOf('=');
    if (equals > 2 && item.startsWith('--') && ((HIT_FLAG_KINDS.get(item.slice(2, equals)) ?? VALUE) & KIND) === SWITCH) return undefined;
  }
  try {
    const result = arg(getTokenArgSpec(), { argv: given });
    if (result._.length > 0) return undefined;
    const raw: RawFlags = {};
    for (const [name, value] of Object.entries(result)) if (name !== '_') raw[name.slice(2)] = value as string | boolean | string[];
    return raw;
  } catch {
    return undefined;
  }
}

/** What a cache hit needs from get-token's flags. */
export interface HitSettings {
  key: string;
  dir: string;
  issuerUrl: string;
  clientId: string;
  useAccessToken: boolean;
  expiryMarginSec: number;
}

/**
 * parseGetTokenFlags for a cache hit, building only what a hit needs: undefined wherever parseGetTokenFlags throws
 * or warns, for settings that are never served from the cache (-v, --force-refresh, --token-cache-storage=none),
 * and for a flag without HIT in HIT_FLAG_KINDS: the full CLI answers those.
 */
export function hitSettings(raw: RawFlags, env: FlagEnvironment): HitSettings | undefined {
  for (const name of Object.keys(raw)) if (((HIT_FLAG_KINDS.get(name) ?? 0) & HIT) === 0) return undefined;
  // parseProvider
  const issuerUrl = str(raw, 'oidc-issuer-url');
  if (issuerUrl === undefined || !isIssuerUrl(issuerUrl)) return undefined;
  const clientId = str(raw, 'oidc-client-id');
  if (!clientId) return undefined;
  const pkceMethod = str(raw, 'oidc-pkce-method') ?? 'auto';
  if (!(PKCE_METHODS as readonly string[]).includes(pkceMethod)) return undefined;
  const redirectUrl = str(raw, 'oidc-redirect-url') || undefined;
  if (redirectUrl !== undefined && !isHttpUrl(redirectUrl)) return undefined;
  const requestHeaders = keyValues(raw, 'oidc-request-header');
  const authRequestExtraParams = keyValues(raw, 'oidc-auth-request-extra-params');
  if (requestHeaders === undefined || authRequestExtraParams === undefined) return undefined;
  // parseProviderTls
  for (const data of list(raw, 'certificate-authority-data')) {
    if (!Buffer.from(data, 'base64').toString('utf8').includes('-----BEGIN CERTIFICATE-----')) return undefined;
  }
  const home = env.HOME || env.USERPROFILE;
  for (const file of list(raw, 'certificate-authority')) if (expandHome(file, home) === undefined) return undefined;
  // parseLogin: only its checks.
  for (const value of list(raw, 'listen-address')) for (const address of value.split(',')) if (address !== '' && !isListenAddress(address)) return undefined;
  const localServerCert = str(raw, 'local-server-cert') || undefined;
  const localServerKey = str(raw, 'local-server-key') || undefined;
  if ((localServerCert === undefined) !== (localServerKey === undefined)) return undefined;
  if ((localServerCert !== undefined && expandHome(localServerCert, home) === undefined) || (localServerKey !== undefined && expandHome(localServerKey, home) === undefined)) return undefined;
  const openUrl = str(raw, 'open-url-after-authentication') || undefined;
  if (openUrl !== undefined && !isHttpUrl(openUrl)) return undefined;
  const username = str(raw, 'username') || undefined;
  const requested = str(raw, 'grant-type') ?? 'auto';
  if (!(GRANT_TYPES as readonly string[]).includes(requested)) return undefined;
  const grantType = requested === 'auto' ? (username !== undefined ? 'password' : 'authcode') : requested;
  if (wholeNumber(raw, 'browser-retry-cooldown-sec', 0, 0) === undefined || wholeNumber(raw, 'authentication-timeout-sec', 1, 1) === undefined) return undefined;
  if (wholeNumber(raw, 'v', 0, 0) !== 0) return undefined;
  // parseCacheConfig
  const cacheDir = str(raw, 'token-cache-dir') || undefined;
  const dir = cacheDir !== undefined ? expandHome(cacheDir, home) : env.KUBECACHEDIR ? joinPath(env.KUBECACHEDIR, 'oidc-login') : home ? joinPath(home, '.kube', 'cache', 'oidc-login') : undefined;
  if (dir === undefined) return undefined;
  const storage = str(raw, 'token-cache-storage');
  // none, and keyring: its hits go through the full CLI, so that this bundle never loads the native keyring module.
  if (storage !== undefined && storage !== 'disk') return undefined;
  const expiryMarginSec = wholeNumber(raw, 'expiry-margin-sec', DEFAULT_EXPIRY_MARGIN_SEC, 0);
  if (expiryMarginSec === undefined) return undefined;
  const useAccessToken = raw['oidc-use-access-token'] === true;
  const provider = {
    issuerUrl,
    clientId,
    clientSecret: str(raw, 'oidc-client-secret') || undefined,
    extraScopes: splitScopes(list(raw, 'oidc-extra-scope')),
    redirectUrl,
    pkceMethod,
    useAccessToken,
    requestHeaders,
    authRequestExtraParams,
    loginHint: str(raw, 'login-hint') || undefined,
  };
  return { key: cacheKeyFor({ provider, login: { grantType, username } }), dir, issuerUrl, clientId, useAccessToken, expiryMarginSec };
}

/** flags.ts expandHome, with undefined where it throws (~ without HOME). */
function expandHome(path: string, home: string | undefined): string | undefined {
  if (path === '~') return home || undefined;
  if (path.startsWith('~/')) return home ? joinPath(home, path.slice(2)) : undefined;
  return path;
}

/** flags.ts integer: the fallback when not given, undefined when not a whole number of at least minimum. */
function wholeNumber(raw: RawFlags, name: string, fallback: number, minimum: number): number | undefined {
  const value = str(raw, name);
  if (value === undefined) return fallback;
  const number = Number(value);
  return /^\d+$/.test(value) && number >= minimum && Number.isSafeInteger(number) ? number : undefined;
}

/** flags.ts keyValues, with undefined where it throws (an item without a key). */
function keyValues(raw: RawFlags, name: string): Record<string, string> | undefined {
  const result: Record<string, string> = {};
  for (const item of list(raw, name)) {
    const equals = item.indexOf('=');
    if (equals <= 0) return undefined;
    result[item.slice(0, equals)] = item.slice(equals + 1);
  }
  return result;
}

/** flags.ts checkIssuerUrl: https://, or http:// on a loopback host. */
function isIssuerUrl(value: string): boolean {
  // The usual https:// issuer: whether it parses is all that is left to check, and URL.canParse makes no URL object.
  if (value.startsWith('https://')) return URL.canParse(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** flags.ts checkUrl: an absolute http(s) (or urn) URL. */
function isHttpUrl(value: string): boolean {
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    return false;
  }
  return protocol === 'http:' || protocol === 'https:' || protocol.startsWith('urn');
}

/** flags.ts parseListenAddress: host:port on a loopback host. */
function isListenAddress(value: string): boolean {
  const match = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) <= 65535 && isLoopbackHost(match[1] === '' ? '127.0.0.1' : (match[1] ?? '127.0.0.1'));
}

/** parseExecInfo (core/exec-credential.ts), with undefined where it throws. */
export function hitExecInfo(raw: string | undefined): ExecInfo | undefined {
  if (raw === undefined || raw.trim() === '') return { apiVersion: EXEC_API_V1BETA1, interactive: false, cluster: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const apiVersion = parsed['apiVersion'];
  if (apiVersion !== EXEC_API_V1 && apiVersion !== EXEC_API_V1BETA1) return undefined;
  const spec = parsed['spec'];
  if (spec !== undefined && !isRecord(spec)) return undefined;
  const interactive = spec?.['interactive'];
  if (interactive !== undefined && typeof interactive !== 'boolean') return undefined;
  const cluster = spec?.['cluster'];
  return { apiVersion, interactive: interactive === true, cluster: isRecord(cluster) ? cluster : undefined };
}

/** withClusterConfig (flags.ts), with undefined where it throws. */
export function hitClusterConfig(raw: RawFlags, cluster: Record<string, unknown> | undefined): RawFlags | undefined {
  const config = cluster?.['config'];
  if (config === undefined || config === null) return raw;
  if (typeof config !== 'object' || Array.isArray(config)) return undefined;
  const merged: RawFlags = { ...raw };
  for (const name of CLUSTER_CONFIG_FLAGS) {
    const value = (config as Record<string, unknown>)[name];
    const given = raw[name];
    if (value === undefined || (given !== undefined && !(Array.isArray(given) && given.length === 0))) continue;
    if (typeof value === 'string') merged[name] = name === 'oidc-extra-scope' ? [value] : value;
    else if (name === 'oidc-extra-scope' && Array.isArray(value) && value.every((item) => typeof item === 'string')) merged[name] = value as string[];
    else return undefined;
  }
  return merged;
}

/**
 * The tokens of the entry readCacheEntry (system/token-store.ts) would return for key, or undefined where it
 * returns anything else. Symlinks are followed for reading, as there (token-store.ts says why).
 */
export function readHitEntry(dir: string, key: string, issuer: string, clientId: string): TokenSet | undefined {
  let raw: unknown;
  try {
    const path = cacheFilePath(dir, key);
    // The one stat of a hit (~0.1 ms, its first call in the process), needed for correctness: readFileSync reads to the
    // end, so without it a huge file (or a link to /dev/zero, a FIFO) would cost every kubectl command seconds and
    // gigabytes, or hang it. A missing file is undefined here, without an exception.
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isFile() || stats.size > MAX_ENTRY_BYTES) return undefined;
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  // parseCacheEntry, then the key, issuer and client id checks.
  if (!isRecord(raw) || raw['format'] !== CACHE_FORMAT) return undefined;
  const scopes = raw['scopes'];
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) return undefined;
  if (raw['key'] !== key || raw['issuer'] !== issuer || raw['client_id'] !== clientId || typeof raw['saved_at'] !== 'string' || raw['saved_at'] === '') return undefined;
  const idToken = optionalString(raw['id_token']);
  const accessToken = optionalString(raw['access_token']);
  const refreshToken = optionalString(raw['refresh_token']);
  if (idToken === null || accessToken === null || refreshToken === null) return undefined;
  return { idToken, accessToken, refreshToken };
}

/** cache-entry.ts optionalString, with null where it throws. */
function optionalString(value: unknown): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return null;
  return value === '' ? undefined : value;
}

export interface HitEnvironment extends FlagEnvironment {
  KUBERNETES_EXEC_INFO?: string | undefined;
}

/** Filled in on a miss that the cache could answer once the entry exists: where its lock is (cache-lock.ts). */
export interface MissProbe {
  entry?: { dir: string; key: string };
}

/** The ExecCredential line to print, or undefined when the full CLI must take over. */
export function serveFromCache(argv: readonly string[], env: HitEnvironment, nowMs: number, probe?: MissProbe): string | undefined {
  if (argv[0] !== 'get-token') return undefined;
  try {
    const raw = scanGetTokenArgs(argv, 1);
    const execInfo = raw && hitExecInfo(env.KUBERNETES_EXEC_INFO);
    const flags = execInfo && hitClusterConfig(raw as RawFlags, execInfo.cluster);
    const settings = flags && hitSettings(flags, env);
    if (settings && probe) probe.entry = { dir: settings.dir, key: settings.key };
    const tokens = settings && readHitEntry(settings.dir, settings.key, settings.issuerUrl, settings.clientId);
    const usable = tokens && usableTokenMs(tokens, { nowMs, expiryMarginSec: settings.expiryMarginSec, useAccessToken: settings.useAccessToken });
    return execInfo && usable && formatExecCredential(buildExecCredential(execInfo, usable.token, usable.expiresAtMs));
  } catch {
    return undefined;
  }
}
