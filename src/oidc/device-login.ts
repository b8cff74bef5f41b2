/**
 * --grant-type=device-code: the OAuth 2.0 device authorization grant (RFC 8628, kubelogin-compat.md §3).
 *
 * Unlike kubelogin, PKCE S256 is sent with the device authorization request (and the verifier with the
 * device_code token request) whenever the browser login would send it: Keycloak with PKCE enforced refuses
 * device requests without it (kubelogin #1470), and servers that do not know it ignore the parameters
 * (RFC 8628 §3.1 lets them). --oidc-pkce-method=no turns it off.
 *
 * The user code and the URL are always printed on stderr, and the URL (with the code in it when the provider
 * gives one) is opened in the browser unless --skip-open-browser. Polling honours `interval` and `slow_down`
 * (openid-client) and ends at `expires_in` or --authentication-timeout-sec, whichever comes first, or on
 * SIGINT/SIGTERM.
 */
import * as client from 'openid-client';
import { scopeParameter, type LoginConfig, type ProviderConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import { openInBrowser } from '../system/browser.js';
import type { Logger } from '../system/log.js';
import { usePkce, type TokenResponse } from './authcode-login.js';
import type { ProviderSession } from './provider-session.js';
import { toPluginError } from './provider-errors.js';

export interface DeviceLoginContext {
  log: Logger;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export async function loginWithDeviceCode(session: ProviderSession, provider: ProviderConfig, login: LoginConfig, context: DeviceLoginContext): Promise<TokenResponse> {
  const { log } = context;
  const endpoint = session.metadata.device_authorization_endpoint;
  if (endpoint === undefined) {
    throw new PluginError('ERR_DISCOVERY', `${provider.issuerUrl} does not offer the device authorization grant (its discovery document has no device_authorization_endpoint)`, {
      hint: 'use another --grant-type (authcode opens a browser), or enable the device flow at the provider',
    });
  }
  const pkce = usePkce(provider.pkceMethod, session.metadata.code_challenge_methods_supported);
  const verifier = pkce ? client.randomPKCECodeVerifier() : undefined;
  const parameters: Record<string, string> = { scope: scopeParameter(provider) };
  if (verifier !== undefined) {
    parameters['code_challenge'] = await client.calculatePKCECodeChallenge(verifier);
    parameters['code_challenge_method'] = 'S256';
  }
  log.debug(`device authorization request to ${endpoint}: scope="${parameters['scope']}" pkce=${verifier !== undefined ? 'S256' : 'off'}`);
  const authorization = await client.initiateDeviceAuthorization(session.config, parameters).catch((error: unknown) => {
    const refused = toPluginError(error, 'authorization', provider.issuerUrl);
    const aboutPkce = error instanceof client.ResponseBodyError && error.error === 'invalid_request' && /code_challenge|pkce/i.test(error.error_description ?? '');
    if (aboutPkce && verifier === undefined) {
      throw new PluginError(refused.code, `the provider refused the device authorization request without PKCE: ${error.error_description ?? error.error}`, {
        hint: 'drop --oidc-pkce-method=no (or use --oidc-pkce-method=S256): the provider requires PKCE',
        cause: error,
      });
    }
    throw new PluginError(refused.code, refused.message.replace('the provider refused the authorization', 'the provider refused the device authorization request'), {
      hint: refused.hint ?? 'check that the device flow is enabled for this client at the provider',
      cause: error,
    });
  });

  const url = authorization.verification_uri_complete ?? authorization.verification_uri;
  log.info(`Please enter the following code when asked in your browser: ${authorization.user_code}`);
  log.info(`Please visit the following URL in your browser: ${url}`);
  if (!login.skipOpenBrowser) await openInBrowser(url, { command: login.browserCommand, log });

  const expiresInSec = authorization.expires_in > 0 ? authorization.expires_in : login.timeoutSec;
  const limitSec = Math.min(expiresInSec, login.timeoutSec);
  const deadline = AbortSignal.timeout(limitSec * 1000);
  const signal = AbortSignal.any([context.signal, deadline]);
  log.debug(`polling ${session.metadata.token_endpoint} every ${authorization.interval ?? 5} s for up to ${limitSec} s`);
  const polling = client.pollDeviceAuthorizationGrant(session.config, authorization, verifier !== undefined ? { code_verifier: verifier } : undefined, { signal });
  try {
    // openid-client notices an abort only between its waits (up to 5 s): stop waiting for it at once.
    return await untilAborted(polling, signal);
  } catch (error) {
    if (context.signal.aborted) throw new PluginError('ERR_INTERRUPTED', 'the login was interrupted', { cause: error });
    if (deadline.aborted) {
      const byFlag = login.timeoutSec < expiresInSec;
      throw new PluginError('ERR_LOGIN_TIMEOUT', byFlag ? `timed out after ${limitSec} s waiting for the device login` : `the device code expired after ${limitSec} s before the login was completed`, {
        hint: byFlag ? 'open the URL above, enter the code and log in, or raise --authentication-timeout-sec' : 'run the command again, and enter the code in the browser before it expires',
        cause: error,
      });
    }
    throw deviceGrantError(error, provider.issuerUrl);
  }
}

function deviceGrantError(error: unknown, issuer: string): PluginError {
  if (error instanceof client.ResponseBodyError) {
    const detail = error.error_description ? ` (${error.error_description})` : '';
    if (error.error === 'access_denied') {
      return new PluginError('ERR_AUTHORIZATION', `the device login was denied: access_denied${detail}`, {
        hint: 'approve the request in the browser (and check that your account may use this client), then run the command again',
        cause: error,
      });
    }
    if (error.error === 'expired_token') {
      return new PluginError('ERR_LOGIN_TIMEOUT', `the device code expired before the login was completed: expired_token${detail}`, {
        hint: 'run the command again, and enter the code in the browser before it expires',
        cause: error,
      });
    }
  }
  return toPluginError(error, 'token', issuer);
}

/** Settles with promise, or rejects as soon as signal aborts (the promise is then left to settle unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
