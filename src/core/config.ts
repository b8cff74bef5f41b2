/** The validated configuration that cli/flags.ts builds from flags and the rest of the plugin consumes. */
import type { IdpName } from './idp-presets.js';

export const PKCE_METHODS = ['auto', 'no', 'S256'] as const;
export const CACHE_STORAGES = ['disk', 'keyring', 'none'] as const;

export type PkceMethod = (typeof PKCE_METHODS)[number];
/** kubelogin's grant types; auto is password when --username is given, else authcode. */
export const GRANT_TYPES = ['auto', 'authcode', 'authcode-keyboard', 'password', 'device-code', 'client-credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
export type CacheStorage = (typeof CACHE_STORAGES)[number];

export interface ProviderConfig {
  issuerUrl: string;
  clientId: string;
  clientSecret: string | undefined;
  /** The scopes asked for besides openid, as given (de-duplicated, in order). */
  extraScopes: string[];
  redirectUrl: string | undefined;
  pkceMethod: PkceMethod;
  useAccessToken: boolean;
  requestHeaders: Record<string, string>;
  authRequestExtraParams: Record<string, string>;
  /** --login-hint: an account label, part of the cache key, sent as login_hint (several accounts on one provider). */
  loginHint: string | undefined;
  tls: ProviderTls;
}

/** How the provider's TLS certificate is checked. Any of these (or a proxy) makes requests go through undici. */
export interface ProviderTls {
  /** --certificate-authority: PEM file paths, added to the system roots. */
  caFiles: string[];
  /** --certificate-authority-data: PEM text (decoded from base64), added to the system roots. */
  caData: string[];
  /** --insecure-skip-tls-verify */
  insecureSkipVerify: boolean;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface LoginConfig {
  /** Resolved: never 'auto' (auto is password when --username is given, else authcode). */
  grantType: Exclude<GrantType, 'auto'>;
  /** [password] --username / --password; prompted for on a terminal when missing. */
  username: string | undefined;
  password: string | undefined;
  /** A browser login that did not complete blocks new browser logins for the same key this long (0: off). */
  browserRetryCooldownSec: number;
  listenAddresses: ListenAddress[];
  skipOpenBrowser: boolean;
  browserCommand: string | undefined;
  timeoutSec: number;
  openUrlAfterAuthentication: string | undefined;
  localServerCert: string | undefined;
  localServerKey: string | undefined;
}

export interface CacheConfig {
  dir: string;
  storage: CacheStorage;
  forceRefresh: boolean;
  expiryMarginSec: number;
}

export interface LoginSettings {
  provider: ProviderConfig;
  login: LoginConfig;
  verbosity: number;
  /** Deprecation notices to print on stderr. */
  warnings: string[];
}

export interface GetTokenConfig extends LoginSettings {
  cache: CacheConfig;
}



const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The scope parameter sent to the provider: the extra scopes, then openid (kubelogin's order). */
export function scopeParameter(provider: ProviderConfig): string {
  return [...provider.extraScopes, 'openid'].join(' ');
}

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}


export const SETUP_OUTPUTS = ['text', 'json'] as const;
/** status's --output; here rather than in cli/flag-spec.ts so that cli/flags.ts (on the cache-hit path) needs nothing from that table. */
export const STATUS_OUTPUTS = ['text', 'json'] as const;
export type SetupOutput = (typeof SETUP_OUTPUTS)[number];

/** The cluster-side choices of setup: how the API server maps the token (see core/cluster-auth.ts). */
export interface ClusterChoices {
  usernameClaim: string;
  /** As --oidc-username-prefix: undefined when not set, '-' for none. */
  usernamePrefix: string | undefined;
  /** undefined: map no groups. */
  groupsClaim: string | undefined;
  groupsPrefix: string | undefined;
  requiredClaims: Array<[string, string]>;
}

export interface SetupConfig extends LoginSettings {
  idp: IdpName;
  /** Login flags the preset filled in (not given on the command line), as get-token arguments for the kubeconfig. */
  presetArgs: string[];
  cluster: ClusterChoices;
  output: SetupOutput;
  showSecrets: boolean;
  checkPkce: boolean;
  kubernetesVersion: { major: number; minor: number } | undefined;
  kubeconfig: {
    /** undefined: do not write; '' : the default kubeconfig; else that file. */
    writePath: string | undefined;
    context: string | undefined;
    userName: string;
  };
  rbac: { clusterRole: string; namespace: string | undefined };
}
