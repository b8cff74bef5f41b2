/**
 * The grants that are a single token request, without a browser (kubelogin-compat.md §3):
 * --grant-type=password (ROPC, RFC 6749 §4.3) and --grant-type=client-credentials (§4.4).
 */
import * as client from 'openid-client';
import { scopeParameter, type ProviderConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import type { TokenResponse } from './authcode-login.js';
import type { ProviderSession } from './provider-session.js';
import { toPluginError } from './provider-errors.js';

export async function loginWithPassword(session: ProviderSession, provider: ProviderConfig, credentials: { username: string; password: string }, log: Logger): Promise<TokenResponse> {
  log.debug(`password grant for ${credentials.username} at ${session.metadata.token_endpoint}`);
  return client
    .genericGrantRequest(session.config, 'password', { username: credentials.username, password: credentials.password, scope: scopeParameter(provider) })
    .catch((error: unknown) => {
      throw grantError(error, provider, 'password', {
        invalid_grant: 'check --username and --password',
        unauthorized_client: 'the provider does not allow the password grant for this client: enable it (e.g. "Direct access grants" in Keycloak), or use another --grant-type',
        unsupported_grant_type: 'the provider does not support the password grant: use another --grant-type',
      });
    });
}

/** client_credentials, authenticated with the client secret; --oidc-auth-request-extra-params go in the body. */
export async function loginWithClientCredentials(session: ProviderSession, provider: ProviderConfig, log: Logger): Promise<TokenResponse> {
  const parameters: Record<string, string> = { scope: scopeParameter(provider), ...provider.authRequestExtraParams };
  log.debug(`client credentials grant at ${session.metadata.token_endpoint}: scope="${parameters['scope']}"`);
  return client.clientCredentialsGrant(session.config, parameters).catch((error: unknown) => {
    throw grantError(error, provider, 'client_credentials', {
      unauthorized_client: 'the provider does not allow the client credentials grant for this client: enable it (e.g. "Service accounts" in Keycloak)',
      unsupported_grant_type: 'the provider does not support the client credentials grant: use another --grant-type',
      invalid_scope: 'the client may not request these scopes with client credentials: check --oidc-extra-scope',
    });
  });
}

function grantError(error: unknown, provider: ProviderConfig, grant: string, hints: Record<string, string>): PluginError {
  const mapped = toPluginError(error, 'token', provider.issuerUrl);
  const code = error instanceof client.ResponseBodyError ? error.error : undefined;
  const hint = code !== undefined ? hints[code] : undefined;
  if (hint === undefined) return mapped;
  return new PluginError(mapped.code, mapped.message.replace('the token request failed', `the ${grant} token request failed`), { hint, cause: error });
}
