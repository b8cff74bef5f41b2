/**
 * The stderr logger. stdout belongs to the ExecCredential alone, so every human-facing line goes here.
 * Level 0 prints only what the user must see; -v1 the login steps; -v2 HTTP requests. Tokens, codes and
 * secrets are logged at no level (test/integration/secrets-in-logs.test.ts runs a login and a refresh at -v9).
 */
export interface Logger {
  readonly level: number;
  /** Always printed. */
  info(message: string): void;
  /** Always printed, prefixed "warning: ". */
  warn(message: string): void;
  /** Printed when the level is at least `level` (default 1). */
  debug(message: string, level?: number): void;
}

export function createLogger(level: number, write: (text: string) => void): Logger {
  return {
    level,
    info: (message) => write(`${message}\n`),
    warn: (message) => write(`warning: ${message}\n`),
    debug: (message, atLevel = 1) => {
      if (level >= atLevel) write(`${message}\n`);
    },
  };
}
