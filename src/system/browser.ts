/**
 * Opening the login URL. The URL is always printed on stderr first, because `open` gives no failure signal
 * on headless Linux (libraries.md §6). Nothing a launcher prints may reach stdout, which kubectl parses as
 * the credential: --browser-command output is forwarded to stderr, and `open` runs with stdio ignored.
 */
import { spawn } from 'node:child_process';
import type { Logger } from './log.js';

export interface BrowserOptions {
  /** --browser-command: run as `<command> <url>`, without a shell. */
  command: string | undefined;
  log: Logger;
}

export async function openInBrowser(url: string, options: BrowserOptions): Promise<void> {
  if (options.command !== undefined) {
    runBrowserCommand(options.command, url, options.log);
    return;
  }
  try {
    const { default: open } = await import('open');
    const child = await open(url);
    child.once('error', (error) => options.log.warn(`could not open the browser: ${error.message}`));
    child.once('exit', (code) => {
      if (code) options.log.warn(`the browser launcher exited with code ${code}; open the URL above by hand`);
    });
    child.unref();
  } catch (error) {
    options.log.warn(`could not open the browser: ${(error as Error).message}; open the URL above by hand`);
  }
}

function runBrowserCommand(command: string, url: string, log: Logger): void {
  const child = spawn(command, [url], { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
  const forward = (chunk: Buffer): void => {
    process.stderr.write(chunk);
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  child.once('error', (error) => log.warn(`could not run the browser command ${command}: ${error.message}`));
  child.once('exit', (code, signal) => {
    if (code) log.warn(`the browser command ${command} exited with code ${code}`);
    else if (signal) log.debug(`the browser command ${command} was ended by ${signal}`);
  });
  // A long-lived browser must not keep the plugin alive once the login is done.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
}
