/**
 * Raw flag values (from commander or parseArgs) plus the environment → validated, typed configuration.
 * Pure: the environment is passed in, nothing is read here. The first problem found is thrown as one
 * PluginError (ERR_USAGE) with a hint, which the CLI prints as one line.
 */
import { PluginError } from '../core/errors.js';
import { DEFAULT_EXPIRY_MARGIN_SEC } from '../core/token-policy.js';
import { CACHE_STORAGES, GRANT_TYPES, PKCE_METHODS, SETUP_OUTPUTS, STATUS_OUTPUTS, isLoopbackHost, type CacheConfig, type GetTokenConfig, type ListenAddress, type LoginConfig, type LoginSettings, type ProviderConfig, type ProviderTls, type SetupConfig } from '../core/config.js';
import { IDP_NAMES, IDP_PRESETS } from '../core/idp-presets.js';
import type { RawFlags } from './flag-spec.js';
import type { CacheFilter } from '../core/cache-entry.js';
import type { CleanConfig } from '../commands/clean.js';
import type { StatusConfig } from '../commands/status.js';

export interface FlagEnvironment {
  HOME?: string | undefined;
  USERPROFILE?: string | undefined;
  KUBECACHEDIR?: string | undefined;
}

/** kubelogin's default --listen-address=127.0.0.1:8000,127.0.0.1:18000, already parsed (no regexes at start-up). */
const defaultListenAddresses = (): ListenAddress[] => [{ host: '127.0.0.1', port: 8000 }, { host: '127.0.0.1', port: 18000 }];
const DEFAULT_TIMEOUT_SEC = 180;
const DEFAULT_BROWSER_RETRY_COOLDOWN_SEC = 60;

/**
 * Settings a cluster may carry for the plugin (kubernetes.md §1.2): with `provideClusterInfo: true` in the
 * kubeconfig user, kubectl passes the cluster's `client.authentication.k8s.io/exec` extension as
 * KUBERNETES_EXEC_INFO spec.cluster.config, so one user entry serves clusters of different providers.
 * Keys are get-token flag names; flags on the command line win.
 */
export const CLUSTER_CONFIG_FLAGS = ['oidc-issuer-url', 'oidc-client-id', 'oidc-client-secret', 'oidc-extra-scope'] as const;

/** The flags with what spec.cluster.config adds where they are silent. Pure. */
export function withClusterConfig(raw: RawFlags, cluster: Record<string, unknown> | undefined): RawFlags {
  const config = cluster?.['config'];
  if (config === undefined || config === null) return raw;
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new PluginError('ERR_EXEC_INFO', 'the cluster extension client.authentication.k8s.io/exec is not an object', {
      hint: `give it the keys ${CLUSTER_CONFIG_FLAGS.join(', ')}`,
    });
  }
  const merged: RawFlags = { ...raw };
  for (const name of CLUSTER_CONFIG_FLAGS) {
    const value = (config as Record<string, unknown>)[name];
    const given = raw[name];
    if (value === undefined || (given !== undefined && !(Array.isArray(given) && given.length === 0))) continue;
    const valid = typeof value === 'string' || (name === 'oidc-extra-scope' && Array.isArray(value) && value.every((item) => typeof item === 'string'));
    if (!valid) {
      throw new PluginError('ERR_EXEC_INFO', `the cluster extension's ${name} is not a ${name === 'oidc-extra-scope' ? 'string or a list of strings' : 'string'}`, {
        hint: 'fix the client.authentication.k8s.io/exec extension of the cluster in the kubeconfig',
      });
    }
    merged[name] = name === 'oidc-extra-scope' ? (Array.isArray(value) ? (value as string[]) : [value as string]) : (value as string);
  }
  return merged;
}

export function parseGetTokenFlags(raw: RawFlags, env: FlagEnvironment): GetTokenConfig {
  const settings = parseLoginSettings(raw, env);
  return { ...settings, cache: parseCacheConfig(raw, env) };
}

