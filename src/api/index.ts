/**
 * The programmatic API: `import { getToken } from 'kubectl-oidc-login'`. The same credential as
 * `kubectl oidc-login get-token`, in-process, sharing the CLI's token cache and locks, with the messages the
 * CLI prints on stderr (the login URL above all) handed to the caller.
 *
 * ```ts
 * const { token, expirationTimestamp } = await getToken({
 *   issuerUrl: 'https://issuer.example.com',
 *   clientId: 'kubernetes',
 *   extraScopes: ['email', 'groups', 'offline_access'],
 *   onMessage: (line) => ui.show(line),
 * });
 * ```
 */
export { getToken, execCredential } from './get-token.js';
export { OidcLoginError, type OidcLoginErrorCode } from './errors.js';
export type {
  ExecCredential,
  ExecCredentialApiVersion,
  GetTokenCacheStorage,
  GetTokenGrantType,
  GetTokenOptions,
  GetTokenPkceMethod,
  TokenClaims,
  TokenResult,
  TokenSource,
} from './types.js';
