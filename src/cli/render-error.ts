/** Errors → the text on stderr: one line, a hint, and at -v1 the chain of causes. */
import { isPluginError } from '../core/errors.js';

export function renderError(error: unknown, verbosity: number): string {
  if (isPluginError(error)) {
    let text = `error: ${error.message}\n`;
    if (error.hint) text += `hint: ${error.hint}\n`;
    if (verbosity >= 1) text += causeChain(error.cause);
    return text;
  }
  // Not a PluginError: a bug. Say so, with the stack, rather than dress it up.
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `error: internal error: ${error instanceof Error ? error.message : String(error)}\nhint: please report this with the output of -v1\n${verbosity >= 1 ? `${stack}\n` : ''}`;
}

function causeChain(cause: unknown): string {
  let text = '';
  for (let current = cause, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const message = current instanceof Error ? `${current.name}: ${current.message}` : String(current);
    text += `cause: ${message}\n`;
    current = current instanceof Error ? current.cause : undefined;
  }
  return text;
}