/** status: the cache directory (get-token's rule), the provider filter and the output format. */
export function parseStatusFlags(raw: RawFlags, env: FlagEnvironment): StatusConfig {
  return {
    dir: cacheDir(raw, env),
    filter: parseCacheFilter(raw),
    output: choice(raw, 'output', STATUS_OUTPUTS, 'text'),
    verbosity: parseVerbosity(raw),
  };
}

/** clean: as status, plus what --revoke needs to authenticate at the provider. */
export function parseCleanFlags(raw: RawFlags, env: FlagEnvironment): CleanConfig {
  const revoke = raw['revoke'] === true;
  const clientSecret = str(raw, 'oidc-client-secret') || undefined;
  const requestHeaders = keyValues(raw, 'oidc-request-header');
  const tls = parseProviderTls(raw, env);
  const revokeOnly = [
    ['--oidc-client-secret', clientSecret !== undefined],
    ['--oidc-request-header', Object.keys(requestHeaders).length > 0],
    ['--certificate-authority', tls.caFiles.length > 0],
    ['--certificate-authority-data', tls.caData.length > 0],
    ['--insecure-skip-tls-verify', tls.insecureSkipVerify],
  ] as const;
  const given = revokeOnly.filter(([, present]) => present).map(([name]) => name);
  if (!revoke && given.length > 0) {
    const names = given.length === 1 ? `${given[0]} is` : `${given.slice(0, -1).join(', ')} and ${given.at(-1)} are`;
    throw usage(`${names} used only with --revoke`, `add --revoke to revoke the refresh tokens at the provider, or drop ${given.length === 1 ? 'it' : 'them'}`);
  }
  return { dir: cacheDir(raw, env), filter: parseCacheFilter(raw), revoke, clientSecret, requestHeaders, tls, verbosity: parseVerbosity(raw) };
}

function cacheDir(raw: RawFlags, env: FlagEnvironment): string {
  return expandHome(str(raw, 'token-cache-dir') || undefined, env) ?? defaultCacheDir(env);
}

function parseCacheFilter(raw: RawFlags): CacheFilter {
  return { issuerUrl: str(raw, 'oidc-issuer-url') || undefined, clientId: str(raw, 'oidc-client-id') || undefined };
}

export function parseLoginSettings(raw: RawFlags, env: FlagEnvironment): LoginSettings {
  const warnings: string[] = [];
  const provider = parseProvider(raw, warnings, env);
  return { provider, login: parseLogin(raw, env), verbosity: parseVerbosity(raw), warnings };
}

/**
 * setup: the login flags with the --idp preset filled in where the user gave nothing, plus the cluster-side
 * choices. `given` names the flags that were on the command line (explicit flags always win).
 */
