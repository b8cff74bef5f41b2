/**
 * Maps what openid-client, fetch and jose throw into PluginErrors with one readable line and a hint.
 * Keeping the original as `cause` lets -v print the chain.
 */
import * as client from 'openid-client';
import { PluginError, isPluginError, type ErrorCode } from '../core/errors.js';

export type ProviderStep = 'discovery' | 'jwks' | 'authorization' | 'token' | 'refresh' | 'verification' | 'revocation';

const STEP_TEXT: Record<ProviderStep, string> = {
  discovery: 'could not discover the OpenID provider',
  jwks: 'could not fetch the provider signing keys',
  authorization: 'the provider refused the authorization',
  token: 'the token request failed',
  refresh: 'could not refresh the token',
  verification: 'the provider returned an invalid token',
  revocation: 'the revocation request failed',
};

const STEP_CODE: Record<ProviderStep, ErrorCode> = {
  discovery: 'ERR_DISCOVERY',
  jwks: 'ERR_DISCOVERY',
  authorization: 'ERR_AUTHORIZATION',
  token: 'ERR_TOKEN_ENDPOINT',
  refresh: 'ERR_REFRESH',
  verification: 'ERR_TOKEN_INVALID',
  revocation: 'ERR_REVOCATION',
};

/** What to do about invalid_client: clean takes only the secret (the client ID comes from the cache entry). */
function invalidClientHint(step: ProviderStep): string {
  return step === 'revocation' ? 'a confidential client must authenticate: pass its secret with --oidc-client-secret' : 'check --oidc-client-id and --oidc-client-secret';
}

export function toPluginError(error: unknown, step: ProviderStep, issuer: string): PluginError {
  if (isPluginError(error)) return error;
  const prefix = STEP_TEXT[step];
  if (error instanceof client.AuthorizationResponseError) {
    return new PluginError('ERR_AUTHORIZATION', `authorization error from the provider: ${oauthError(error.error, error.error_description)}`, {
      hint: 'check the client registration at the provider (redirect URI, allowed scopes, assigned users)',
      cause: error,
    });
  }
  if (error instanceof client.ResponseBodyError) {
    const code: ErrorCode = step === 'refresh' ? 'ERR_REFRESH' : STEP_CODE[step];
    return new PluginError(code, `${prefix}: ${oauthError(error.error, error.error_description)} (HTTP ${error.status})`, {
      hint: error.error === 'invalid_client' ? invalidClientHint(step) : undefined,
      cause: error,
    });
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    // A 401 with a WWW-Authenticate challenge: how a token endpoint rejects client_secret_basic credentials.
    const parameters = error.cause[0]?.parameters;
    const code: ErrorCode = step === 'refresh' ? 'ERR_REFRESH' : STEP_CODE[step];
    return new PluginError(code, `${prefix}: ${oauthError(parameters?.error ?? 'unauthorized', parameters?.error_description)} (HTTP ${error.status})`, {
      hint: parameters?.error === 'invalid_client' ? invalidClientHint(step) : undefined,
      cause: error,
    });
  }
  if (error instanceof client.ClientError) {
    if (error.code === 'OAUTH_TIMEOUT') {
      return new PluginError('ERR_NETWORK', `${prefix}: ${issuer} did not answer in time`, { hint: 'check your network connection and the issuer URL', cause: error });
    }
    if (error.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && step === 'discovery') {
      const discovered = discoveredIssuer(error);
      return new PluginError('ERR_DISCOVERY', `the issuer in the discovery document${discovered ? ` (${discovered})` : ''} differs from --oidc-issuer-url ${issuer}`, {
        hint: 'use the issuer exactly as the provider publishes it, trailing slash included',
        cause: error,
      });
    }
    if (error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
      const status = error.cause instanceof Response ? ` (HTTP ${error.cause.status})` : '';
      return new PluginError(STEP_CODE[step], `${prefix}: unexpected response from ${issuer}${status}`, { hint: 'check the issuer URL', cause: error });
    }
    // openid-client's own message is generic ("unexpected JWT claim value encountered"); the
    // oauth4webapi error below it names the claim.
    const detail = error.cause instanceof Error && error.cause.message ? error.cause.message : error.message;
    if (step === 'discovery' || step === 'jwks') return new PluginError('ERR_DISCOVERY', `${prefix}: ${detail}`, { cause: error });
    if (step === 'revocation') return new PluginError('ERR_REVOCATION', `${prefix}: ${detail}`, { cause: error });
    return new PluginError('ERR_TOKEN_INVALID', `${STEP_TEXT.verification}: ${detail}`, {
      hint: 'check --oidc-issuer-url and --oidc-client-id against the provider; the token was not used',
      cause: error,
    });
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    return new PluginError('ERR_NETWORK', `${prefix}: cannot reach ${issuer}: ${networkReason(error.cause)}`, {
      hint: 'check your network connection, proxy and the issuer URL',
      cause: error,
    });
  }
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new PluginError('ERR_NETWORK', `${prefix}: ${issuer} did not answer in time`, { cause: error });
  }
  return new PluginError(STEP_CODE[step], `${prefix}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function oauthError(code: string, description: string | undefined): string {
  return description ? `${code} (${description})` : code;
}

function discoveredIssuer(error: client.ClientError): string | undefined {
  const cause = error.cause as { body?: { issuer?: unknown } } | undefined;
  return typeof cause?.body?.issuer === 'string' ? cause.body.issuer : undefined;
}

function networkReason(cause: unknown): string {
  const error = cause as { code?: string; message?: string } | undefined;
  switch (error?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found (DNS)';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      if (error?.code?.includes('CERT') || error?.code?.includes('SIGNATURE') || error?.code?.includes('SELF_SIGNED')) {
        return `TLS certificate problem: ${error.code}`;
      }
      return error?.message ?? 'network error';
  }
}
