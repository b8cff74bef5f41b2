/**
 * Opening the login URL. The caller prints the URL on stderr first, whatever happens here, because a browser
 * launcher can fail without telling (the `open` package on headless Linux: libraries.md §6).
 *
 * Before launching anything, chooseBrowserLauncher decides whether a browser can be opened at all, and with
 * what: --browser-command, then $BROWSER (as xdg-open and Python's webbrowser read it), then, on WSL, the
 * Windows browser, then the `open` package on a desktop. Where no browser can be opened (no display, an SSH
 * session without a forwarded display) nothing is spawned and one line says why.
 *
 * Nothing a launcher prints may reach stdout, which kubectl parses as the credential: command output is
 * forwarded to stderr, and `open` runs with stdio ignored. This module is loaded only on a cache miss.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from './log.js';

export interface BrowserOptions {
  /** --browser-command: run as `<command> <url>`, without a shell. */
  command: string | undefined;
  log: Logger;
  /**
   * What the user should do when no browser can be opened here, after "open the URL above…". The default
   * suits a URL that works from any machine (the device flow); a loopback redirect needs a forwarded port.
   */
  manualHint?: string;
}

/** How to open a URL, decided before anything is spawned. */
export type BrowserLauncher =
  | {
      kind: 'command';
      /** Run without a shell; the URL is already in place. */
      argv: string[];
      /** Tried in turn when the previous one fails to start or exits non-zero ($BROWSER lists, WSL). */
      fallbacks: string[][];
      source: 'browser-command' | 'BROWSER' | 'wsl';
    }
  | { kind: 'open-package' }
  | { kind: 'none'; reason: string };