export function parseSetupFlags(raw: RawFlags, given: ReadonlySet<string>, env: FlagEnvironment): SetupConfig {
  const idp = choice(raw, 'idp', IDP_NAMES, 'generic');
  const preset = IDP_PRESETS[idp];
  const withPreset: RawFlags = { ...raw };
  const presetArgs: string[] = [];
  if (!given.has('oidc-extra-scope') && preset.scopes.length > 0) {
    withPreset['oidc-extra-scope'] = [preset.scopes.join(' ')];
    presetArgs.push(`--oidc-extra-scope=${preset.scopes.join(' ')}`);
  }
  if (preset.forcePkce && !given.has('oidc-pkce-method') && raw['oidc-use-pkce'] !== true) {
    withPreset['oidc-pkce-method'] = 'S256';
    presetArgs.push('--oidc-pkce-method=S256');
  }
  const settings = parseLoginSettings(withPreset, env);
  if (preset.requiresClientSecret && settings.provider.clientSecret === undefined) {
    throw usage(
      `--idp=${idp} needs --oidc-client-secret: ${preset.title} requires the client secret at the token endpoint even with PKCE`,
      'pass the secret of the "Desktop app" OAuth client',
    );
  }
  const requiredClaims = list(raw, 'required-claim').map((item): [string, string] => {
    const equals = item.indexOf('=');
    if (equals <= 0) throw usage(`--required-claim has an invalid value "${item}"`, 'use claim=value, e.g. --required-claim=hd=example.com');
    return [item.slice(0, equals), item.slice(equals + 1)];
  });
  const usernameClaim = given.has('username-claim') ? (str(raw, 'username-claim') ?? '') : preset.usernameClaim;
  if (usernameClaim === '') throw usage('--username-claim is empty', 'name the claim the API server takes the username from, e.g. email or sub');
  const groupsClaim = given.has('groups-claim') ? str(raw, 'groups-claim') || undefined : preset.groupsClaim;
  const writeKubeconfig = raw['write-kubeconfig'];
  const context = str(raw, 'context') || undefined;
  if (context !== undefined && writeKubeconfig === undefined) {
    throw usage('--context needs --write-kubeconfig', 'add --write-kubeconfig to merge the user entry and the context into your kubeconfig');
  }
  const userName = str(raw, 'user') || 'oidc';
  return {
    ...settings,
    idp,
    presetArgs,
    cluster: {
      usernameClaim,
      usernamePrefix: given.has('username-prefix') ? str(raw, 'username-prefix') : preset.prefix,
      groupsClaim,
      groupsPrefix: given.has('groups-prefix') ? str(raw, 'groups-prefix') : groupsClaim === undefined ? undefined : preset.prefix,
      requiredClaims,
    },
    output: choice(raw, 'output', SETUP_OUTPUTS, 'text'),
    showSecrets: raw['show-secrets'] === true,
    checkPkce: raw['check-pkce'] === true,
    kubernetesVersion: parseKubernetesVersion(str(raw, 'kubernetes-version')),
    kubeconfig: {
      writePath: writeKubeconfig === undefined || writeKubeconfig === false ? undefined : writeKubeconfig === true ? '' : (expandHome(String(writeKubeconfig), env) ?? ''),
      context,
      userName,
    },
    rbac: { clusterRole: str(raw, 'rbac-role') || 'view', namespace: str(raw, 'rbac-namespace') || undefined },
  };
}

function parseKubernetesVersion(value: string | undefined): { major: number; minor: number } | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(value);
  if (!match) throw usage(`--kubernetes-version has an invalid value "${value}"`, 'use major.minor, e.g. 1.34');
  return { major: Number(match[1]), minor: Number(match[2]) };
}

function parseProvider(raw: RawFlags, warnings: string[], env: FlagEnvironment): ProviderConfig {
  const issuerUrl = str(raw, 'oidc-issuer-url');
  if (issuerUrl === undefined || issuerUrl === '') {
    throw usage('--oidc-issuer-url is missing', 'pass the issuer URL of your OpenID Connect provider');
  }
  checkIssuerUrl(issuerUrl);
  const clientId = str(raw, 'oidc-client-id');
  if (clientId === undefined || clientId === '') {
    throw usage('--oidc-client-id is missing', 'pass the client ID of the application registered at the provider');
  }
  let pkceMethod = choice(raw, 'oidc-pkce-method', PKCE_METHODS, 'auto');
  if (raw['oidc-use-pkce'] === true) {
    warnings.push('--oidc-use-pkce is deprecated: use --oidc-pkce-method=S256');
    pkceMethod = 'S256';
  }
  const redirectUrl = str(raw, 'oidc-redirect-url') || undefined;
  if (redirectUrl !== undefined) checkUrl('--oidc-redirect-url', redirectUrl);
  return {
    issuerUrl,
    clientId,
    clientSecret: str(raw, 'oidc-client-secret') || undefined,
    extraScopes: splitScopes(list(raw, 'oidc-extra-scope')),
    redirectUrl,
    pkceMethod,
    useAccessToken: raw['oidc-use-access-token'] === true,
    requestHeaders: keyValues(raw, 'oidc-request-header'),
    authRequestExtraParams: keyValues(raw, 'oidc-auth-request-extra-params'),
    loginHint: str(raw, 'login-hint') || undefined,
    tls: parseProviderTls(raw, env),
  };
}

