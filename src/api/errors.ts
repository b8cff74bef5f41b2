/** The one error type of the programmatic API: every rejection of getToken is an OidcLoginError. */
import { isPluginError, type ErrorCode } from '../core/errors.js';

/**
 * What went wrong, as a stable code (the CLI's codes, plus ERR_INTERNAL for a bug). Among them:
 * `ERR_USAGE` (an invalid option), `ERR_INSECURE_ISSUER`, `ERR_DISCOVERY`, `ERR_NETWORK`, `ERR_NO_PORT`,
 * `ERR_LOGIN_TIMEOUT`, `ERR_BROWSER_COOLDOWN` (a recent browser login did not complete), `ERR_AUTHORIZATION`,
 * `ERR_TOKEN_ENDPOINT`, `ERR_TOKEN_INVALID`, `ERR_CACHE`, `ERR_LOCK`, `ERR_INTERRUPTED` (the signal aborted).
 */
export type OidcLoginErrorCode = ErrorCode | 'ERR_INTERNAL';

export interface OidcLoginErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
}

export class OidcLoginError extends Error {
  override readonly name = 'OidcLoginError';
  /** Stable: switch on it, not on the message. */
  readonly code: OidcLoginErrorCode;
  /** One sentence telling the user what to do next (the CLI prints it as `hint: …`), when there is one. */
  readonly hint: string | undefined;

  constructor(code: OidcLoginErrorCode, message: string, options: OidcLoginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

/** @internal Any failure as an OidcLoginError; `wording` rewrites the CLI's flag names in messages and hints. */
export function toOidcLoginError(error: unknown, wording: (text: string) => string): OidcLoginError {
  if (error instanceof OidcLoginError) return error;
  if (isPluginError(error)) {
    return new OidcLoginError(error.code, wording(error.message), { hint: error.hint === undefined ? undefined : wording(error.hint), cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new OidcLoginError('ERR_INTERNAL', `internal error: ${message}`, { hint: 'please report this, with the cause', cause: error });
}
