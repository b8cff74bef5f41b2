/**
 * The loopback HTTP(S) server that receives the authorization response. It listens on loopback addresses
 * only, answers only GET requests whose Host header names a loopback host and its own port (a page on
 * another origin cannot reach it through DNS rebinding), checks `state` before anything else, and accepts
 * exactly one matching callback. A callback with a wrong state is answered 400 and ignored: its code is
 * never redeemed, and the login keeps waiting for the right one.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { PluginError } from '../core/errors.js';
import type { ListenAddress } from '../core/config.js';
import type { Logger } from '../system/log.js';

export interface LoopbackServerOptions {
  addresses: readonly ListenAddress[];
  /** PEM certificate and key: serve HTTPS (--local-server-cert/--local-server-key). */
  tls: { cert: string; key: string } | undefined;
  log: Logger;
  /**
   * The host (name[:port], as a browser sends it in Host) of --oidc-redirect-url when it is not a loopback name: a
   * name the user mapped to this machine (a hosts entry), accepted besides the loopback names. Chosen by the user, it
   * is no attacker's name to rebind.
   */
  redirectHost?: string | undefined;
}

export type CallbackOutcome = { ok: true; openUrl: string | undefined } | { ok: false; message: string };

export interface ReceivedCallback {
  /** The query of the callback request (code, state, iss, or error and error_description). */
  params: URLSearchParams;
  /** Answers the browser, once the code has been exchanged (or has failed). */
  finish(outcome: CallbackOutcome): Promise<void>;
}

export interface LoopbackServer {
  readonly port: number;
  readonly protocol: 'http' | 'https';
  /**
   * Starts accepting callbacks on callbackPath; GET / redirects to authorizationUrl (kubelogin opens
   * http://localhost:<port>/, so this keeps links users copy from older tools working).
   */
  expectCallback(callbackPath: string, expectedState: string, authorizationUrl: string, signal: AbortSignal): Promise<ReceivedCallback>;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export async function startLoopbackServer(options: LoopbackServerOptions): Promise<LoopbackServer> {
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : createHttpServer();
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  const port = await listenOnFirstFree(server, options.addresses, options.log);
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  // Errors after listening (accept failing when out of file descriptors) must not end the login: no 'error'
  // listener would make them an uncaught exception.
  server.on('error', (error) => options.log.debug(`callback server: ${error.message}`));
  // Oversize requests (URL and headers over Node's 16 KiB maxHeaderSize) are answered 431 by Node itself, and
  // malformed ones 400, before this listener; a body is never read (rejections close the connection).
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    try {
      const host = req.headers.host;
      if (!isAllowedHost(host, port) && !(options.redirectHost !== undefined && host?.toLowerCase() === options.redirectHost)) {
        return refuse(res, 400, 'Bad request', 'This server only answers requests for localhost.');
      }
      if (req.method !== 'GET') {
        res.setHeader('Allow', 'GET');
        return refuse(res, 405, 'Method not allowed', 'Only GET is supported.');
      }
      if (handler === undefined) return refuse(res, 503, 'Not ready', 'No login is in progress.');
      handler(req, res);
    } catch (error) {
      // Nothing a request carries may end the plugin (an uncaught throw here would): refuse it, keep waiting.
      options.log.debug(`refused a request to the callback server: ${(error as Error).message}`);
      if (res.headersSent) res.destroy();
      else refuse(res, 400, 'Bad request', 'This request cannot be answered.');
    }
  });

  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Give a response in flight a moment to reach the browser, then drop whatever is left.
      setTimeout(() => server.closeAllConnections(), 500).unref();
    });
  };

  return {
    port,
    protocol: options.tls ? 'https' : 'http',
    close,
    expectCallback(callbackPath, expectedState, authorizationUrl, signal) {
      return new Promise<ReceivedCallback>((resolve, reject) => {
        let accepted = false;
        const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        handler = (req, res) => {
          const request = judgeCallbackRequest(req.url ?? '', callbackPath, expectedState);
          if (request.kind === 'invalid') return refuse(res, 400, 'Bad request', 'This request cannot be answered.');
          if (request.kind === 'start') {
            res.writeHead(302, { Location: authorizationUrl, 'Cache-Control': 'no-store' });
            res.end();
            return;
          }
          if (request.kind === 'not-found') return refuse(res, 404, 'Not found', 'There is nothing here.');
          // One callback only: a second one (a replay, a reload, another tab), whatever its state, is never redeemed.
          if (accepted) return refuse(res, 409, 'Already done', 'The login has already been completed. You can close this window.');
          if (request.kind === 'wrong-state') {
            // Neither its code nor its error parameter counts: only the right state may complete or fail the login.
            options.log.warn('ignored a callback with a wrong state parameter (a stale browser tab, or a forged request)');
            return refuse(res, 400, 'Invalid response', 'This response does not belong to the login in progress. Start the login again from your terminal.');
          }
          accepted = true;
          signal.removeEventListener('abort', onAbort);
          resolve({
            params: new URLSearchParams(request.params),
            finish: (outcome) => {
              if (outcome.ok && outcome.openUrl) sendRedirectPage(res, outcome.openUrl);
              else if (outcome.ok) sendPage(res, 200, 'Authenticated', 'You have logged in to the cluster. You can close this window.', true);
              else sendPage(res, 400, 'Login failed', outcome.message);
              return new Promise<void>((done) => (res.writableFinished ? done() : res.once('finish', () => done())));
            },
          });
        };
      });
    },
  };
}

