/**
 * What the commands see of the OpenID provider: refresh and login, returning verified token sets.
 * This folder is the only importer of openid-client; it is loaded lazily, never on a cache hit.
 */
import * as client from 'openid-client';
import type { TokenSet } from '../core/cache-entry.js';
import type { LoginConfig, ProviderConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import { checkPkceEnforcement, loginWithBrowser, type PkceCheckResult } from './authcode-login.js';
import { openProviderSession, type ProviderSession, type VerifiedJwt } from './provider-session.js';
import { toPluginError } from './provider-errors.js';

export interface VerifiedTokens extends TokenSet {
  /** The verified claims of the ID token (or of the access token in access-token mode). */
  claims: Record<string, unknown>;
  /** The JWS algorithm of that token. */
  signingAlg: string | undefined;
}

export interface IdentityProvider {
  refresh(refreshToken: string): Promise<VerifiedTokens>;
  login(): Promise<VerifiedTokens>;
  /** setup --check-pkce: a second authorization, redeemed with a wrong code_verifier. */
  checkPkce(): Promise<PkceCheckResult>;
  /** The provider's discovery document (after a login or refresh). */
  metadata(): Promise<Record<string, unknown>>;
}

export interface IdentityProviderOptions {
  provider: ProviderConfig;
  login: LoginConfig;
  /** Where the discovery document and keys are cached; undefined for --token-cache-storage=none. */
  metadataCacheDir: string | undefined;
  log: Logger;
  signal: AbortSignal;
}

export function createIdentityProvider(options: IdentityProviderOptions): IdentityProvider {
  const { provider, log } = options;
  let lastSession: ProviderSession | undefined;
  const open = async (fresh: boolean): Promise<ProviderSession> => {
    lastSession = await openProviderSession(provider, { cacheDir: options.metadataCacheDir, fresh, log });
    return lastSession;
  };
  return {
    async checkPkce() {
      const session = lastSession ?? (await open(true));
      return checkPkceEnforcement(session, provider, options.login, { log, signal: options.signal });
    },
    async metadata() {
      const session = lastSession ?? (await open(false));
      return { ...session.metadata };
    },
    async refresh(refreshToken) {
      const session = await open(false);
      log.debug(`refreshing the token at ${session.metadata.token_endpoint}`);
      const response = await client.refreshTokenGrant(session.config, refreshToken).catch((error: unknown) => {
        throw toPluginError(error, 'refresh', provider.issuerUrl);
      });
      return verifyTokens(session, provider, response, refreshToken);
    },
    async login() {
      const session = await open(true);
      let verified: VerifiedTokens | undefined;
      await loginWithBrowser(session, provider, options.login, {
        log,
        signal: options.signal,
        accept: async (response) => {
          verified = await verifyTokens(session, provider, response, undefined);
        },
      });
      if (verified === undefined) throw new Error('login finished without tokens');
      return verified;
    },
  };
}

type TokenResponse = Awaited<ReturnType<typeof client.refreshTokenGrant>>;

/**
 * openid-client checks iss, aud, exp and nonce of the ID token but not its signature (libraries.md §2.4):
 * the signature is verified here against the provider's JWKS before any token is used or cached.
 */
async function verifyTokens(session: ProviderSession, provider: ProviderConfig, response: TokenResponse, previousRefreshToken: string | undefined): Promise<VerifiedTokens> {
  const idToken = response.id_token;
  const accessToken = response.access_token;
  if (!provider.useAccessToken && !idToken) {
    throw new PluginError('ERR_TOKEN_INVALID', 'the token response has no id_token', {
      hint: 'request the "openid" scope from a provider that issues ID tokens, or use --oidc-use-access-token',
    });
  }
  let verified: VerifiedJwt | undefined;
  if (idToken) verified = await session.verifyJwt(idToken, provider.clientId);
  if (provider.useAccessToken) {
    if (!accessToken || accessToken.split('.').length !== 3) {
      throw new PluginError('ERR_TOKEN_INVALID', 'the access token is not a JWT, so the API server cannot verify it', {
        hint: 'configure the provider to issue JWT access tokens, or drop --oidc-use-access-token',
      });
    }
    // Like kubelogin: no audience check, the access token's audience is the API, not this client.
    verified = await session.verifyJwt(accessToken, undefined);
  }
  return {
    claims: verified?.claims ?? {},
    signingAlg: verified?.alg,
    idToken,
    accessToken,
    // A provider that does not rotate refresh tokens may omit it; the old one stays valid.
    refreshToken: response.refresh_token ?? previousRefreshToken,
  };
}
