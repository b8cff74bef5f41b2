/**
 * The one error type of the plugin. Every failure the user can act on is a PluginError with a code;
 * cli/ maps it to one stderr line (plus a hint) and exit code 1. Anything else is a bug.
 */
export type ErrorCode =
  | 'ERR_USAGE'
  | 'ERR_EXEC_INFO'
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_INSECURE_ISSUER'
  | 'ERR_DISCOVERY'
  | 'ERR_NETWORK'
  | 'ERR_NO_PORT'
  | 'ERR_LOGIN_TIMEOUT'
  | 'ERR_BROWSER_COOLDOWN'
  | 'ERR_AUTHORIZATION'
  | 'ERR_TOKEN_ENDPOINT'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_REFRESH'
  | 'ERR_REVOCATION'
  | 'ERR_CACHE'
  | 'ERR_LOCK'
  | 'ERR_KUBECONFIG'
  | 'ERR_INTERRUPTED';

export interface PluginErrorOptions {
  /** One short sentence telling the user what to do next. */
  hint?: string;
  cause?: unknown;
}

export class PluginError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: PluginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PluginError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isPluginError(value: unknown): value is PluginError {
  return value instanceof PluginError;
}
