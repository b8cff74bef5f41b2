/**
 * Reading a line from the terminal: the password grant's `Username: ` / `Password: ` prompts and
 * authcode-keyboard's `Enter code: `. Loaded only on those paths, and only when the caller has made sure
 * that stdin is a terminal kubectl meant the plugin to use (spec.interactive): a pipe is never read, because
 * @kubernetes/client-node passes one that never closes.
 *
 * The prompt goes to stderr (stdout is the credential's). The terminal is put in raw mode for the read, so
 * that nothing is echoed unless asked for (the password), and restored before the promise settles, also on
 * Ctrl-C, Ctrl-D and abort.
 */
import type { ReadStream } from 'node:tty';
import { StringDecoder } from 'node:string_decoder';
import { PluginError } from '../core/errors.js';

export interface ReadLineOptions {
  /** Echo what is typed (false for passwords: nothing at all is shown). */
  echo: boolean;
  /** Aborting it ends the read with its reason (a PluginError as is, else ERR_INTERRUPTED). */
  signal?: AbortSignal | undefined;
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const ESCAPE = '\u001b';
const BACKSPACE = '\b';
const DELETE = '\u007f';

/** Reads one line from the terminal on stdin after printing prompt on stderr. Rejects when stdin is not a terminal. */
export function readLine(prompt: string, options: ReadLineOptions): Promise<string> {
  const input = process.stdin as ReadStream;
  if (!input.isTTY) {
    return Promise.reject(new PluginError('ERR_USAGE', 'stdin is not a terminal, so nothing can be prompted for', { hint: 'run the command in a terminal' }));
  }
  const output = process.stderr;
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<string>((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let line = '';
    /** Inside an escape sequence (arrow keys and the like): ignored up to its final byte. */
    let escape: 'none' | 'start' | 'csi' = 'none';
    let settled = false;

    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      input.off('data', onData);
      input.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
      input.setRawMode(false);
      input.pause();
      // Raw mode does not move to the next line on Enter.
      output.write('\n');
      if (error !== undefined) reject(error);
      else resolve(line);
    };
    const onAbort = (): void => finish(signal === undefined ? interrupted() : abortError(signal));
    const onEnd = (): void => finish(new PluginError('ERR_INTERRUPTED', 'the terminal was closed before a line was entered'));
    const onData = (chunk: Buffer | string): void => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      for (const char of text) {
        if (escape === 'start') {
          escape = char === '[' || char === 'O' ? 'csi' : 'none';
          continue;
        }
        if (escape === 'csi') {
          if (char >= '@' && char <= '~') escape = 'none';
          continue;
        }
        switch (char) {
          case '\r':
          case '\n':
            finish(undefined);
            return;
          case CTRL_C:
            finish(interrupted());
            return;
          case CTRL_D:
            if (line === '') {
              finish(new PluginError('ERR_INTERRUPTED', 'no input (end of file)'));
              return;
            }
            break;
          case CTRL_U:
            if (options.echo) output.write('\b \b'.repeat([...line].length));
            line = '';
            break;
          case BACKSPACE:
          case DELETE:
            if (line !== '') {
              line = [...line].slice(0, -1).join('');
              if (options.echo) output.write('\b \b');
            }
            break;
          case ESCAPE:
            escape = 'start';
            break;
          default:
            if (char >= ' ') {
              line += char;
              if (options.echo) output.write(char);
            }
        }
      }
    };

    // Raw mode before the prompt: from the moment it shows, the terminal itself echoes nothing.
    input.setRawMode(true);
    input.on('data', onData);
    input.once('end', onEnd);
    signal?.addEventListener('abort', onAbort, { once: true });
    output.write(prompt);
    input.resume();
  });
}

function interrupted(): PluginError {
  return new PluginError('ERR_INTERRUPTED', 'interrupted (Ctrl-C)');
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof PluginError) return reason;
  return new PluginError('ERR_INTERRUPTED', 'the login was interrupted', { cause: reason });
}
