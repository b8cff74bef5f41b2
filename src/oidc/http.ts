/**
 * The one HTTP client of every request to the provider: discovery (openid-client's and setup's probe),
 * signing keys, token, device authorization and revocation.
 *
 * - --oidc-request-header is set on every request, and -v2 logs each one.
 * - Every request has a timeout (REQUEST_TIMEOUT_SEC); a failure is thrown as a ProviderRequestError that
 *   says what was asked of whom and through which proxy (provider-errors.ts turns it into one line).
 * - With nothing special configured this is Node's global fetch, and undici (≈ 100 ms to load) is never
 *   imported. It is imported, lazily, only for a private CA (--certificate-authority, -data), for
 *   --insecure-skip-tls-verify, or for a request that goes through a proxy: Node 20's global fetch ignores
 *   HTTPS_PROXY.
 *
 * Proxies (proxyFor): https:// URLs use https_proxy / HTTPS_PROXY, http:// URLs http_proxy / HTTP_PROXY
 * (lower case first, as curl and undici; an https URL never falls back to HTTP_PROXY, as curl and Go).
 * no_proxy / NO_PROXY lists hosts to reach directly: `*` for all; host names (matching that host and its
 * subdomains, a leading `.` or `*.` ignored); IP addresses; CIDR ranges (10.0.0.0/8); each optionally with
 * `:port`. Loopback hosts are proxied like any other unless NO_PROXY lists them, as curl and undici do
 * (Go programs such as kubelogin never proxy localhost and 127.0.0.1). http:// URLs go to the proxy as
 * plain forward-proxy requests, https:// ones through a CONNECT tunnel.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import type { ProviderConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';

/** How long one request to the provider may take, body included. */
export const REQUEST_TIMEOUT_SEC = 30;

/** The variables read here; process.env fits. */
export interface ProviderEnvironment {
  HTTPS_PROXY?: string | undefined;
  https_proxy?: string | undefined;
  HTTP_PROXY?: string | undefined;
  http_proxy?: string | undefined;
  NO_PROXY?: string | undefined;
  no_proxy?: string | undefined;
  /** Node adds these certificates to its roots; a CA given here must not drop them (see trustedCas). */
  NODE_EXTRA_CA_CERTS?: string | undefined;
}

/** A fetch for provider requests: the global fetch's signature, for what the plugin sends. */
export type ProviderFetch = (url: string, init?: RequestInit) => Promise<Response>;

export interface ProxyChoice {
  /** The proxy URL as configured (it may hold credentials: never print it, print `display`). */
  url: string;
  /** The URL without credentials. */
  display: string;
  /** The variable it came from, e.g. HTTPS_PROXY. */
  variable: string;
}

/** A request that got no HTTP response: a network, TLS or proxy failure, or no answer in time. */
export class ProviderRequestError extends TypeError {
  // A TypeError, as fetch's own "fetch failed": openid-client passes TypeErrors through unchanged.
  readonly failure: 'network' | 'timeout';
  readonly url: URL;
  readonly proxy: ProxyChoice | undefined;
  readonly timeoutSec: number;

  constructor(failure: 'network' | 'timeout', url: URL, proxy: ProxyChoice | undefined, timeoutSec: number, cause: unknown) {
    super(`${failure === 'timeout' ? 'no answer in time' : 'fetch failed'}: ${url.origin}${url.pathname}${proxy ? ` via ${proxy.display}` : ''}`, { cause });
    this.name = 'ProviderRequestError';
    this.failure = failure;
    this.url = url;
    this.proxy = proxy;
    this.timeoutSec = timeoutSec;
  }
}

export interface ProviderFetchOptions {
  /** Default REQUEST_TIMEOUT_SEC * 1000. */
  timeoutMs?: number;
}

type UndiciModule = typeof import('undici');

interface TlsSettings {
  /** The extra CAs (PEM), or undefined for the default roots. */
  cas: string[] | undefined;
  insecure: boolean;
}

/**
 * The fetch for every request to `provider`. CA files are read here: one that cannot be read is an
 * ERR_USAGE naming the flag and the file.
 */