/** What a request target is to the loopback server (judgeCallbackRequest). */
export type CallbackRequest =
  /** Not an origin-form target ("/path?query"), or one that does not parse: 400. */
  | { kind: 'invalid' }
  /** `/` without callback parameters: redirected to the authorization URL. */
  | { kind: 'start' }
  /** Any other path, or the callback path without callback parameters: 404. */
  | { kind: 'not-found' }
  /** The callback path with callback parameters but not exactly one state, equal to the login's: 400, ignored. */
  | { kind: 'wrong-state' }
  /** The authorization response of the login in progress. */
  | { kind: 'callback'; params: URLSearchParams };

/**
 * Classifies a request by its target (req.url) alone. Never throws, whatever the target: an absolute-form
 * target, `//host/…` or `/\host…` (which URL would read a host out of), and `//?…` (which makes URL throw; it
 * ended the plugin before this check) are invalid. A callback is accepted only with exactly one state parameter,
 * equal to the expected one (a second could be read differently by the code that redeems the response).
 */
export function judgeCallbackRequest(target: string, callbackPath: string, expectedState: string): CallbackRequest {
  if (target.charCodeAt(0) !== 0x2f || target[1] === '/' || target[1] === '\\') return { kind: 'invalid' };
  let url: URL;
  try {
    url = new URL(target, 'http://localhost');
  } catch {
    return { kind: 'invalid' };
  }
  const params = url.searchParams;
  const isCallback = url.pathname === callbackPath && (params.has('state') || params.has('code') || params.has('error'));
  if (!isCallback) return url.pathname === '/' ? { kind: 'start' } : { kind: 'not-found' };
  const states = params.getAll('state');
  if (expectedState === '' || states.length !== 1 || states[0] !== expectedState) return { kind: 'wrong-state' };
  return { kind: 'callback', params };
}

/** The Host a browser sends for --oidc-redirect-url, when that names no loopback host (see LoopbackServerOptions). */
export function redirectHostOf(redirectUrl: string | undefined): string | undefined {
  if (redirectUrl === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(redirectUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const host = url.host.toLowerCase();
  return LOOPBACK_NAMES.has(url.hostname.toLowerCase()) ? undefined : host;
}

/** The Host header names a loopback host and this server's port (a page on another origin cannot reach it through DNS rebinding). */
export function isAllowedHost(hostHeader: string | undefined, port: number): boolean {
  if (hostHeader === undefined) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.toLowerCase());
  if (!match || !LOOPBACK_NAMES.has(match[1] ?? '')) return false;
  return match[2] === undefined ? port === 80 || port === 443 : Number(match[2]) === port;
}

async function listenOnFirstFree(server: Server, addresses: readonly ListenAddress[], log: Logger): Promise<number> {
  const failures: string[] = [];
  for (const address of addresses) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => reject(error);
        server.once('error', onError);
        server.listen(address.port, address.host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      const port = (server.address() as AddressInfo).port;
      log.debug(`callback server listening on ${address.host}:${port}`);
      return port;
    } catch (error) {
      failures.push(`${formatAddress(address)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  throw new PluginError('ERR_NO_PORT', `no available port for the callback server (${failures.join(', ')})`, {
    hint: 'another login may be running; finish it, or pass a free --listen-address (port 0 picks any free port, if the provider allows it)',
  });
}

function formatAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** A refusal: the page, and the connection closed after it (a body the client may still be sending is not read). */
function refuse(res: ServerResponse, status: number, title: string, message: string): void {
  res.setHeader('Connection', 'close');
  sendPage(res, status, title, message);
}

function sendPage(res: ServerResponse, status: number, title: string, message: string, closeWindow = false): void {
  const script = closeWindow ? '<script>window.close()</script>' : '';
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${script}</body></html>`;
  res.writeHead(status, securityHeaders());
  res.end(body);
}

function sendRedirectPage(res: ServerResponse, url: string): void {
  const safe = escapeHtml(url);
  res.writeHead(200, securityHeaders());
  res.end(`<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${safe}"><title>Authenticated</title></head><body><p>Authenticated. Continue to <a href="${safe}">${safe}</a>.</p></body></html>`);
}

function securityHeaders(): Record<string, string> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
