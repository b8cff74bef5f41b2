/**
 * The browser login: authorization code + PKCE with state and nonce, the response received on a loopback
 * server (kubelogin-compat.md §3, RFC 8252). The authorization URL is always printed on stderr, whether or
 * not a browser is opened, because a browser launcher can fail without telling (headless Linux, SSH).
 */
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { scopeParameter, type LoginConfig, type ProviderConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import { openInBrowser } from '../system/browser.js';
import type { Logger } from '../system/log.js';
import { redirectHostOf, startLoopbackServer } from './loopback-server.js';
import type { ProviderSession } from './provider-session.js';
import { toPluginError } from './provider-errors.js';

export type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

export interface LoginContext {
  log: Logger;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Called with the verified token response before the browser is told the login succeeded. */
  accept: (response: TokenResponse, nonce: string) => Promise<void>;
  /** A --login-hint account without a cached token yet: let the user choose the account at the provider. */
  selectAccount?: boolean;
}

/** Whether to send S256: always, unless disabled, or the provider advertises PKCE methods without S256. */
export function usePkce(method: ProviderConfig['pkceMethod'], advertised: readonly string[] | undefined): boolean {
  if (method === 'no') return false;
  if (method === 'S256') return true;
  // Entra ID and Cognito support S256 without advertising it (kubelogin #440, #858): send it unless told otherwise.
  return advertised === undefined || advertised.length === 0 || advertised.includes('S256');
}

interface AuthorizationOptions {
  /** The PKCE verifier to send the challenge of; undefined for none. */
  verifier: string | undefined;
  /** Ask the provider to let the user choose the account (a --login-hint label seen for the first time). */
  selectAccount?: boolean;
}

interface ReceivedAuthorization {
  callback: ReceivedCallback;
  /** The callback URL as the provider redirected to it, for the code exchange. */
  callbackUrl: URL;
  state: string;
  nonce: string;
}

type ReceivedCallback = Awaited<ReturnType<Awaited<ReturnType<typeof startLoopbackServer>>['expectCallback']>>;

interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
}

/**
 * The authorization request of the browser and keyboard logins: every parameter of it is decided here.
 * state and nonce are fresh for each request; PKCE S256 when a verifier is given.
 */
async function buildAuthorizationRequest(session: ProviderSession, provider: ProviderConfig, redirectUri: string, options: AuthorizationOptions, log: Logger): Promise<AuthorizationRequest> {
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters: Record<string, string> = {
    redirect_uri: redirectUri,
    scope: scopeParameter(provider),
    state,
    nonce,
    // Google issues refresh tokens only with access_type=offline; other providers ignore it (kubelogin #11).
    access_type: 'offline',
    // --login-hint names the account, so that the provider does not silently reuse another session (kubelogin #29);
    // a label without a cached token yet also asks the provider to let the user pick the account.
    ...(provider.loginHint !== undefined ? { login_hint: provider.loginHint, ...(options.selectAccount && offersSelectAccount(session) ? { prompt: 'select_account' } : {}) } : {}),
    ...provider.authRequestExtraParams,
  };
  if (options.verifier !== undefined) {
    parameters['code_challenge'] = await client.calculatePKCECodeChallenge(options.verifier);
    parameters['code_challenge_method'] = 'S256';
  }
  log.debug(`authorization request: redirect_uri=${redirectUri} scope="${parameters['scope']}" pkce=${options.verifier !== undefined ? 'S256' : 'off'}`);
  return { url: client.buildAuthorizationUrl(session.config, parameters).href, state, nonce };
}

/**
 * Runs one authorization request through the browser and hands the callback to `redeem`, whose outcome the
 * browser is told about. The loopback server lives exactly as long as this call.
 */
