/**
 * get-token's flags, declared once. kubelogin's names, defaults and order (kubelogin-compat.md §2), so that
 * every kubeconfig written for int128/kubelogin parses unchanged. The table feeds commander (help, full
 * validation); the cache-hit path (cli/cache-hit.ts) scans argv with a compact copy of its names and kinds, held
 * equal to this table by a unit test, because this module's descriptions alone would cost every kubectl command
 * start-up time.
 */
import { CACHE_STORAGES, GRANT_TYPES, PKCE_METHODS, SETUP_OUTPUTS, STATUS_OUTPUTS } from '../core/config.js';
import { IDP_NAMES } from '../core/idp-presets.js';

export type FlagKind =
  /** a single value; the last one wins */
  | 'string'
  /** an on/off switch; the full parser also takes --flag=true|false as pflag does */
  | 'boolean'
  /** repeatable, each value also split on commas (pflag StringSlice) */
  | 'list'
  /** repeatable, never split (pflag StringArray) */
  | 'array'
  /** repeatable key=value pairs (pflag StringToString) */
  | 'map'
  /** a switch that may carry a value: --flag or --flag=value (setup only) */
  | 'optional';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  description: string;
  short?: string;
  /** the value shown in --help; the real default is applied in flags.ts */
  defaultText?: string;
  choices?: readonly string[];
  hidden?: boolean;
}


/** Flags that pick the provider and the login; shared by get-token and setup. */
export const LOGIN_FLAGS: readonly FlagSpec[] = [
  { name: 'oidc-issuer-url', kind: 'string', description: 'Issuer URL of the OpenID Connect provider (required)' },
  { name: 'oidc-client-id', kind: 'string', description: 'Client ID of the application registered at the provider (required)' },
  { name: 'oidc-client-secret', kind: 'string', description: 'Client secret, for confidential clients (e.g. a Google "Desktop app")' },
  { name: 'oidc-redirect-url', kind: 'string', description: 'Redirect URL sent to the provider; its path becomes the callback path (default http://localhost:<bound port>)' },
  {
    name: 'oidc-extra-scope',
    kind: 'list',
    description: 'Scopes to request besides "openid" (always sent); comma- or space-separated, repeatable, e.g. "email,groups,offline_access"',
  },
  { name: 'oidc-use-access-token', kind: 'boolean', description: 'Return the access token (a JWT) instead of the ID token' },
  { name: 'oidc-request-header', kind: 'map', description: 'Extra HTTP header key=value on every request to the provider, repeatable' },
  { name: 'certificate-authority', kind: 'array', description: 'PEM file of a CA to trust for the provider, besides the system roots; repeatable' },
  { name: 'certificate-authority-data', kind: 'array', description: 'Base64-encoded PEM of a CA to trust for the provider, besides the system roots; repeatable' },
  { name: 'insecure-skip-tls-verify', kind: 'boolean', description: 'Do not verify the provider\'s TLS certificate (insecure: prints a warning)' },
  {
    name: 'login-hint',
    kind: 'string',
    description: 'Account to log in as (e.g. jane@example.com): sent as login_hint, and kept in a cache entry of its own so that several accounts on one provider coexist',
  },
  { name: 'tls-renegotiation-once', kind: 'boolean', description: 'Go TLS renegotiation; has no effect in Node', hidden: true },
  { name: 'tls-renegotiation-freely', kind: 'boolean', description: 'Go TLS renegotiation; has no effect in Node', hidden: true },
  {
    name: 'oidc-pkce-method',
    kind: 'string',
    choices: PKCE_METHODS,
    defaultText: 'auto',
    description: 'PKCE: "auto" sends S256 unless the provider advertises only other methods, "no" disables it, "S256" forces it',
  },
  { name: 'oidc-use-pkce', kind: 'boolean', description: 'Deprecated: use --oidc-pkce-method=S256', hidden: true },
  {
    name: 'grant-type',
    kind: 'string',
    choices: GRANT_TYPES,
    defaultText: 'auto',
    description:
      'Authorization grant: "authcode" (browser), "authcode-keyboard" (paste the code), "password" (--username), "device-code" (headless machines), "client-credentials" (CI); "auto" is password with --username, else authcode',
  },
  {
    name: 'listen-address',
    kind: 'list',
    defaultText: '127.0.0.1:8000,127.0.0.1:18000',
    description: '[authcode] Loopback addresses for the callback server, tried in order (port 0 picks a free port)',
  },
  { name: 'skip-open-browser', kind: 'boolean', description: '[authcode, authcode-keyboard, device-code] Do not open the browser; only print the URL' },
  { name: 'browser-command', kind: 'string', description: '[authcode, authcode-keyboard, device-code] Command that opens the URL, run without a shell as <command> <url>' },
  { name: 'authentication-timeout-sec', kind: 'string', defaultText: '180', description: '[authcode, authcode-keyboard, device-code] Seconds to wait for the login' },
  { name: 'local-server-cert', kind: 'string', description: '[authcode] Certificate file to serve the callback over HTTPS' },
  { name: 'local-server-key', kind: 'string', description: '[authcode] Key file to serve the callback over HTTPS' },
  { name: 'open-url-after-authentication', kind: 'string', description: '[authcode] URL the browser is sent to after a successful login' },
  { name: 'oidc-auth-request-extra-params', kind: 'map', description: '[authcode, authcode-keyboard, client-credentials] Extra key=value parameter of the authorization request (of the token request for client-credentials), repeatable' },
  {
    name: 'browser-retry-cooldown-sec',
    kind: 'string',
    defaultText: '60',
    description: '[authcode] After a browser login that did not complete, do not open another browser tab for this long (0: no limit); other invocations fail at once',
  },
  { name: 'username', kind: 'string', description: '[password] Username; the password grant is used when it is given' },
  { name: 'password', kind: 'string', description: '[password] Password; when missing, asked for without echo if stdin is a terminal and kubectl allows input (interactiveMode IfAvailable/Always), else an error' },
];