export function createProviderFetch(
  provider: Pick<ProviderConfig, 'issuerUrl' | 'requestHeaders' | 'tls'>,
  env: ProviderEnvironment,
  log: Logger,
  options: ProviderFetchOptions = {},
): ProviderFetch {
  const tls = tlsSettings(provider.tls);
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_SEC * 1000;
  const timeoutSec = Math.round(timeoutMs / 100) / 10;
  const issuerHost = new URL(provider.issuerUrl).host;
  return async (url, init = {}) => {
    const target = new URL(url);
    const proxy = proxyFor(target, env);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(provider.requestHeaders)) headers.set(name, value);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const method = init.method ?? 'GET';
    log.debug(`${method} ${target.origin}${target.pathname}${proxy ? ` (through the proxy ${proxy.display})` : ''}`, 2);
    if (tls.insecure && target.protocol === 'https:') warnInsecure(issuerHost, log);
    let response: Response;
    try {
      if (proxy === undefined && tls.cas === undefined && !tls.insecure) {
        response = await fetch(url, { ...init, headers, signal });
      } else {
        const undici = await loadUndici();
        const dispatcher = await dispatcherFor(undici, proxy, tls, target.protocol, env);
        // undici's own fetch with its own dispatcher (Node 20's fetch is an older undici: do not mix them).
        response = (await undici.fetch(url, { ...(init as object), headers, signal, dispatcher } as Parameters<UndiciModule['fetch']>[1])) as unknown as Response;
      }
    } catch (error) {
      throw requestFailure(error, target, proxy, timeoutSec, init.signal ?? undefined);
    }
    log.debug(`${response.status} ${response.statusText} from ${target.origin}${target.pathname}`, 2);
    return response;
  };
}

function requestFailure(error: unknown, url: URL, proxy: ProxyChoice | undefined, timeoutSec: number, callerSignal: AbortSignal | undefined): unknown {
  // Ours or the caller's timer (openid-client's has the same length).
  if (isTimeout(error)) return new ProviderRequestError('timeout', url, proxy, timeoutSec, error);
  // The caller's abort (an interrupt) is theirs to report.
  if (callerSignal?.aborted) return error;
  // fetch's network failure; other TypeErrors (an invalid header value) are not about the network.
  if (error instanceof TypeError && error.message === 'fetch failed') return new ProviderRequestError('network', url, proxy, timeoutSec, error.cause ?? error);
  return error;
}

function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TimeoutError';
}

/** One warning per issuer and process (a refresh that fails and the login after it share it). */
const warnedInsecure = new Set<string>();

function warnInsecure(host: string, log: Logger): void {
  if (warnedInsecure.has(host)) return;
  warnedInsecure.add(host);
  log.warn(`--insecure-skip-tls-verify: the TLS certificate of ${host} is not verified; anyone on the network path can impersonate the provider and read your tokens`);
}

function tlsSettings(tls: ProviderConfig['tls']): TlsSettings {
  const given = [
    ...tls.caFiles.map((path) => {
      let pem: string;
      try {
        pem = readFileSync(path, 'utf8');
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
        throw new PluginError('ERR_USAGE', `--certificate-authority: cannot read ${path}: ${reason}`, { hint: 'pass the path of a PEM file holding the CA certificate' });
      }
      return checkedPem(pem, `--certificate-authority: ${path}`);
    }),
    ...tls.caData.map((pem, index) => checkedPem(pem, `--certificate-authority-data${tls.caData.length > 1 ? ` #${index + 1}` : ''}`)),
  ];
  return { cas: given.length > 0 ? given : undefined, insecure: tls.insecureSkipVerify };
}

/**
 * The certificates of a PEM bundle, each parsed here: a broken one would otherwise fail every TLS connection
 * with an OpenSSL code that names no flag.
 */
function checkedPem(pem: string, source: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new PluginError('ERR_USAGE', `${source} holds no PEM certificate`, {
      hint: 'pass a PEM certificate (-----BEGIN CERTIFICATE-----), e.g. converted with: openssl x509 -inform der -in ca.der -out ca.pem',
    });
  }
  blocks.forEach((block, index) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new PluginError('ERR_USAGE', `${source} holds an invalid certificate${blocks.length > 1 ? ` (#${index + 1})` : ''}: ${(error as Error).message}`, {
        hint: 'check the file: openssl x509 -noout -subject -in <file>',
      });
    }
  });
  return blocks.join('\n');
}

let undiciPromise: Promise<UndiciModule> | undefined;

function loadUndici(): Promise<UndiciModule> {
  // The shipped CLI loads its own bundle of undici (dist/undici.cjs, see scripts/build.mjs), a CommonJS file
  // whose exports reach an ESM import() as `default` only.
  undiciPromise ??= import('undici').then((loaded) => (typeof loaded.fetch === 'function' ? loaded : (loaded as unknown as { default: UndiciModule }).default));
  return undiciPromise;
}

/** Dispatchers by proxy and TLS settings, shared by every session of the process (connections are reused). */
const dispatchers = new Map<string, Promise<Dispatcher>>();