async function authorizeInBrowser<T>(
  session: ProviderSession,
  provider: ProviderConfig,
  login: LoginConfig,
  context: Pick<LoginContext, 'log' | 'signal'>,
  options: AuthorizationOptions,
  redeem: (received: ReceivedAuthorization) => Promise<T>,
): Promise<T> {
  const { log } = context;
  const tls = login.localServerCert !== undefined && login.localServerKey !== undefined ? readTlsFiles(login.localServerCert, login.localServerKey) : undefined;
  const server = await startLoopbackServer({ addresses: login.listenAddresses, tls, log, redirectHost: redirectHostOf(provider.redirectUrl) });
  try {
    const redirectUri = provider.redirectUrl ?? `${server.protocol}://localhost:${server.port}`;
    const callbackPath = new URL(redirectUri).pathname || '/';
    const { state, nonce, url: authorizationUrl } = await buildAuthorizationRequest(session, provider, redirectUri, options, log);

    const timeout = AbortSignal.timeout(login.timeoutSec * 1000);
    const signal = AbortSignal.any([context.signal, timeout]);
    const received = server.expectCallback(callbackPath, state, authorizationUrl, signal);
    log.info(`Please visit the following URL in your browser: ${authorizationUrl}`);
    if (!login.skipOpenBrowser) {
      // Where no browser can be opened (SSH, headless), the redirect must still reach this machine's port.
      const redirect = new URL(redirectUri);
      const port = redirect.port || String(server.port);
      const manualHint = `open the URL above in a browser on a machine whose ${redirect.host} reaches this one (ssh -L ${port}:localhost:${server.port})`;
      await openInBrowser(authorizationUrl, { command: login.browserCommand, log, manualHint });
    }

    let callback: ReceivedCallback;
    try {
      callback = await received;
    } catch (error) {
      if (timeout.aborted) {
        throw new PluginError('ERR_LOGIN_TIMEOUT', `timed out after ${login.timeoutSec} s waiting for the browser login`, {
          hint: 'open the URL above and log in, or raise --authentication-timeout-sec',
        });
      }
      throw new PluginError('ERR_INTERRUPTED', 'the login was interrupted', { cause: error });
    }

    session.useRedirectUriForCodeExchange(redirectUri);
    const callbackUrl = new URL(redirectUri);
    callbackUrl.search = callback.params.toString();
    try {
      const result = await redeem({ callback, callbackUrl, state, nonce });
      await callback.finish({ ok: true, openUrl: login.openUrlAfterAuthentication });
      return result;
    } catch (error) {
      await callback.finish({ ok: false, message: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  } finally {
    await server.close();
  }
}

export async function loginWithBrowser(session: ProviderSession, provider: ProviderConfig, login: LoginConfig, context: LoginContext): Promise<TokenResponse> {
  const pkce = usePkce(provider.pkceMethod, session.metadata.code_challenge_methods_supported);
  const verifier = pkce ? client.randomPKCECodeVerifier() : undefined;
  return authorizeInBrowser(session, provider, login, context, { verifier, selectAccount: context.selectAccount === true }, async ({ callback, callbackUrl, state, nonce }) => {
    const response = await client
      .authorizationCodeGrant(session.config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: !provider.useAccessToken })
      .catch((error: unknown) => {
        throw toPluginError(error, callback.params.has('error') ? 'authorization' : 'token', provider.issuerUrl);
      });
    await context.accept(response, nonce);
    return response;
  });
}

/** authcode-keyboard's redirect_uri without --oidc-redirect-url (kubelogin's): the provider shows the code instead. */
export const OOB_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

export interface KeyboardContext extends Pick<LoginContext, 'log' | 'signal'> {
  /** Prints prompt on stderr and reads one line from the terminal; rejects with the signal's reason when it aborts. */
  readCode: (prompt: string, signal: AbortSignal) => Promise<string>;
}

/**
 * authcode-keyboard: the browser login's authorization request, redirected to --oidc-redirect-url or the
 * out-of-band URI, and the code pasted on the terminal (or the whole URL the browser was sent to). Redeemed
 * with the PKCE verifier, the nonce checked; the state cannot be, as only the code is pasted (as kubelogin).
 */
export async function loginWithKeyboard(session: ProviderSession, provider: ProviderConfig, login: LoginConfig, context: KeyboardContext): Promise<TokenResponse> {
  const { log } = context;
  const pkce = usePkce(provider.pkceMethod, session.metadata.code_challenge_methods_supported);
  const verifier = pkce ? client.randomPKCECodeVerifier() : undefined;
  const redirectUri = provider.redirectUrl ?? OOB_REDIRECT_URI;
  const { state, nonce, url } = await buildAuthorizationRequest(session, provider, redirectUri, { verifier }, log);
  log.info(`Please visit the following URL in your browser: ${url}`);
  if (!login.skipOpenBrowser) await openInBrowser(url, { command: login.browserCommand, log });

  const timeout = AbortSignal.timeout(login.timeoutSec * 1000);
  let line: string;
  try {
    line = await context.readCode('Enter code: ', AbortSignal.any([context.signal, timeout]));
  } catch (error) {
    if (timeout.aborted && !context.signal.aborted) {
      throw new PluginError('ERR_LOGIN_TIMEOUT', `timed out after ${login.timeoutSec} s waiting for the code`, {
        hint: 'open the URL above, log in and paste the code the provider shows, or raise --authentication-timeout-sec',
      });
    }
    throw error;
  }
  const pasted = pastedAuthorizationResponse(line);
  if (pasted.error !== undefined) {
    throw new PluginError('ERR_AUTHORIZATION', `authorization error from the provider: ${pasted.error}`, {
      hint: 'check the client registration at the provider (redirect URI, allowed scopes, assigned users)',
    });
  }
  if (pasted.code === undefined) {
    throw new PluginError('ERR_AUTHORIZATION', 'no authorization code was entered', { hint: 'paste the code the provider shows after the login' });
  }
  session.useRedirectUriForCodeExchange(redirectUri);
  // openid-client takes the code from a callback URL and checks state (and iss when the provider says it sends
  // it): only the code comes from the user, the rest is filled in to match.
  const callbackUrl = new URL(redirectUri);
  const params = new URLSearchParams({ code: pasted.code, state });
  if (session.metadata.authorization_response_iss_parameter_supported === true) params.set('iss', session.metadata.issuer);
  callbackUrl.search = params.toString();
  return client
    .authorizationCodeGrant(session.config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: !provider.useAccessToken })
    .catch((error: unknown) => {
      throw toPluginError(error, 'token', provider.issuerUrl);
    });
}

/** The code from a pasted line: the code itself, or the URL the provider redirected to (its code or error parameter). */
function pastedAuthorizationResponse(line: string): { code?: string; error?: string } {
  const text = line.trim();
  if (text === '') return {};
  if (/^https?:\/\/|^urn:/i.test(text)) {
    try {
      const params = new URL(text).searchParams;
      const error = params.get('error');
      if (error !== null) {
        const description = params.get('error_description');
        return { error: description ? `${error} (${description})` : error };
      }
      const code = params.get('code');
      if (code !== null && code !== '') return { code };
    } catch {
      // Not a URL after all: take the line as the code.
    }
  }
  return { code: text };
}

export type PkceCheckResult = { result: 'enforced' } | { result: 'not-enforced' } | { result: 'inconclusive'; reason: string };

/**
 * The manual PKCE check of oidc-setup-guide.md, automated: authorize with an S256 challenge, then redeem the
 * code with a different code_verifier. A provider that enforces PKCE answers invalid_grant; one that issues
 * tokens does not check the verifier. Any tokens it issues are dropped unused.
 */
export async function checkPkceEnforcement(session: ProviderSession, provider: ProviderConfig, login: LoginConfig, context: Pick<LoginContext, 'log' | 'signal'>): Promise<PkceCheckResult> {
  const verifier = client.randomPKCECodeVerifier();
  return authorizeInBrowser(session, provider, login, context, { verifier }, async ({ callbackUrl, state, nonce }) => {
    const wrongVerifier = client.randomPKCECodeVerifier();
    try {
      await client.authorizationCodeGrant(session.config, callbackUrl, { pkceCodeVerifier: wrongVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: false });
      return { result: 'not-enforced' };
    } catch (error) {
      if (error instanceof client.ResponseBodyError && error.error === 'invalid_grant') return { result: 'enforced' };
      const reason = error instanceof client.ResponseBodyError ? `the provider answered ${error.error}${error.error_description ? `: ${error.error_description}` : ''}` : toPluginError(error, 'token', provider.issuerUrl).message;
      return { result: 'inconclusive', reason };
    }
  });
}

function readTlsFiles(certPath: string, keyPath: string): { cert: string; key: string } {
  try {
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } catch (error) {
    throw new PluginError('ERR_USAGE', `cannot read --local-server-cert/--local-server-key: ${(error as Error).message}`, {
      hint: 'pass readable PEM files',
    });
  }
}

/** select_account is optional in OpenID Connect: send it unless the provider lists its prompt values without it. */
function offersSelectAccount(session: ProviderSession): boolean {
  const supported = (session.metadata as Record<string, unknown>)['prompt_values_supported'];
  return !Array.isArray(supported) || supported.includes('select_account');
}
