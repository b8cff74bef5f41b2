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
import { startLoopbackServer } from './loopback-server.js';
import type { ProviderSession } from './provider-session.js';
import { toPluginError } from './provider-errors.js';

export type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

export interface LoginContext {
  log: Logger;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Called with the verified token response before the browser is told the login succeeded. */
  accept: (response: TokenResponse, nonce: string) => Promise<void>;
}

/** Whether to send S256: always, unless disabled, or the provider advertises PKCE methods without S256. */
export function usePkce(method: ProviderConfig['pkceMethod'], advertised: readonly string[] | undefined): boolean {
  if (method === 'no') return false;
  if (method === 'S256') return true;
  // Entra ID and Cognito support S256 without advertising it (kubelogin #440, #858): send it unless told otherwise.
  return advertised === undefined || advertised.length === 0 || advertised.includes('S256');
}

export async function loginWithBrowser(session: ProviderSession, provider: ProviderConfig, login: LoginConfig, context: LoginContext): Promise<TokenResponse> {
  const { log } = context;
  const tls = login.localServerCert !== undefined && login.localServerKey !== undefined ? readTlsFiles(login.localServerCert, login.localServerKey) : undefined;
  const server = await startLoopbackServer({ addresses: login.listenAddresses, tls, log });
  try {
    const redirectUri = provider.redirectUrl ?? `${server.protocol}://localhost:${server.port}`;
    const callbackPath = new URL(redirectUri).pathname || '/';
    const state = client.randomState();
    const nonce = client.randomNonce();
    const pkce = usePkce(provider.pkceMethod, session.metadata.code_challenge_methods_supported);
    const verifier = pkce ? client.randomPKCECodeVerifier() : undefined;
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: scopeParameter(provider),
      state,
      nonce,
      // Google issues refresh tokens only with access_type=offline; other providers ignore it (kubelogin #11).
      access_type: 'offline',
      ...provider.authRequestExtraParams,
    };
    if (verifier !== undefined) {
      parameters['code_challenge'] = await client.calculatePKCECodeChallenge(verifier);
      parameters['code_challenge_method'] = 'S256';
    }
    const authorizationUrl = client.buildAuthorizationUrl(session.config, parameters).href;
    log.debug(`authorization request: redirect_uri=${redirectUri} scope="${parameters['scope']}" pkce=${pkce ? 'S256' : 'off'}`);

    const timeout = AbortSignal.timeout(login.timeoutSec * 1000);
    const signal = AbortSignal.any([context.signal, timeout]);
    const received = server.expectCallback(callbackPath, state, authorizationUrl, signal);
    log.info(`Please visit the following URL in your browser: ${authorizationUrl}`);
    if (!login.skipOpenBrowser) await openInBrowser(authorizationUrl, { command: login.browserCommand, log });

    let callback;
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
      const response = await client
        .authorizationCodeGrant(
          session.config,
          callbackUrl,
          { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: !provider.useAccessToken },
        )
        .catch((error: unknown) => {
          throw toPluginError(error, callback.params.has('error') ? 'authorization' : 'token', provider.issuerUrl);
        });
      await context.accept(response, nonce);
      await callback.finish({ ok: true, openUrl: login.openUrlAfterAuthentication });
      return response;
    } catch (error) {
      await callback.finish({ ok: false, message: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  } finally {
    await server.close();
  }
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