function dispatcherFor(undici: UndiciModule, proxy: ProxyChoice | undefined, tls: TlsSettings, protocol: string, env: ProviderEnvironment): Promise<Dispatcher> {
  const key = JSON.stringify([proxy?.url ?? null, proxy ? protocol : null, tls.cas ?? null, tls.cas ? (env.NODE_EXTRA_CA_CERTS ?? null) : null, tls.insecure]);
  let dispatcher = dispatchers.get(key);
  if (dispatcher === undefined) {
    dispatcher = (async (): Promise<Dispatcher> => {
      const connect = await connectOptions(tls, env);
      if (proxy === undefined) return new undici.Agent({ connect });
      // http:// targets as plain forward-proxy requests (curl, Go), https:// through a CONNECT tunnel.
      return new undici.ProxyAgent({ uri: proxy.url, requestTls: connect, proxyTls: connect, proxyTunnel: protocol === 'https:' });
    })();
    dispatchers.set(key, dispatcher);
  }
  return dispatcher;
}

async function connectOptions(tls: TlsSettings, env: ProviderEnvironment): Promise<{ ca?: string[]; rejectUnauthorized?: boolean }> {
  const connect: { ca?: string[]; rejectUnauthorized?: boolean } = {};
  if (tls.insecure) connect.rejectUnauthorized = false;
  if (tls.cas !== undefined) connect.ca = [...(await defaultRoots(env)), ...tls.cas];
  return connect;
}

/**
 * `connect.ca` replaces Node's roots, so the list starts with them: the bundled roots, plus what
 * NODE_EXTRA_CA_CERTS adds at start-up (Node 20 has no API that returns both).
 */
async function defaultRoots(env: ProviderEnvironment): Promise<string[]> {
  const { rootCertificates } = await import('node:tls');
  const roots = [...rootCertificates];
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      roots.push(readFileSync(extra, 'utf8'));
    } catch {
      // Node itself only warns about an unreadable file, and then goes on without it.
    }
  }
  return roots;
}

/** The proxy for a request to `url`, or undefined to connect directly. Pure. */
export function proxyFor(url: URL, env: ProviderEnvironment): ProxyChoice | undefined {
  const names = url.protocol === 'https:' ? (['https_proxy', 'HTTPS_PROXY'] as const) : url.protocol === 'http:' ? (['http_proxy', 'HTTP_PROXY'] as const) : [];
  let variable: string | undefined;
  let value: string | undefined;
  for (const name of names) {
    const candidate = env[name]?.trim();
    if (candidate) {
      variable = name;
      value = candidate;
      break;
    }
  }
  if (value === undefined || variable === undefined) return undefined;
  if (bypassesProxy(url, env.no_proxy?.trim() || env.NO_PROXY?.trim() || '')) return undefined;
  // "proxy:3128" means http://proxy:3128, as for curl and Go.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw new PluginError('ERR_USAGE', `${variable} is not a valid proxy URL`, { hint: `set ${variable} to the proxy's URL, e.g. http://proxy.example.com:3128` });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new PluginError('ERR_USAGE', `${variable}: ${parsed.protocol.slice(0, -1)} proxies are not supported`, { hint: `use an http:// or https:// proxy URL in ${variable}` });
  }
  const display = `${parsed.protocol}//${parsed.host}`;
  return { url: parsed.href, display, variable };
}

/** Whether NO_PROXY (its value given) sends `url` directly. */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  if (noProxy === '') return false;
  if (noProxy === '*') return true;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const hostIp = isIP(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    if (raw === '') continue;
    if (raw === '*') return true;
    const entry = parseNoProxyEntry(raw);
    if (entry.port !== undefined && entry.port !== port) continue;
    if (entry.cidr !== undefined) {
      if (hostIp !== 0 && entry.cidr.check(host, hostIp === 6 ? 'ipv6' : 'ipv4')) return true;
      continue;
    }
    if (host === entry.host) return true;
    if (isIP(entry.host) === 0 && host.endsWith(`.${entry.host}`)) return true;
  }
  return false;
}

interface NoProxyEntry {
  host: string;
  port: number | undefined;
  cidr: BlockList | undefined;
}

function parseNoProxyEntry(raw: string): NoProxyEntry {
  let text = raw.toLowerCase();
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    text = bracketed[1] ?? '';
    port = bracketed[2] !== undefined ? Number(bracketed[2]) : undefined;
  } else {
    const withPort = /^([^:]+):(\d+)$/.exec(text);
    if (withPort) {
      text = withPort[1] ?? '';
      port = Number(withPort[2]);
    }
  }
  const cidr = /^(.+)\/(\d{1,3})$/.exec(text);
  if (cidr) {
    const address = cidr[1] ?? '';
    const family = isIP(address);
    const bits = Number(cidr[2]);
    if (family !== 0 && bits <= (family === 6 ? 128 : 32)) {
      const list = new BlockList();
      list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
      return { host: text, port, cidr: list };
    }
  }
  return { host: text.replace(/^\*?\./, '').replace(/\.$/, ''), port, cidr: undefined };
}