export interface LaunchRequest {
  url: string;
  /** --browser-command */
  browserCommand?: string | undefined;
  /** The text of /proc/version on Linux (WSL kernels say "microsoft"); undefined when unreadable. */
  procVersion?: string | undefined;
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Where WSL puts the Windows tools when the Windows PATH is not appended to the Linux one. */
const WINDOWS_TOOLS = {
  cmd: '/mnt/c/Windows/System32/cmd.exe',
  powershell: '/mnt/c/Windows/System32/WindowsPowerShell/v1.0/powershell.exe',
  explorer: '/mnt/c/Windows/explorer.exe',
} as const;

/**
 * Decides how to open url, from plain values only (no process, file or environment access of its own):
 *
 * 1. --browser-command: always used, as `<command> <url>`.
 * 2. $BROWSER: a list of commands separated by `:` (`;` on Windows), tried in order; each is split on
 *    white space (a value naming an existing file is one word), `%s` is replaced by the URL when present,
 *    else the URL is appended; no shell.
 * 3. An SSH session (SSH_CONNECTION, SSH_CLIENT or SSH_TTY) without DISPLAY or WAYLAND_DISPLAY: none. A
 *    browser opened on the far end of an SSH session is nowhere near its user.
 * 4. macOS, Windows: the `open` package.
 * 5. WSL (the WSLInterop binfmt entry, WSL_DISTRO_NAME/WSL_INTEROP, or "microsoft" in /proc/version): the
 *    Windows browser through wslview, cmd.exe, powershell.exe, then explorer.exe, whichever exist. None of
 *    them found (a Docker Desktop container on a WSL kernel): on to the next rules.
 * 6. Linux and the BSDs without DISPLAY or WAYLAND_DISPLAY: none.
 * 7. Otherwise the `open` package (xdg-open).
 */
export function chooseBrowserLauncher(platform: NodeJS.Platform, env: Environment, fileExists: (path: string) => boolean, request: LaunchRequest): BrowserLauncher {
  const { url } = request;
  if (request.browserCommand !== undefined) return { kind: 'command', argv: [request.browserCommand, url], fallbacks: [], source: 'browser-command' };

  const fromVariable = browserVariableCommands(env['BROWSER'], url, platform, fileExists);
  const [first, ...rest] = fromVariable;
  if (first !== undefined) return { kind: 'command', argv: first, fallbacks: rest, source: 'BROWSER' };

  const hasDisplay = isSet(env['DISPLAY']) || isSet(env['WAYLAND_DISPLAY']);
  const ssh = isSet(env['SSH_CONNECTION']) || isSet(env['SSH_CLIENT']) || isSet(env['SSH_TTY']);
  if (ssh && !hasDisplay) return { kind: 'none', reason: 'SSH session without a forwarded display: no DISPLAY or WAYLAND_DISPLAY' };

  if (platform === 'darwin' || platform === 'win32') return { kind: 'open-package' };

  if (platform === 'linux' && isWsl(env, fileExists, request.procVersion)) {
    const [windows, ...more] = windowsBrowserCommands(url, env, fileExists);
    if (windows !== undefined) return { kind: 'command', argv: windows, fallbacks: more, source: 'wsl' };
  }

  if (!hasDisplay) return { kind: 'none', reason: 'no DISPLAY or WAYLAND_DISPLAY' };
  return { kind: 'open-package' };
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

export function isWsl(env: Environment, fileExists: (path: string) => boolean, procVersion: string | undefined): boolean {
  return (
    fileExists('/proc/sys/fs/binfmt_misc/WSLInterop') ||
    fileExists('/proc/sys/fs/binfmt_misc/WSLInterop-late') ||
    isSet(env['WSL_DISTRO_NAME']) ||
    isSet(env['WSL_INTEROP']) ||
    /microsoft/i.test(procVersion ?? '')
  );
}

/** $BROWSER as argv lists, in order (xdg-open's open_envvar, Python's webbrowser). */
function browserVariableCommands(value: string | undefined, url: string, platform: NodeJS.Platform, fileExists: (path: string) => boolean): string[][] {
  if (!isSet(value)) return [];
  const commands: string[][] = [];
  for (const item of value.split(platform === 'win32' ? ';' : ':')) {
    const entry = item.trim();
    if (entry === '') continue;
    // "/mnt/c/Program Files/…/firefox.exe" is one path, not three words.
    const words = fileExists(entry) ? [entry] : entry.split(/\s+/);
    if (words.some((word) => word.includes('%s'))) {
      // As printf in xdg-open: %s is the URL, %% a percent sign.
      commands.push(words.map((word) => word.replace(/%s|%%/g, (match) => (match === '%s' ? url : '%'))));
    } else {
      commands.push([...words, url]);
    }
  }
  return commands;
}

/** The Windows launchers that exist here, best first. */
function windowsBrowserCommands(url: string, env: Environment, fileExists: (path: string) => boolean): string[][] {
  // A normalised URL has no spaces or quotes left (they are percent-encoded): nothing for Windows to split.
  let href: string;
  try {
    href = new URL(url).href;
  } catch {
    href = url;
  }
  const commands: string[][] = [];
  const wslview = findOnPath('wslview', env, fileExists);
  if (wslview !== undefined) commands.push([wslview, href]);
  const cmd = findOnPath('cmd.exe', env, fileExists) ?? existing(WINDOWS_TOOLS.cmd, fileExists);
  // cmd.exe parses its command line: & | < > ^ ( ) in a URL would end or redirect the command; ^ escapes
  // them. The empty title keeps `start` from taking a quoted argument as the window title.
  if (cmd !== undefined) commands.push([cmd, '/d', '/c', 'start', '', href.replace(/[\^&|<>()]/g, '^$&')]);
  const powershell = findOnPath('powershell.exe', env, fileExists) ?? existing(WINDOWS_TOOLS.powershell, fileExists);
  if (powershell !== undefined) commands.push([powershell, '-NoProfile', '-NonInteractive', '-Command', `Start-Process '${href.replaceAll("'", "''")}'`]);
  const explorer = findOnPath('explorer.exe', env, fileExists) ?? existing(WINDOWS_TOOLS.explorer, fileExists);
  if (explorer !== undefined) commands.push([explorer, href]);
  return commands;
}

function findOnPath(name: string, env: Environment, fileExists: (path: string) => boolean): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = `${dir.replace(/\/+$/, '')}/${name}`;
    if (fileExists(candidate)) return candidate;
  }
  return undefined;
}

