/**
 * A "browser" made of an HTTP client (libraries.md §3.4 way 3): follows redirects with a cookie
 * jar, fills and submits the first form of an HTML page (login/password plus hidden inputs), and
 * stops at the first non-redirect response without a form (normally the loopback callback page,
 * or an error page).
 *
 * Uses node:http/https rather than fetch so that an https IdP with a private CA works (`ca`).
 */
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface BrowseOptions {
  /** Value for a `login` (or `username`) input. Default 'alice'. */
  login?: string;
  /** Value for a `password` input. Default 'alice-pw'. */
  password?: string;
  /** Overall deadline. Default 10 000 ms. */
  timeoutMs?: number;
  /** Maximum number of HTTP requests. Default 20. */
  maxHops?: number;
  /**
   * Press the submit button with this name when a page has one (its name=value is sent with the form), e.g.
   * 'abort' to deny a device login on oidc-provider's confirmation page.
   */
  press?: string;
  /** Do not follow a redirect to a URL starting with this (e.g. the redirect_uri): return it as finalUrl. */
  stopAt?: string;
  /** Extra trusted CA certificates (PEM) for https URLs. */
  ca?: string | string[];
  /** Skip TLS verification for https URLs. */
  insecure?: boolean;
}

export interface BrowseHop {
  method: string;
  url: string;
  status: number;
}