/** Flags of the token cache; get-token only. */
export const CACHE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'token-cache-dir',
    kind: 'string',
    defaultText: '~/.kube/cache/oidc-login, or $KUBECACHEDIR/oidc-login',
    description: 'Directory of the token cache',
  },
  { name: 'token-cache-storage', kind: 'string', choices: CACHE_STORAGES, defaultText: 'disk', description: 'Where tokens are kept: "disk", "keyring" (the system keyring; falls back to disk with a warning when it cannot be used), or "none" (log in every time)' },
  { name: 'force-refresh', kind: 'boolean', description: 'Refresh the token even when the cached one is still valid' },
  {
    name: 'expiry-margin-sec',
    kind: 'string',
    defaultText: '60',
    description: 'Treat a token as expired this many seconds before its exp (at most half its lifetime), and report the expiry that much earlier to kubectl',
  },
];

/** klog's flags: -v sets the log level; the others are accepted so that kubeconfigs that pass them still work. */
export const LOG_FLAGS: readonly FlagSpec[] = [
  { name: 'v', short: 'v', kind: 'string', defaultText: '0', description: 'Log level: 1 shows the login steps, 2 adds HTTP requests (tokens are never logged below 3)' },
  ...['vmodule', 'log_dir', 'log_file', 'log_file_max_size', 'stderrthreshold', 'log_backtrace_at'].map(
    (name): FlagSpec => ({ name, kind: 'string', description: 'klog flag, accepted and ignored', hidden: true }),
  ),
  ...['logtostderr', 'alsologtostderr', 'skip_headers', 'skip_log_headers', 'add_dir_header', 'one_output'].map(
    (name): FlagSpec => ({ name, kind: 'boolean', description: 'klog flag, accepted and ignored', hidden: true }),
  ),
];

export const GET_TOKEN_FLAGS: readonly FlagSpec[] = [...LOGIN_FLAGS, ...CACHE_FLAGS, ...LOG_FLAGS];

