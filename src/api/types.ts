/**
 * The public types of the programmatic API. Self-contained on purpose (the shipped declarations must not pull in
 * the internals); api/options.ts checks that the unions are the core's.
 */

/** How to log in. `auto` is `password` when `username` is given, else `authcode`. */
export type GetTokenGrantType = 'auto' | 'authcode' | 'authcode-keyboard' | 'password' | 'device-code' | 'client-credentials';
export type GetTokenPkceMethod = 'auto' | 'no' | 'S256';
export type GetTokenCacheStorage = 'disk' | 'keyring' | 'none';

/**
 * Options of {@link getToken}: kubectl oidc-login get-token's flags, in camelCase, with the same defaults.
 * Only `issuerUrl` and `clientId` are required. Like the CLI, the default cache directory comes from
 * `KUBECACHEDIR` or `HOME`, proxies from `HTTPS_PROXY`/`NO_PROXY`, and the browser from `BROWSER`
 * (all read from `process.env`).
 */
export interface GetTokenOptions {
  /** `--oidc-issuer-url`: the issuer URL of the provider. `http://` only for loopback hosts. */
  issuerUrl: string;
  /** `--oidc-client-id` */
  clientId: string;
  /** `--oidc-client-secret`, for confidential clients. */
  clientSecret?: string | undefined;
  /** `--oidc-extra-scope`: scopes besides `openid` (always sent); each value may list several, comma- or space-separated. */
  extraScopes?: string | readonly string[] | undefined;
  /** `--oidc-redirect-url`. Default `http://localhost:<bound port>`. */
  redirectUrl?: string | undefined;
  /** `--oidc-pkce-method`. Default `auto`: S256 unless the provider advertises only other methods. */
  pkceMethod?: GetTokenPkceMethod | undefined;
  /** `--oidc-use-access-token`: return the access token (a JWT, verified) instead of the ID token. Default false. */
  useAccessToken?: boolean | undefined;
  /** `--oidc-request-header`: HTTP headers on every request to the provider. */
  requestHeaders?: Readonly<Record<string, string>> | undefined;
  /** `--oidc-auth-request-extra-params`: extra parameters of the authorization request (of the token request for client-credentials). */
  authRequestExtraParams?: Readonly<Record<string, string>> | undefined;
  /** `--login-hint`: the account to log in as; part of the cache key, so several accounts on one provider coexist. */
  loginHint?: string | undefined;
  /** `--certificate-authority`: PEM file(s) of CAs to trust for the provider, besides the system roots. `~` is expanded. */
  certificateAuthority?: string | readonly string[] | undefined;
  /** `--certificate-authority-data`: the same as base64-encoded PEM (as a kubeconfig's `certificate-authority-data`). */
  certificateAuthorityData?: string | readonly string[] | undefined;
  /** `--insecure-skip-tls-verify`: do not verify the provider's certificate (testing only). Default false. */
  insecureSkipTlsVerify?: boolean | undefined;
  /** `--grant-type`. Default `auto`. `authcode-keyboard` and a `password` grant without `password` fail: the API never reads stdin. */
  grantType?: GetTokenGrantType | undefined;
  /** `--username` (password grant). */
  username?: string | undefined;
  /** `--password` (password grant). */
  password?: string | undefined;
  /** `--listen-address`: loopback `host:port` addresses for the callback server, tried in order. Default `127.0.0.1:8000`, `127.0.0.1:18000`; port 0 picks a free one. */
  listenAddresses?: string | readonly string[] | undefined;
  /** `--skip-open-browser`: only report the URL (through `onMessage`). Default false. */
  skipOpenBrowser?: boolean | undefined;
  /** `--browser-command`: run as `<command> <url>`, without a shell. Default `$BROWSER`, else the system's browser. */
  browserCommand?: string | undefined;
  /** `--authentication-timeout-sec`. Default 180. */
  authenticationTimeoutSec?: number | undefined;
  /** `--local-server-cert`: serve the callback over HTTPS (with `localServerKey`). */
  localServerCert?: string | undefined;
  /** `--local-server-key` */
  localServerKey?: string | undefined;
  /** `--open-url-after-authentication`: where the browser is sent after the login. */
  openUrlAfterAuthentication?: string | undefined;
  /** `--browser-retry-cooldown-sec`: after a browser login that did not complete, refuse new ones for this long (`ERR_BROWSER_COOLDOWN`). Default 60; 0 turns it off. */
  browserRetryCooldownSec?: number | undefined;
  /** `--token-cache-dir`. Default `$KUBECACHEDIR/oidc-login`, else `~/.kube/cache/oidc-login`: the CLI's cache. */
  tokenCacheDir?: string | undefined;
  /**
   * `--token-cache-storage`. Default `disk`; `keyring`: the system keyring (Secret Service, macOS Keychain, Windows
   * Credential Manager) through the native module @napi-rs/keyring (loaded only then), falling back to disk with a `warning:`
   * message when it cannot be used; `none`: no cache and no lock, a login every time.
   */
  tokenCacheStorage?: GetTokenCacheStorage | undefined;
  /** `--force-refresh`: refresh even when the cached token is valid. Default false. */
  forceRefresh?: boolean | undefined;
  /** `--expiry-margin-sec`: treat a token as expired this long before its `exp` (at most half its lifetime). Default 60. */
  expiryMarginSec?: number | undefined;
  /** `-v`: 1 adds the login steps to the messages, 2 the HTTP requests. Default 0. */
  verbosity?: number | undefined;
  /** Aborts a login in progress, or a wait for another process's login; getToken then rejects with `ERR_INTERRUPTED`. */
  signal?: AbortSignal | undefined;
  /**
   * Receives each line the CLI prints on stderr, without the newline: above all the login URL
   * (`Please visit the following URL in your browser: …`), and `warning: …` lines. Default: written to
   * `process.stderr`. A browser command's own output still goes to `process.stderr`.
   */
  onMessage?: ((line: string) => void) | undefined;
}

/** The `apiVersion`s of the client-go exec credential protocol. */
export type ExecCredentialApiVersion = 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';

/** What `kubectl oidc-login get-token` prints: the client-go exec credential (`client.authentication.k8s.io`). */
export interface ExecCredential {
  kind: 'ExecCredential';
  apiVersion: ExecCredentialApiVersion;
  spec: { interactive: boolean };
  /** `expirationTimestamp`: RFC 3339, whole seconds, UTC. */
  status: { expirationTimestamp: string; token: string };
}

/** Where the token came from: the shared cache, a refresh-token grant, or a login. */
export type TokenSource = 'cache' | 'refresh' | 'login';

/** The token's payload: the registered claims typed, the rest as they come. */
export interface TokenClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  email?: string;
  groups?: string[];
  [claim: string]: unknown;
}

/** What {@link getToken} resolves with. */
export interface TokenResult {
  /** The ID token (the access token with `useAccessToken`): send it as `Authorization: Bearer <token>`. */
  readonly token: string;
  /**
   * Until when to use it: the token's `exp` less the expiry margin, in whole seconds, as the CLI reports it to
   * kubectl. Call getToken again after it (a cache hit until then costs no request).
   */
  readonly expirationTimestamp: Date;
  /** The token's claims, decoded: verified when the token was issued, not again on a cache hit. */
  readonly claims: TokenClaims;
  readonly source: TokenSource;
  /** The ExecCredential the CLI would print, for code that speaks client-go's protocol. Default apiVersion v1. */
  execCredential(apiVersion?: ExecCredentialApiVersion): ExecCredential;
}