function existing(path: string, fileExists: (path: string) => boolean): string | undefined {
  return fileExists(path) ? path : undefined;
}

type LaunchListener = (url: string) => void;
/**
 * The listener of the login running in this async context: several logins may run at once in one process (the
 * programmatic API, with two providers), and each must hear only of the browser it opens itself.
 */
const launchWatcher = new AsyncLocalStorage<LaunchListener>();

/**
 * Runs work, calling listener (synchronously, before anything is spawned) whenever a browser is about to be opened
 * within it: by work and what it awaits, not by any other login of this process. get-token records its
 * failed-login marker this way.
 */
export function watchBrowserLaunches<T>(listener: LaunchListener, work: () => Promise<T>): Promise<T> {
  return launchWatcher.run(listener, work);
}

export async function openInBrowser(url: string, options: BrowserOptions): Promise<void> {
  const { log } = options;
  const launcher = chooseBrowserLauncher(process.platform, process.env, existsSync, {
    url,
    browserCommand: options.command,
    procVersion: process.platform === 'linux' ? readProcVersion() : undefined,
  });
  if (launcher.kind === 'none') {
    log.info(`No browser can be opened here (${launcher.reason}): ${options.manualHint ?? 'open the URL above on a machine with a browser'}`);
    return;
  }
  launchWatcher.getStore()?.(url);
  if (launcher.kind === 'command') {
    log.debug(`opening the browser with ${launcher.source === 'browser-command' ? '--browser-command' : launcher.source === 'BROWSER' ? '$BROWSER' : 'the Windows browser'}: ${launcher.argv[0] ?? ''}`);
    runCommands([launcher.argv, ...launcher.fallbacks], [], log);
    return;
  }
  try {
    const { default: open } = await import('open');
    const child = await open(url);
    child.once('error', (error) => log.warn(`could not open the browser: ${error.message}; open the URL above by hand`));
    child.once('exit', (code) => {
      if (code) log.warn(`the browser launcher exited with code ${code}; open the URL above by hand`);
    });
    child.unref();
  } catch (error) {
    log.warn(`could not open the browser: ${(error as Error).message}; open the URL above by hand`);
  }
}

function readProcVersion(): string | undefined {
  try {
    return readFileSync('/proc/version', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Runs the first command; when it cannot start or exits non-zero, the next; when all have failed, one
 * warning line with each reason. A launcher that keeps running (a browser itself) is simply left running.
 */
function runCommands(commands: string[][], failures: string[], log: Logger): void {
  const [argv, ...rest] = commands;
  const [command, ...args] = argv ?? [];
  if (command === undefined) {
    log.warn(`could not open the browser (${failures.join('; ')}); open the URL above by hand`);
    return;
  }
  let done = false;
  const failed = (reason: string): void => {
    if (done) return;
    done = true;
    runCommands(rest, [...failures, reason], log);
  };
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
  const forward = (chunk: Buffer): void => {
    process.stderr.write(chunk);
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  child.once('error', (error: NodeJS.ErrnoException) => failed(`${command}: ${error.code === 'ENOENT' ? 'not found' : error.message}`));
  child.once('exit', (code, signal) => {
    // explorer.exe exits 1 even when it opened the URL.
    if (code && !(code === 1 && /(^|\/)explorer\.exe$/i.test(command))) failed(`${command} exited with code ${code}`);
    else if (signal) log.debug(`the browser launcher ${command} was ended by ${signal}`);
  });
  // A long-lived browser must not keep the plugin alive once the login is done.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
}
