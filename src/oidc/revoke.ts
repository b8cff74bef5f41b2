/**
 * Revoking a cached refresh token at the provider (RFC 7009), for `clean --revoke`. The provider session is
 * the one get-token uses, so the cached discovery document and --oidc-request-header apply here too.
 */
import * as client from 'openid-client';
import type { ProviderConfig, ProviderTls } from '../core/config.js';
import type { Logger } from '../system/log.js';
import type { ProviderEnvironment } from './http.js';
import { openProviderSession } from './provider-session.js';
import { toPluginError } from './provider-errors.js';

export interface RevocationTarget {
  issuerUrl: string;
  clientId: string;
  /** Confidential clients authenticate at the revocation endpoint as at the token endpoint. */
  clientSecret: string | undefined;
  /** --oidc-request-header, on the discovery and the revocation request. */
  requestHeaders: Record<string, string>;
  /** --certificate-authority(-data), --insecure-skip-tls-verify of clean. */
  tls?: ProviderTls;
}

export interface RevokeOptions {
  /** Where the discovery document is cached (the token cache directory). */
  metadataCacheDir: string | undefined;
  log: Logger;
  /** Proxy variables (http.ts); default process.env. */
  env?: ProviderEnvironment;
}

/**
 * 'revoked' once the provider has accepted the request (RFC 7009 answers 200 for an unknown or already
 * revoked token too); 'unsupported' when its discovery document has no revocation_endpoint. Any failure
 * (network, provider error, client authentication) throws a PluginError ERR_REVOCATION or ERR_DISCOVERY.
 */
export async function revokeRefreshToken(target: RevocationTarget, refreshToken: string, options: RevokeOptions): Promise<'revoked' | 'unsupported'> {
  const provider: ProviderConfig = {
    issuerUrl: target.issuerUrl,
    clientId: target.clientId,
    clientSecret: target.clientSecret,
    requestHeaders: target.requestHeaders,
    // Not used by the revocation request.
    extraScopes: [],
    redirectUrl: undefined,
    pkceMethod: 'auto',
    useAccessToken: false,
    authRequestExtraParams: {},
    loginHint: undefined,
    tls: target.tls ?? { caFiles: [], caData: [], insecureSkipVerify: false },
  };
  const session = await openProviderSession(provider, { cacheDir: options.metadataCacheDir, fresh: false, log: options.log, env: options.env });
  const endpoint = session.metadata.revocation_endpoint;
  if (endpoint === undefined) return 'unsupported';
  options.log.debug(`revoking the refresh token of ${target.issuerUrl} (client ${target.clientId}) at ${endpoint}`);
  try {
    await client.tokenRevocation(session.config, refreshToken, { token_type_hint: 'refresh_token' });
  } catch (error) {
    throw toPluginError(error, 'revocation', target.issuerUrl);
  }
  return 'revoked';
}