function parseProviderTls(raw: RawFlags, env: FlagEnvironment): ProviderTls {
  // Its warning is printed when a request is made (src/oidc), not here: a cache hit makes no request.
  const insecureSkipVerify = raw['insecure-skip-tls-verify'] === true;
  const caData = list(raw, 'certificate-authority-data').map((value) => {
    const pem = Buffer.from(value, 'base64').toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw usage('--certificate-authority-data is not a base64-encoded PEM certificate', 'pass the output of: base64 -w0 ca.pem');
    }
    return pem;
  });
  return { caFiles: list(raw, 'certificate-authority').map((path) => expandHome(path, env) ?? path), caData, insecureSkipVerify };
}

/**
 * Widely used kubeconfigs pass all scopes in one value with spaces ("openid profile email"), because
 * `kubectl config set-credentials --exec-arg` splits on commas: split on both, and never send openid twice.
 */
export function splitScopes(values: readonly string[]): string[] {
  const scopes = new Set<string>();
  for (const value of values) {
    // Printable ASCII without spaces (the usual "email,groups") has only commas to split on: no regex at start-up
    // (this runs on every cache hit).
    for (const scope of isPrintableAscii(value) ? value.split(',') : value.split(/[\s,]+/)) {
      if (scope !== '' && scope !== 'openid') scopes.add(scope);
    }
  }
  return [...scopes];
}

function isPrintableAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

function checkIssuerUrl(issuerUrl: string): void {
  // The usual https:// issuer: whether it parses is all that is left to check, and URL.canParse makes no URL object.
  if (issuerUrl.startsWith('https://') && URL.canParse(issuerUrl)) return;
  let url: URL;
  try {
    url = new URL(issuerUrl);
  } catch {
    throw usage(`--oidc-issuer-url is not a valid URL: ${issuerUrl}`, 'use the issuer URL exactly as the provider publishes it, e.g. https://login.example.com');
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new PluginError('ERR_INSECURE_ISSUER', `refusing the insecure issuer URL ${issuerUrl}: only https:// is allowed (http:// only for 127.0.0.1 or localhost)`, {
    hint: 'use the https:// issuer URL of your provider',
  });
}

function parseLogin(raw: RawFlags, env: FlagEnvironment): LoginConfig {
  const addresses = list(raw, 'listen-address').flatMap((value) => value.split(',')).filter((value) => value !== '');
  const localServerCert = expandHome(str(raw, 'local-server-cert') || undefined, env);
  const localServerKey = expandHome(str(raw, 'local-server-key') || undefined, env);
  if ((localServerCert === undefined) !== (localServerKey === undefined)) {
    throw usage('--local-server-cert and --local-server-key must be given together', 'pass both files to serve the callback over HTTPS, or neither');
  }
  const openUrl = str(raw, 'open-url-after-authentication') || undefined;
  if (openUrl !== undefined) checkUrl('--open-url-after-authentication', openUrl);
  const username = str(raw, 'username') || undefined;
  const requested = choice(raw, 'grant-type', GRANT_TYPES, 'auto');
  const grantType = requested === 'auto' ? (username !== undefined ? 'password' : 'authcode') : requested;
  return {
    grantType,
    username,
    password: str(raw, 'password') || undefined,
    browserRetryCooldownSec: integer(raw, 'browser-retry-cooldown-sec', DEFAULT_BROWSER_RETRY_COOLDOWN_SEC, 0),
    listenAddresses: addresses.length > 0 ? addresses.map(parseListenAddress) : defaultListenAddresses(),
    skipOpenBrowser: raw['skip-open-browser'] === true,
    browserCommand: str(raw, 'browser-command') || undefined,
    timeoutSec: integer(raw, 'authentication-timeout-sec', DEFAULT_TIMEOUT_SEC, 1),
    openUrlAfterAuthentication: openUrl,
    localServerCert,
    localServerKey,
  };
}

export function parseListenAddress(value: string): ListenAddress {
  const match = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw usage(`--listen-address has an invalid value "${value}"`, 'use host:port, e.g. 127.0.0.1:8000 (port 0 picks a free port)');
  }
  const host = match[1] === '' ? '127.0.0.1' : (match[1] ?? '127.0.0.1');
  if (!isLoopbackHost(host)) {
    throw usage(`--listen-address ${value} is not a loopback address`, 'the callback server only listens on 127.0.0.1, ::1 or localhost');
  }
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}

