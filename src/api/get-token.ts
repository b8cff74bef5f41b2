/**
 * getToken in-process: the CLI's get-token (cli/run-get-token.ts, the same cache key, entries and lock files)
 * with the stderr lines handed to the caller, and every failure an OidcLoginError.
 */
import { decodeJwt } from 'jose';
import { runGetToken } from '../cli/run-get-token.js';
import { PluginError } from '../core/errors.js';
import { EXEC_API_V1, EXEC_API_V1BETA1, buildExecCredential, type ExecInfo } from '../core/exec-credential.js';
import { OidcLoginError, toOidcLoginError } from './errors.js';
import { apiWording, toRawFlags } from './options.js';
import type { ExecCredential, ExecCredentialApiVersion, GetTokenOptions, TokenClaims, TokenResult, TokenSource } from './types.js';

/** As @kubernetes/client-node runs the plugin: no KUBERNETES_EXEC_INFO, so never a prompt on the terminal. */
const EXEC_INFO: ExecInfo = { apiVersion: EXEC_API_V1, interactive: false, cluster: undefined };

/**
 * Returns a valid token for the provider: from the on-disk cache the CLI uses when it holds one, else by a
 * refresh, else by a login (a browser login by default: its URL is reported through `onMessage`). Concurrent
 * calls and CLI processes with the same settings share one lock, so they make one login.
 *
 * @throws {OidcLoginError} for every failure (`code`, `message`, `hint`).
 */
export async function getToken(options: GetTokenOptions): Promise<TokenResult> {
  const controller = new AbortController();
  const caller = options?.signal;
  const interrupted = (): PluginError => new PluginError('ERR_INTERRUPTED', 'aborted by the caller', { cause: caller?.reason });
  const onAbort = (): void => controller.abort(interrupted());
  try {
    const raw = toRawFlags(options);
    if (caller?.aborted) onAbort();
    else caller?.addEventListener('abort', onAbort, { once: true });
    controller.signal.throwIfAborted();
    const running = runGetToken(raw, {
      env: process.env,
      execInfo: EXEC_INFO,
      write: lineWriter(options.onMessage),
      signal: controller.signal,
      interactive: false,
    });
    const { credential, source } = await untilAborted(running, controller.signal);
    return tokenResult(credential, source);
  } catch (error) {
    throw toOidcLoginError(error, apiWording);
  } finally {
    caller?.removeEventListener('abort', onAbort);
  }
}

/**
 * Settles with `running`, or rejects as soon as the signal aborts: a request to the provider in flight, or the
 * wait for another process's lock, cannot be cancelled, and the caller must not wait for it. `running` then
 * unwinds on its own (the aborted signal stops the login; the lock, once taken, is let go at once).
 */
function untilAborted<T>(running: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The ExecCredential for a token, as the CLI prints it (`kubectl oidc-login get-token`). */
export function execCredential(token: string, expirationTimestamp: Date, apiVersion: ExecCredentialApiVersion = EXEC_API_V1): ExecCredential {
  if (apiVersion !== EXEC_API_V1 && apiVersion !== EXEC_API_V1BETA1) {
    throw new OidcLoginError('ERR_USAGE', `unknown ExecCredential apiVersion ${JSON.stringify(apiVersion)}`, { hint: `use ${EXEC_API_V1} or ${EXEC_API_V1BETA1}` });
  }
  return buildExecCredential({ apiVersion, interactive: false, cluster: undefined }, token, expirationTimestamp);
}

function tokenResult(credential: ExecCredential, source: TokenSource): TokenResult {
  const { token } = credential.status;
  const expirationTimestamp = new Date(credential.status.expirationTimestamp);
  return {
    token,
    expirationTimestamp,
    claims: decodeClaims(token),
    source,
    execCredential: (apiVersion) => execCredential(token, expirationTimestamp, apiVersion),
  };
}

function decodeClaims(token: string): TokenClaims {
  try {
    return decodeJwt(token) as TokenClaims;
  } catch {
    // Not reached: only a JWT with an exp claim is ever returned.
    return {};
  }
}

/** The logger writes text ending in a newline; the caller gets one call per line. */
function lineWriter(onMessage: ((line: string) => void) | undefined): (text: string) => void {
  if (onMessage === undefined) return (text) => process.stderr.write(text);
  return (text) => {
    for (const line of text.replace(/\n$/, '').split('\n')) {
      try {
        onMessage(line);
      } catch {
        // The caller's display failing must not fail, or half-finish, the login.
      }
    }
  };
}
