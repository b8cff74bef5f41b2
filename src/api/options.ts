/**
 * The options of getToken: get-token's flags in camelCase. They are translated into the raw flag values the
 * CLI's parser takes (cli/flags.ts), so validation, defaults and the cache key are the CLI's own.
 */
import type { RawFlags } from '../cli/flag-spec.js';
import type { TokenSource as CoreTokenSource } from '../cli/run-get-token.js';
import type { CacheStorage, GrantType, PkceMethod } from '../core/config.js';
import type { ExecApiVersion, ExecCredential as CoreExecCredential } from '../core/exec-credential.js';
import { OidcLoginError } from './errors.js';
import type { ExecCredential, ExecCredentialApiVersion, GetTokenCacheStorage, GetTokenGrantType, GetTokenOptions, GetTokenPkceMethod, TokenSource } from './types.js';

type FlagKind = 'string' | 'boolean' | 'number' | 'list' | 'map';
type FlagOption = Exclude<keyof GetTokenOptions, 'signal' | 'onMessage'>;

/** Each option's flag. Every key of GetTokenOptions but signal and onMessage must be here (checked by the type). */
export const OPTION_FLAGS: { readonly [name in FlagOption]-?: readonly [flag: string, kind: FlagKind] } = {
  issuerUrl: ['oidc-issuer-url', 'string'],
  clientId: ['oidc-client-id', 'string'],
  clientSecret: ['oidc-client-secret', 'string'],
  extraScopes: ['oidc-extra-scope', 'list'],
  redirectUrl: ['oidc-redirect-url', 'string'],
  pkceMethod: ['oidc-pkce-method', 'string'],
  useAccessToken: ['oidc-use-access-token', 'boolean'],
  requestHeaders: ['oidc-request-header', 'map'],
  authRequestExtraParams: ['oidc-auth-request-extra-params', 'map'],
  loginHint: ['login-hint', 'string'],
  certificateAuthority: ['certificate-authority', 'list'],
  certificateAuthorityData: ['certificate-authority-data', 'list'],
  insecureSkipTlsVerify: ['insecure-skip-tls-verify', 'boolean'],
  grantType: ['grant-type', 'string'],
  username: ['username', 'string'],
  password: ['password', 'string'],
  listenAddresses: ['listen-address', 'list'],
  skipOpenBrowser: ['skip-open-browser', 'boolean'],
  browserCommand: ['browser-command', 'string'],
  authenticationTimeoutSec: ['authentication-timeout-sec', 'number'],
  localServerCert: ['local-server-cert', 'string'],
  localServerKey: ['local-server-key', 'string'],
  openUrlAfterAuthentication: ['open-url-after-authentication', 'string'],
  browserRetryCooldownSec: ['browser-retry-cooldown-sec', 'number'],
  tokenCacheDir: ['token-cache-dir', 'string'],
  tokenCacheStorage: ['token-cache-storage', 'string'],
  forceRefresh: ['force-refresh', 'boolean'],
  expiryMarginSec: ['expiry-margin-sec', 'number'],
  verbosity: ['v', 'string'],
};

const NOT_FLAGS: ReadonlySet<string> = new Set(['signal', 'onMessage']);
const OPTION_OF_FLAG: ReadonlyMap<string, string> = new Map(Object.entries(OPTION_FLAGS).map(([name, [flag]]) => [flag, name]));

/**
 * The raw flag values the CLI's parser would get for the same settings. Throws OidcLoginError (ERR_USAGE) for an
 * unknown option or a value of the wrong type (for JavaScript callers); the values themselves are checked by
 * parseGetTokenFlags, as the CLI's.
 */
export function toRawFlags(options: GetTokenOptions): RawFlags {
  if (typeof options !== 'object' || options === null) throw usage('getToken needs an options object', 'pass at least { issuerUrl, clientId }');
  const raw: RawFlags = {};
  for (const [name, value] of Object.entries(options)) {
    if (NOT_FLAGS.has(name)) continue;
    const spec = (OPTION_FLAGS as Record<string, readonly [string, FlagKind] | undefined>)[name];
    if (spec === undefined) throw usage(`unknown option ${name}`, `the options are: ${Object.keys(OPTION_FLAGS).join(', ')}`);
    if (value === undefined || value === null) continue;
    const [flag, kind] = spec;
    const converted = convert(name, kind, value);
    if (converted !== undefined) raw[flag] = converted;
  }
  return raw;
}

function convert(name: string, kind: FlagKind, value: unknown): RawFlags[string] {
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      // verbosity is the -v flag, a string on the command line.
      if (name === 'verbosity' && typeof value === 'number') return String(value);
      throw usage(`${name} must be a ${name === 'verbosity' ? 'number' : 'string'}`, `pass ${name} as a ${name === 'verbosity' ? 'number' : 'string'}`);
    case 'boolean':
      if (typeof value !== 'boolean') throw usage(`${name} must be true or false`, `pass ${name} as a boolean`);
      return value ? true : undefined;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw usage(`${name} must be a number`, `pass ${name} as a whole number`);
      return String(value);
    case 'list': {
      const items: unknown[] = Array.isArray(value) ? value : [value];
      if (!items.every((item) => typeof item === 'string')) throw usage(`${name} must be a string or a list of strings`, `pass ${name} as an array of strings`);
      return items as string[];
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) throw usage(`${name} must be an object of strings`, `pass ${name} as { name: 'value' }`);
      return Object.entries(value as Record<string, unknown>).map(([key, item]) => {
        if (key === '' || key.includes('=')) throw usage(`${name} has an invalid key "${key}"`, 'use keys without "="');
        if (typeof item !== 'string') throw usage(`${name}.${key} must be a string`, `pass ${name} as { name: 'value' }`);
        return `${key}=${item}`;
      });
    }
  }
}

/** The CLI's messages name flags (`--oidc-client-id is missing`); an API caller knows the options. */
export function apiWording(text: string): string {
  return text.replace(/--([a-z][a-z0-9-]*)/g, (whole, flag: string) => OPTION_OF_FLAG.get(flag) ?? whole);
}

function usage(message: string, hint: string): OidcLoginError {
  return new OidcLoginError('ERR_USAGE', message, { hint });
}

// The public unions are spelled out (the declarations ship without the internals); they must stay the core's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const unionsMatch: [
  Same<GetTokenGrantType, GrantType>,
  Same<GetTokenPkceMethod, PkceMethod>,
  Same<GetTokenCacheStorage, CacheStorage>,
  Same<ExecCredentialApiVersion, ExecApiVersion>,
  Same<ExecCredential, CoreExecCredential>,
  Same<TokenSource, CoreTokenSource>,
] = [true, true, true, true, true, true];
void unionsMatch;