function parseCacheConfig(raw: RawFlags, env: FlagEnvironment): CacheConfig {
  const dir = expandHome(str(raw, 'token-cache-dir') || undefined, env) ?? defaultCacheDir(env);
  return {
    dir,
    storage: choice(raw, 'token-cache-storage', CACHE_STORAGES, 'disk'),
    forceRefresh: raw['force-refresh'] === true,
    expiryMarginSec: integer(raw, 'expiry-margin-sec', DEFAULT_EXPIRY_MARGIN_SEC, 0),
  };
}

export function defaultCacheDir(env: FlagEnvironment): string {
  if (env.KUBECACHEDIR) return joinPath(env.KUBECACHEDIR, 'oidc-login');
  return joinPath(homeDir(env), '.kube', 'cache', 'oidc-login');
}

function homeDir(env: FlagEnvironment): string {
  const home = env.HOME || env.USERPROFILE;
  if (!home) throw usage('cannot find the home directory (HOME is not set)', 'set HOME, or pass --token-cache-dir');
  return home;
}

export function expandHome(path: string | undefined, env: FlagEnvironment): string | undefined {
  if (path === undefined) return undefined;
  if (path === '~') return homeDir(env);
  if (path.startsWith('~/')) return joinPath(homeDir(env), path.slice(2));
  return path;
}

/** Joins with "/", dropping the slashes at the ends of each part (only the trailing ones of the first). */
export function joinPath(...parts: string[]): string {
  return parts.map((part, index) => trimSlashes(part, index > 0)).join('/');
}

function trimSlashes(part: string, leading: boolean): string {
  let start = 0;
  let end = part.length;
  if (leading) while (start < end && part.charCodeAt(start) === 0x2f) start++;
  while (end > start && part.charCodeAt(end - 1) === 0x2f) end--;
  return part.slice(start, end);
}

function parseVerbosity(raw: RawFlags): number {
  return integer(raw, 'v', 0, 0);
}

// str, list and joinPath are shared with the cache-hit path (cache-hit.ts), which must accept and reject exactly what
// parseGetTokenFlags does (test/unit/cache-hit.test.ts).
export function str(raw: RawFlags, name: string): string | undefined {
  const value = raw[name];
  if (Array.isArray(value)) return value[value.length - 1];
  return typeof value === 'string' ? value : undefined;
}

export function list(raw: RawFlags, name: string): string[] {
  const value = raw[name];
  if (value === undefined || typeof value === 'boolean') return [];
  return Array.isArray(value) ? value : [value];
}

function choice<T extends string>(raw: RawFlags, name: string, choices: readonly T[], fallback: T): T {
  const value = str(raw, name);
  if (value === undefined) return fallback;
  const found = choices.find((candidate) => candidate === value);
  if (found === undefined) {
    throw usage(`--${name} has an invalid value "${value}"`, `use one of: ${choices.join(', ')}`);
  }
  return found;
}

function integer(raw: RawFlags, name: string, fallback: number, minimum: number): number {
  const value = str(raw, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < minimum || !Number.isSafeInteger(Number(value))) {
    throw usage(`--${name} has an invalid value "${value}"`, `use a whole number${minimum > 0 ? ` of at least ${minimum}` : ''}`);
  }
  return Number(value);
}

function keyValues(raw: RawFlags, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of list(raw, name)) {
    const equals = item.indexOf('=');
    if (equals <= 0) throw usage(`--${name} has an invalid value "${item}"`, 'use key=value');
    result[item.slice(0, equals)] = item.slice(equals + 1);
  }
  return result;
}

function checkUrl(flag: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usage(`${flag} is not a valid URL: ${value}`, 'use an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && !url.protocol.startsWith('urn')) {
    throw usage(`${flag} is not an http(s) URL: ${value}`, 'use an absolute http:// or https:// URL');
  }
}

function usage(message: string, hint: string): PluginError {
  return new PluginError('ERR_USAGE', message, { hint });
}