export interface BrowseResult {
  status: number;
  finalUrl: string;
  body: string;
  /** Every request made, in order. */
  hops: BrowseHop[];
}

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expiresAt: number;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface ParsedForm {
  action: string;
  method: string;
  fields: Array<[string, string]>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_HOPS = 20;

function parseAttributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  // Skip the tag name.
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) {
    const name = (m[1] ?? '').toLowerCase();
    if (!name) continue;
    attrs.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

function decodeEntities(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The first `<form>` of a page with its `<input>` fields (buttons are not submitted). */
export function parseFirstForm(html: string): ParsedForm | undefined {
  const m = /<form\b[^>]*>([\s\S]*?)<\/form\s*>/i.exec(html);
  if (!m) return undefined;
  const openTag = /<form\b[^>]*>/i.exec(m[0])?.[0] ?? '<form>';
  const attrs = parseAttributes(openTag);
  const fields: Array<[string, string]> = [];
  for (const input of (m[1] ?? '').matchAll(/<input\b[^>]*>/gi)) {
    const a = parseAttributes(input[0]);
    const name = a.get('name');
    if (!name) continue;
    const type = (a.get('type') ?? 'text').toLowerCase();
    if (['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
    if ((type === 'checkbox' || type === 'radio') && !a.has('checked')) continue;
    fields.push([name, a.get('value') ?? (type === 'checkbox' ? 'on' : '')]);
  }
  return { action: attrs.get('action') ?? '', method: (attrs.get('method') ?? 'get').toUpperCase(), fields };
}

/** The value of a `<button name="…">` on the page, if there is one. */
function pressedButton(html: string, name: string): string | undefined {
  for (const match of html.matchAll(/<button\b[^>]*>/gi)) {
    const attributes = parseAttributes(match[0]);
    if (attributes.get('name') === name) return attributes.get('value') ?? '';
  }
  return undefined;
}

class CookieJar {
  #cookies: Cookie[] = [];

  store(url: URL, setCookie: string[] | undefined): void {
    for (const header of setCookie ?? []) {
      const [pair = '', ...attrParts] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expiresAt = Infinity;
      for (const part of attrParts) {
        const [k = '', ...v] = part.split('=');
        const key = k.trim().toLowerCase();
        const val = v.join('=').trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        else if (key === 'max-age') expiresAt = Date.now() + Number(val) * 1000;
        else if (key === 'expires' && expiresAt === Infinity) expiresAt = Date.parse(val);
      }
      this.#cookies = this.#cookies.filter((c) => !(c.name === name && c.host === url.hostname && c.path === path));
      if (!(expiresAt <= Date.now())) this.#cookies.push({ name, value, host: url.hostname, path, expiresAt });
    }
  }

  header(url: URL): string | undefined {
    const now = Date.now();
    const matching = this.#cookies.filter(
      (c) =>
        c.host === url.hostname &&
        c.expiresAt > now &&
        (url.pathname === c.path ||
          url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
    );
    // Longer paths first, as browsers do.
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

function send(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
  opts: BrowseOptions,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') {
      reject(new Error(`fake browser: unsupported URL scheme ${url.protocol}`));
      return;
    }
    const requestOptions = {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      signal,
      ...(isHttps ? { ca: opts.ca, rejectUnauthorized: !opts.insecure } : {}),
    };
    const req = (isHttps ? httpsRequest : httpRequest)(url, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Opens `url` like a browser would and returns the final non-redirect, form-less page.
 * Throws when the deadline or the hop limit is reached, or on a network error.
 */
export async function browse(url: string, opts: BrowseOptions = {}): Promise<BrowseResult> {
  const login = opts.login ?? 'alice';
  const password = opts.password ?? 'alice-pw';
  const maxHops = opts.maxHops ?? DEFAULT_MAX_HOPS;
  const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const jar = new CookieJar();
  const hops: BrowseHop[] = [];

  let method = 'GET';
  let current = new URL(url);
  let body: string | undefined;
  const submittedForms = new Set<string>();

  while (hops.length < maxHops) {
    const headers: Record<string, string> = {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      'user-agent': 'kubectl-oidc-login-fake-browser',
    };
    const cookie = jar.header(current);
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';

    let res: Response;
    try {
      res = await send(method, current, headers, body, signal, opts);
    } catch (err) {
      const trail = hops.map((h) => `${h.method} ${h.url} -> ${h.status}`).join('; ');
      throw new Error(`fake browser: ${method} ${current.href} failed: ${(err as Error).message} [${trail}]`, {
        cause: err,
      });
    }
    hops.push({ method, url: current.href, status: res.status });
    jar.store(current, res.headers['set-cookie']);

    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, current);
      // A redirect a browser cannot follow (urn:ietf:wg:oauth:2.0:oob?code=…, a custom scheme), or one the
      // caller wants to see (stopAt): stop there, so that the caller can read the code from finalUrl.
      const unfollowable = next.protocol !== 'http:' && next.protocol !== 'https:';
      if (unfollowable || (opts.stopAt !== undefined && next.href.startsWith(opts.stopAt))) {
        return { status: res.status, finalUrl: next.href, body: res.body, hops };
      }
      // 307/308 keep the method and body; the others become GET.
      if (res.status !== 307 && res.status !== 308) {
        method = 'GET';
        body = undefined;
      }
      current = next;
      continue;
    }

    const isHtml = /html/i.test(String(res.headers['content-type'] ?? '')) || /<form\b/i.test(res.body);
    const form = isHtml ? parseFirstForm(res.body) : undefined;
    if (!form) {
      return { status: res.status, finalUrl: current.href, body: res.body, hops };
    }

    const fields = new URLSearchParams();
    for (const [name, value] of form.fields) {
      if (name === 'login' || name === 'username') fields.append(name, login);
      else if (name === 'password') fields.append(name, password);
      else fields.append(name, value);
    }
    if (opts.press !== undefined) {
      const value = pressedButton(res.body, opts.press);
      if (value !== undefined) fields.append(opts.press, value);
    }
    const action = new URL(form.action || current.href, current);
    // Same action and same field names as an earlier submission: the server re-rendered a form it
    // rejected (wrong password, bad user code...). Stop rather than loop.
    const formKey = `${form.method} ${action.href} ${form.fields.map(([n]) => n).sort().join(',')}`;
    if (submittedForms.has(formKey)) {
      return { status: res.status, finalUrl: current.href, body: res.body, hops };
    }
    submittedForms.add(formKey);
    if (form.method === 'POST') {
      method = 'POST';
      body = fields.toString();
      current = action;
    } else {
      method = 'GET';
      body = undefined;
      action.search = fields.toString();
      current = action;
    }
  }
  const trail = hops.map((h) => `${h.method} ${h.url} -> ${h.status}`).join('; ');
  throw new Error(`fake browser: more than ${maxHops} requests [${trail}]`);
}