/** setup's own flags: the cluster-side choices and what to print or write. Never part of the kubeconfig entry. */
export const SETUP_FLAGS: readonly FlagSpec[] = [
  {
    name: 'idp',
    kind: 'string',
    choices: IDP_NAMES,
    defaultText: 'generic',
    description: "Identity provider preset: fills the scopes, claims and prefixes that provider needs (explicit flags win)",
  },
  { name: 'username-claim', kind: 'string', defaultText: 'email (entra: preferred_username)', description: 'Claim the API server takes the username from (--oidc-username-claim)' },
  {
    name: 'username-prefix',
    kind: 'string',
    description: 'Prefix of usernames (--oidc-username-prefix); unset: "<issuer>#" unless the claim is email; "-": none',
  },
  { name: 'groups-claim', kind: 'string', defaultText: 'groups (google: none)', description: 'Claim the API server takes the groups from (--oidc-groups-claim); empty: no groups' },
  { name: 'groups-prefix', kind: 'string', description: 'Prefix of group names (--oidc-groups-prefix)' },
  { name: 'required-claim', kind: 'array', description: 'Claim the token must carry, key=value, repeatable (--oidc-required-claim)' },
  { name: 'kubernetes-version', kind: 'string', description: 'Kubernetes version of the cluster, e.g. 1.34: picks the AuthenticationConfiguration apiVersion (v1 from 1.34, else v1beta1)' },
  { name: 'check-pkce', kind: 'boolean', description: 'Also check that the provider enforces PKCE: a second authorization, redeemed with a wrong code_verifier' },
  { name: 'output', short: 'o', kind: 'string', choices: SETUP_OUTPUTS, defaultText: 'text', description: 'text: a report on stderr; json: one JSON object on stdout' },
  { name: 'show-secrets', kind: 'boolean', description: 'Show the client secret in the printed output (a written kubeconfig always has it)' },
  {
    name: 'write-kubeconfig',
    kind: 'optional',
    description: 'Merge the user entry into this kubeconfig (default: $KUBECONFIG or ~/.kube/config), keeping a backup',
  },
  { name: 'context', kind: 'string', description: 'With --write-kubeconfig: point this context at the user (created with the current cluster if missing)' },
  { name: 'user', kind: 'string', defaultText: 'oidc', description: 'Name of the kubeconfig user entry' },
  { name: 'rbac-role', kind: 'string', defaultText: 'view', description: 'ClusterRole the generated RBAC bindings grant' },
  { name: 'rbac-namespace', kind: 'string', description: 'Generate RoleBindings in this namespace instead of ClusterRoleBindings' },
];

/**
 * Joins flag groups. The lists below are built by calls annotated as pure so that the cache-hit bundle, which
 * needs only get-token's flags, drops them (esbuild keeps a spread or a plain call, which might have effects).
 */
const joinFlags = (...groups: ReadonlyArray<readonly FlagSpec[]>): readonly FlagSpec[] => groups.flat();

/** --token-cache-dir as get-token has it (same default and $KUBECACHEDIR rule), for status and clean. */
const TOKEN_CACHE_DIR_FLAG: readonly FlagSpec[] = /* @__PURE__ */ CACHE_FLAGS.filter((flag) => flag.name === 'token-cache-dir');

/** status and clean select entries by the provider recorded in them; the names are get-token's. */
const CACHE_FILTER_FLAGS: readonly FlagSpec[] = [
  { name: 'oidc-issuer-url', kind: 'string', description: 'Only the entries of this issuer URL (exact match, as given to get-token)' },
  { name: 'oidc-client-id', kind: 'string', description: 'Only the entries of this client ID (exact match)' },
];

export { STATUS_OUTPUTS };

export const STATUS_FLAGS: readonly FlagSpec[] = /* @__PURE__ */ joinFlags(
  TOKEN_CACHE_DIR_FLAG,
  CACHE_FILTER_FLAGS,
  [{ name: 'output', short: 'o', kind: 'string', choices: STATUS_OUTPUTS, defaultText: 'text', description: 'text, or json: one JSON object (both on stdout, never a token value)' }],
  LOG_FLAGS,
);

export const CLEAN_FLAGS: readonly FlagSpec[] = /* @__PURE__ */ joinFlags(TOKEN_CACHE_DIR_FLAG, CACHE_FILTER_FLAGS, [
  { name: 'revoke', kind: 'boolean', description: 'Revoke each refresh token at its provider (RFC 7009) before deleting the entry; an entry whose revocation fails is kept' },
  { name: 'oidc-client-secret', kind: 'string', description: '[revoke] Client secret of a confidential client (for the entries of --oidc-client-id when given, else for all)' },
  { name: 'oidc-request-header', kind: 'map', description: '[revoke] Extra HTTP header key=value on every request to the provider, repeatable' },
  { name: 'certificate-authority', kind: 'array', description: '[revoke] PEM file of a CA to trust for the providers, besides the system roots; repeatable' },
  { name: 'certificate-authority-data', kind: 'array', description: '[revoke] Base64-encoded PEM of a CA to trust for the providers, besides the system roots; repeatable' },
  { name: 'insecure-skip-tls-verify', kind: 'boolean', description: '[revoke] Do not verify the providers\' TLS certificates (insecure: prints a warning)' },
], LOG_FLAGS);

/** Raw values as either parser hands them over: strings, booleans, or string lists for repeatable flags. */
export type RawFlags = Record<string, string | boolean | string[] | undefined>;
