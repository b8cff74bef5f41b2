/**
 * What the commands see of the OpenID provider: refresh and login, returning verified token sets.
 * This folder is the only importer of openid-client; it is loaded lazily, never on a cache hit.
 */
import * as client from 'openid-client';
import type { TokenSet } from '../core/cache-entry.js';
import type { LoginConfig, ProviderConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import { checkPkceEnforcement, loginWithBrowser, loginWithKeyboard, type PkceCheckResult, type TokenResponse } from './authcode-login.js';
import { loginWithDeviceCode } from './device-login.js';
import { loginWithClientCredentials, loginWithPassword } from './direct-grants.js';
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
  /** selectAccount: a --login-hint account without a cached token yet (prompt=select_account). */
  login(options?: { selectAccount?: boolean }): Promise<VerifiedTokens>;
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
  /**
   * Whether the user may be asked for input on the terminal (password grant, authcode-keyboard): stdin is a
   * terminal and kubectl said so (spec.interactive), or KUBERNETES_EXEC_INFO is absent. Never stdin otherwise:
   * @kubernetes/client-node passes a pipe that never closes.
   */
  interactive: boolean;
}

export function createIdentityProvider(options: IdentityProviderOptions): IdentityProvider {
  const { provider, log } = options;
  let lastSession: ProviderSession | undefined;
  const open = async (fresh: boolean): Promise<ProviderSession> => {
    lastSession = await openProviderSession(provider, { cacheDir: options.metadataCacheDir, fresh, log, signal: options.signal });
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
    async login(loginOptions = {}) {
      const { login, signal } = options;
      // What can fail without the network fails first, before discovery.
      const credentials = login.grantType === 'password' ? passwordCredentials(login, options.interactive, signal) : undefined;
      if (login.grantType === 'authcode-keyboard' && !options.interactive) throw noTerminal('--grant-type=authcode-keyboard needs a terminal to read the code from', 'use --grant-type=authcode or device-code, or');
      if (login.grantType === 'client-credentials' && provider.clientSecret === undefined) {
        throw new PluginError('ERR_USAGE', '--grant-type=client-credentials needs --oidc-client-secret', { hint: 'pass the secret of the confidential client' });
      }
      const session = await open(true);
      let response: TokenResponse;
      switch (login.grantType) {
        case 'authcode': {
          let verified: VerifiedTokens | undefined;
          await loginWithBrowser(session, provider, login, {
            log,
            signal,
            selectAccount: loginOptions.selectAccount === true,
            accept: async (received) => {
              verified = await verifyTokens(session, provider, received, undefined);
            },
          });
          if (verified === undefined) throw new Error('login finished without tokens');
          return verified;
        }
        case 'authcode-keyboard': {
          const { readLine } = await import('../system/terminal.js');
          response = await loginWithKeyboard(session, provider, login, { log, signal, readCode: (prompt, aborted) => readLine(prompt, { echo: true, signal: aborted }) });
          break;
        }
        case 'device-code':
          response = await loginWithDeviceCode(session, provider, login, { log, signal });
          break;
        case 'password': {
          if (credentials === undefined) throw new Error('the password credentials were not prepared');
          response = await loginWithPassword(session, provider, await credentials(), log);
          break;
        }
        case 'client-credentials':
          response = await loginWithClientCredentials(session, provider, log);
          if (!provider.useAccessToken && !response.id_token) {
            throw new PluginError('ERR_TOKEN_INVALID', 'the client credentials token response has no id_token (providers rarely issue one for this grant)', {
              hint: 'add --oidc-use-access-token to hand kubectl the access token (it must be a JWT the API server accepts)',
            });
          }
          break;
      }
      return verifyTokens(session, provider, response, undefined);
    },
  };
}

/**
 * The password grant's username and password: the flags, or, for those not given, prompts on the terminal
 * (`Username: `, then `Password: ` without echo). Without a terminal it fails at once, before any request.
 */
function passwordCredentials(login: LoginConfig, interactive: boolean, signal: AbortSignal): () => Promise<{ username: string; password: string }> {
  const { username, password } = login;
  if (username !== undefined && password !== undefined) return () => Promise.resolve({ username, password });
  if (!interactive) {
    const missing = [username === undefined ? '--username' : undefined, password === undefined ? '--password' : undefined].filter((flag) => flag !== undefined);
    throw noTerminal(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing`, `pass ${missing.join(' and ')}, or`);
  }
  return async () => {
    const { readLine } = await import('../system/terminal.js');
    const name = username ?? (await readLine('Username: ', { echo: true, signal })).trim();
    if (name === '') throw new PluginError('ERR_USAGE', 'no username was entered', { hint: 'enter the username, or pass --username' });
    const secret = password ?? (await readLine('Password: ', { echo: false, signal }));
    return { username: name, password: secret };
  };
}

/** The failure when input is needed and there is no terminal to ask on: at once, never waiting on stdin. */
function noTerminal(what: string, hintStart: string): PluginError {
  return new PluginError('ERR_USAGE', `${what}, and there is no terminal to ask on: stdin is not a terminal, or kubectl did not allow input (it does only with interactiveMode IfAvailable or Always)`, {
    hint: `${hintStart} set interactiveMode: IfAvailable in the exec section of the kubeconfig user and run kubectl in a terminal`,
  });
}

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
