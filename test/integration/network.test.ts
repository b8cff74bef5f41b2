/**
 * The plugin's HTTP to the provider (src/oidc/http.ts): a provider behind a private CA, a CONNECT proxy and a
 * forward proxy written here, NO_PROXY, and the messages of network, TLS, proxy and timeout failures. Real
 * components only: the built binary, oidc-provider over HTTPS, node:http servers.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PluginError } from '../../src/core/errors.js';
import { probeDiscovery } from '../../src/oidc/discovery-probe.js';
import { createProviderFetch, ProviderRequestError } from '../../src/oidc/http.js';
import { toPluginError } from '../../src/oidc/provider-errors.js';
import { createLogger } from '../../src/system/log.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { entryFiles, expectOneLineFailure } from '../support/fault-assertions.js';
import { useTempDir } from '../support/fixtures.js';
import { startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { FAKE_BROWSER, parseCredential, runPlugin, type PluginRun } from '../support/plugin.js';
import { loginFlags, runSetup, startHttpsIdp, testTls } from '../support/setup-run.js';
import type { TestTls } from '../support/tls.js';

const temp = useTempDir();

/** No proxy, no extra CA from the environment running the tests: each test sets what it needs. */
const CLEAN_ENV = {
  NODE_EXTRA_CA_CERTS: undefined,
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  HTTP_PROXY: undefined,
  http_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
  NODE_OPTIONS: undefined,
};

let tls: TestTls;
let httpsIdp: TestIdp;

/** The paths the plugin requests itself (the fake browser requests the others: /auth, /interaction/…). */
const PLUGIN_PATHS = new Set(['/.well-known/openid-configuration', '/jwks', '/token', '/token/revocation']);
/** The requests of the plugin the provider received, as "METHOD /path". */
function pluginRequests(idp: TestIdp): string[] {
  return idp.events.filter((event) => PLUGIN_PATHS.has(event.path)).map((event) => `${event.method} ${event.path}`);
}

beforeAll(async () => {
  tls = await testTls();
  httpsIdp = await startHttpsIdp();
});
afterAll(async () => {
  await httpsIdp.close();
});
beforeEach(() => {
  httpsIdp.resetCounts();
});

function args(issuer: string, extra: string[] = []): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${issuer}`,
    '--oidc-client-id=kubectl',
    `--token-cache-dir=${join(temp.path, 'cache')}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${FAKE_BROWSER}`,
    '--authentication-timeout-sec=20',
    ...extra,
  ];
}

function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<PluginRun> {
  return runPlugin(argv, { env: { ...CLEAN_ENV, FAKE_BROWSER_CA: tls.caPath, ...env } });
}

function errorLines(result: PluginRun): { error: string; hint: string } {
  const lines = result.stderr.trimEnd().split('\n');
  const index = lines.findIndex((line) => line.startsWith('error: '));
  return { error: lines[index] ?? '', hint: lines[index + 1] ?? '' };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listen(server: Server | ReturnType<typeof createNetServer>, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

interface TestProxy {
  url: string;
  port: number;
  /** CONNECT requests, as host:port. */
  tunnels: string[];
  /** Forward-proxy requests (http:// targets): method, absolute URL and the test header. */
  forwarded: Array<{ method: string; url: string; testHeader: string | undefined }>;
  /** With `inspect`: the requests decrypted inside the tunnels, as "METHOD /path", and their test header. */
  inspected: Array<{ request: string; testHeader: string | undefined }>;
  /** Proxy-Authorization headers received. */
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1: CONNECT tunnels (https targets) and forward requests (http targets). With
 * `credentials` it answers 407 to anything without `Proxy-Authorization: Basic <credentials>`. With
 * `inspect` it is a TLS-inspecting proxy, as some companies run: it answers the TLS handshake inside the
 * tunnel with that certificate, records each request, and sends it on to the target over HTTPS.
 */
async function startProxy(options: { credentials?: string; inspect?: TestTls } = {}): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  const proxy: Omit<TestProxy, 'url' | 'port' | 'close'> = { tunnels: [], forwarded: [], inspected: [], authorizations: [] };
  const inspector = options.inspect;
  // Serves the decrypted tunnels: every request goes on to the target named by the CONNECT.
  const inside = createHttpServer((req, res) => {
    proxy.inspected.push({ request: `${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`, testHeader: req.headers['x-test'] as string | undefined });
    const [host, port] = ((req.socket as Socket & { target?: string }).target ?? '').split(':');
    const upstream = httpsRequest({ host, port: Number(port), path: req.url, method: req.method, headers: req.headers, ca: inspector?.caPem, agent: false }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const authorized = (req: IncomingMessage): boolean => {
    proxy.authorizations.push(req.headers['proxy-authorization']);
    return options.credentials === undefined || req.headers['proxy-authorization'] === `Basic ${Buffer.from(options.credentials).toString('base64')}`;
  };
  const server = createHttpServer((req, res) => {
    if (!authorized(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    proxy.forwarded.push({ method: req.method ?? '', url: req.url ?? '', testHeader: req.headers['x-test'] as string | undefined });
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers, agent: false }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    proxy.tunnels.push(req.url ?? '');
    if (inspector !== undefined) {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) client.unshift(head);
      const decrypted = new TLSSocket(client, { isServer: true, cert: inspector.certPem, key: inspector.keyPem }) as TLSSocket & { target?: string };
      decrypted.target = req.url ?? '';
      decrypted.on('error', () => client.destroy());
      inside.emit('connection', decrypted);
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = netConnect(Number(port), host ?? '', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket: Socket) => sockets.add(socket));
  const port = await listen(server);
  return {
    ...proxy,
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a provider with a certificate from a private CA', () => {
  it('fails without the CA, naming the certificate problem, with the hint (NODE_EXTRA_CA_CERTS unset)', async () => {
    const result = await run(args(httpsIdp.issuer));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const { error, hint } = errorLines(result);
    expect(error).toBe(`error: could not discover the OpenID provider: the TLS certificate of ${new URL(httpsIdp.issuer).host} is signed by an unknown certificate authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
    expect(hint).toBe('hint: pass the CA certificate that signed it with --certificate-authority=<ca.pem> or --certificate-authority-data=<base64> (or --insecure-skip-tls-verify, for testing only)');
    // The handshake failed: nothing reached the provider.
    expect(httpsIdp.counts.requests).toBe(0);
  });

  it('works with --certificate-authority, for the login and for a refresh', async () => {
    const login = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`]));
    expect(login.code, login.stderr).toBe(0);
    parseCredential(login);
    expect(httpsIdp.counts.tokenRequests).toEqual({ authorization_code: 1 });
    httpsIdp.resetCounts();
    const refresh = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`, '--force-refresh']));
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(httpsIdp.counts.tokenRequests).toEqual({ refresh_token: 1 });
  });

  it('works with --certificate-authority-data (base64 PEM)', async () => {
    const result = await run(args(httpsIdp.issuer, [`--certificate-authority-data=${Buffer.from(tls.caPem).toString('base64')}`]));
    expect(result.code, result.stderr).toBe(0);
    parseCredential(result);
    expect(httpsIdp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  });

  it('keeps the roots of NODE_EXTRA_CA_CERTS when a CA is given (connect.ca replaces the roots)', async () => {
    // The provider's CA comes from NODE_EXTRA_CA_CERTS; the CA given on the command line is another one.
    const other = join(temp.path, 'other-ca.pem');
    writeFileSync(other, (await import('node:tls')).rootCertificates[0] ?? '');
    const result = await run(args(httpsIdp.issuer, [`--certificate-authority=${other}`]), { NODE_EXTRA_CA_CERTS: tls.caPath });
    expect(result.code, result.stderr).toBe(0);
  });

  it('works with --insecure-skip-tls-verify and warns once, and not on a cache hit', async () => {
    const result = await run(args(httpsIdp.issuer, ['--insecure-skip-tls-verify']));
    expect(result.code, result.stderr).toBe(0);
    parseCredential(result);
    const host = new URL(httpsIdp.issuer).host;
    const warnings = result.stderr.split('\n').filter((line) => line.startsWith('warning: '));
    expect(warnings).toEqual([
      `warning: --insecure-skip-tls-verify: the TLS certificate of ${host} is not verified; anyone on the network path can impersonate the provider and read your tokens`,
    ]);
    const hit = await run(args(httpsIdp.issuer, ['--insecure-skip-tls-verify']));
    expect(hit.code).toBe(0);
    expect(hit.stderr).toBe('');
  });

  it('setup checks the discovery document through the same client (the CA flag, no NODE_EXTRA_CA_CERTS)', async () => {
    const without = await runSetup([...loginFlags(httpsIdp), '--output=json'], CLEAN_ENV);
    expect(without.code).toBe(1);
    expect(errorLines(without).error).toContain('the TLS certificate of');
    // The probe failed: no browser, no login.
    expect(httpsIdp.counts.authorizations).toBe(0);
    const result = await runSetup([...loginFlags(httpsIdp), `--certificate-authority=${tls.caPath}`, '--output=json'], CLEAN_ENV);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { issuer: { discovered: string } }).issuer.discovered).toBe(httpsIdp.issuer);
  });

  it('refuses a CA file that cannot be read, naming the flag and the file', async () => {
    const missing = join(temp.path, 'missing-ca.pem');
    const result = await run(args(httpsIdp.issuer, [`--certificate-authority=${missing}`]));
    expect(result.code).toBe(1);
    expect(errorLines(result).error).toBe(`error: --certificate-authority: cannot read ${missing}: no such file`);
    const notPem = join(temp.path, 'not.pem');
    writeFileSync(notPem, 'hello');
    const garbage = await run(args(httpsIdp.issuer, [`--certificate-authority=${notPem}`]));
    expect(errorLines(garbage).error).toBe(`error: --certificate-authority: ${notPem} holds no PEM certificate`);
    const broken = Buffer.from('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n').toString('base64');
    const brokenData = await run(args(httpsIdp.issuer, [`--certificate-authority-data=${broken}`]));
    expect(errorLines(brokenData).error).toMatch(/^error: --certificate-authority-data holds an invalid certificate: .+$/);
    expect(httpsIdp.counts.requests).toBe(0);
  });

  describe('certificates that are wrong in other ways', () => {
    const servers: Server[] = [];
    afterAll(async () => {
      for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    async function tlsServer(cert: string, key: string, host = '127.0.0.1'): Promise<number> {
      const server = createHttpsServer({ cert, key }, (_req, res) => res.writeHead(404).end());
      servers.push(server);
      return listen(server, host);
    }

    it('a self-signed certificate', async () => {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth',
        '-keyout', join(temp.path, 'self-key.pem'), '-out', join(temp.path, 'self.pem'),
      ], { stdio: 'ignore' });
      const port = await tlsServer(readFileSync(join(temp.path, 'self.pem'), 'utf8'), readFileSync(join(temp.path, 'self-key.pem'), 'utf8'));
      const result = await run(args(`https://127.0.0.1:${port}`));
      expect(errorLines(result)).toEqual({
        error: `error: could not discover the OpenID provider: the TLS certificate of 127.0.0.1:${port} is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)`,
        hint: 'hint: trust it by passing the certificate itself with --certificate-authority=<cert.pem> (or --insecure-skip-tls-verify, for testing only)',
      });
    });

    it('a chain that ends in an untrusted root', async () => {
      const port = await tlsServer(`${tls.certPem}\n${tls.caPem}`, tls.keyPem);
      const result = await run(args(`https://127.0.0.1:${port}`));
      expect(errorLines(result).error).toBe(
        `error: could not discover the OpenID provider: the TLS certificate of 127.0.0.1:${port} chains up to an untrusted self-signed certificate authority (SELF_SIGNED_CERT_IN_CHAIN)`,
      );
      expect(errorLines(result).hint).toContain('--certificate-authority=<ca.pem>');
    });

    it('a certificate for another host (with the CA given, through undici)', async () => {
      // The certificate is for 127.0.0.1 and localhost; 127.0.0.2 is loopback too on Linux.
      const port = await tlsServer(tls.certPem, tls.keyPem, '127.0.0.2');
      const result = await run(args(`https://127.0.0.2:${port}`, [`--certificate-authority=${tls.caPath}`]));
      expect(errorLines(result).error).toMatch(
        new RegExp(`^error: could not discover the OpenID provider: the TLS certificate of 127\\.0\\.0\\.2:${port} is not issued for 127\\.0\\.0\\.2: .*127\\.0\\.0\\.2.* \\(ERR_TLS_CERT_ALTNAME_INVALID\\)$`),
      );
      expect(errorLines(result).hint).toBe('hint: use the host name the certificate was issued for in the issuer URL (--insecure-skip-tls-verify only for testing)');
    });
  });
});

describe('proxies', () => {
  let proxy: TestProxy;
  beforeEach(async () => {
    proxy = await startProxy();
    return () => proxy.close();
  });

  it('logs in through HTTPS_PROXY: CONNECT tunnels to the provider, for every request of the plugin', async () => {
    const result = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`, '-v2']), { HTTPS_PROXY: proxy.url });
    expect(result.code, result.stderr).toBe(0);
    parseCredential(result);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([new URL(httpsIdp.issuer).host]));
    // Each request the provider got from the plugin (not from the browser) is one the plugin sent through the proxy.
    const requests = pluginRequests(httpsIdp);
    expect([...requests].sort()).toEqual(['GET /.well-known/openid-configuration', 'GET /jwks', 'POST /token']);
    const sent = result.stderr.split('\n').filter((line) => /^(GET|POST) https:/.test(line));
    expect(sent.map((line) => line.replace(/^(\w+) https:\/\/[^/]+(\S*).*$/, '$1 $2'))).toEqual(requests);
    for (const line of sent) expect(line).toMatch(new RegExp(` \\(through the proxy ${proxy.url}\\)$`));
  });

  it('logs in through a TLS-inspecting proxy that presents a certificate of the private CA: every request, headers included', async () => {
    const inspecting = await startProxy({ inspect: tls });
    try {
      const result = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`, '--oidc-request-header=X-Test=inspected']), { HTTPS_PROXY: inspecting.url });
      expect(result.code, result.stderr).toBe(0);
      // What the proxy saw inside its tunnels is exactly what the provider got from the plugin.
      expect(inspecting.inspected.map(({ request }) => request)).toEqual(pluginRequests(httpsIdp));
      expect(inspecting.inspected).toHaveLength(3);
      expect(inspecting.inspected.every(({ testHeader }) => testHeader === 'inspected')).toBe(true);
    } finally {
      await inspecting.close();
    }
  });

  it('honours NO_PROXY (and no_proxy) for the provider host: zero tunnels', async () => {
    for (const [variable, value] of [['NO_PROXY', '127.0.0.1'], ['no_proxy', 'example.com, 127.0.0.1']] as const) {
      const result = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`, '--token-cache-storage=none']), { HTTPS_PROXY: proxy.url, [variable]: value });
      expect(result.code, result.stderr).toBe(0);
    }
    expect(proxy.tunnels).toEqual([]);
    expect(httpsIdp.counts.tokenRequests).toEqual({ authorization_code: 2 });
  });

  it('proxies an http:// provider with HTTP_PROXY as a forward proxy (no tunnel), without any TLS flag', async () => {
    const httpIdp = await startIdentityProvider();
    try {
      const result = await run(args(httpIdp.issuer, ['--oidc-request-header=X-Test=forwarded']), { HTTP_PROXY: proxy.url, HTTPS_PROXY: 'http://127.0.0.1:1' });
      expect(result.code, result.stderr).toBe(0);
      expect(proxy.tunnels).toEqual([]);
      const paths = proxy.forwarded.map((request) => `${request.method} ${new URL(request.url).pathname}`);
      expect(paths).toEqual(expect.arrayContaining(['GET /.well-known/openid-configuration', 'POST /token', 'GET /jwks']));
      expect(proxy.forwarded.every((request) => request.url.startsWith(`${httpIdp.issuer}/`) && request.testHeader === 'forwarded')).toBe(true);
    } finally {
      await httpIdp.close();
    }
  });

  it('authenticates at the proxy with the credentials in its URL; without them the error says so', async () => {
    const guarded = await startProxy({ credentials: 'user:pa ss' });
    try {
      const denied = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`]), { HTTPS_PROXY: guarded.url });
      expect(errorLines(denied)).toEqual({
        error: `error: could not discover the OpenID provider: the proxy ${guarded.url} (from HTTPS_PROXY) requires authentication (HTTP 407)`,
        hint: 'hint: put the credentials in the proxy URL: HTTPS_PROXY=http://user:password@host:port',
      });
      const allowed = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`]), { HTTPS_PROXY: `http://user:pa%20ss@127.0.0.1:${guarded.port}` });
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(guarded.tunnels.length).toBeGreaterThan(0);
      // The credentials are never printed.
      expect(denied.stderr + allowed.stderr).not.toContain('pa ss');
    } finally {
      await guarded.close();
    }
  });

  it('refuses a proxy variable it cannot use, naming it', async () => {
    const result = await run(args(httpsIdp.issuer), { HTTPS_PROXY: 'socks5://127.0.0.1:1080' });
    expect(errorLines(result)).toEqual({
      error: 'error: HTTPS_PROXY: socks5 proxies are not supported',
      hint: 'hint: use an http:// or https:// proxy URL in HTTPS_PROXY',
    });
  });

  it('names a proxy that refuses connections', async () => {
    const port = await closedPort();
    const result = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`]), { HTTPS_PROXY: `127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(errorLines(result)).toEqual({
      error: `error: could not discover the OpenID provider: cannot connect to the proxy http://127.0.0.1:${port} (from HTTPS_PROXY): connection refused`,
      hint: 'hint: check HTTPS_PROXY, or list 127.0.0.1 in NO_PROXY to connect directly',
    });
    expect(httpsIdp.counts.requests).toBe(0);
  });

  it('revokes with the CA flags of clean --revoke, through the proxy', async () => {
    const cacheDir = join(temp.path, 'cache');
    const login = await run(args(httpsIdp.issuer, [`--certificate-authority=${tls.caPath}`]));
    expect(login.code, login.stderr).toBe(0);
    const withoutCa = await run(['clean', `--token-cache-dir=${cacheDir}`, '--revoke']);
    expect(withoutCa.code).toBe(1);
    expect(withoutCa.stderr).toContain('is signed by an unknown certificate authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    httpsIdp.resetCounts();
    const inspecting = await startProxy({ inspect: tls });
    try {
      const result = await run(['clean', `--token-cache-dir=${cacheDir}`, '--revoke', `--certificate-authority=${tls.caPath}`, '--oidc-request-header=X-Test=revoke'], { HTTPS_PROXY: inspecting.url });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`Revoked the refresh token of ${httpsIdp.issuer} (client kubectl)`);
      // The discovery document is cached per header set: a new header means a new discovery.
      expect(inspecting.inspected).toEqual([
        { request: 'GET /.well-known/openid-configuration', testHeader: 'revoke' },
        { request: 'POST /token/revocation', testHeader: 'revoke' },
      ]);
      expect(pluginRequests(httpsIdp)).toEqual(['GET /.well-known/openid-configuration', 'POST /token/revocation']);
    } finally {
      await inspecting.close();
    }
    const flagsWithoutRevoke = await run(['clean', `--token-cache-dir=${cacheDir}`, '--insecure-skip-tls-verify']);
    expect(flagsWithoutRevoke.code).toBe(1);
    expect(errorLines(flagsWithoutRevoke).error).toMatch(/^error: .* used only with --revoke$/);
  });
});

describe('network failures', () => {
  it('a provider that refuses connections (global fetch and undici): exit 1, one error line and its hint, nothing cached', async () => {
    const port = await closedPort();
    const plain = await run(args(`http://127.0.0.1:${port}`));
    expectOneLineFailure(plain, {
      error: `could not discover the OpenID provider: cannot reach http://127.0.0.1:${port}: connection refused`,
      hint: 'check your network connection, proxy and the issuer URL',
    });
    const undici = await run(args(`https://127.0.0.1:${port}`, ['--insecure-skip-tls-verify']));
    expectOneLineFailure(undici, {
      error: `could not discover the OpenID provider: cannot reach https://127.0.0.1:${port}: connection refused`,
      hint: 'check your network connection, proxy and the issuer URL',
      alsoAllowed: [/^warning: --insecure-skip-tls-verify: /],
    });
    expect(entryFiles(join(temp.path, 'cache'))).toEqual([]);
  });

  it('a host name that does not resolve', async () => {
    const result = await run(args('https://nonexistent.invalid'));
    expect(result.code).toBe(1);
    // ENOTFOUND with a resolver, EAI_AGAIN on a machine without one.
    expect(errorLines(result).error).toMatch(/^error: could not discover the OpenID provider: cannot resolve nonexistent\.invalid( \(ENOTFOUND\)|: the DNS lookup failed temporarily \(EAI_AGAIN\))$/);
  });

  describe('a provider that accepts connections and never answers', () => {
    let silent: ReturnType<typeof createNetServer>;
    let port: number;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      silent = createNetServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
      });
      port = await listen(silent);
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const quiet = createLogger(0, () => undefined);
    const noTls = { caFiles: [], caData: [], insecureSkipVerify: false };

    // The 30 s of the CLI are a constant; createProviderFetch takes the timeout as an option, so the
    // probe (setup's discovery request) runs here with half a second.
    it('times out with global fetch', async () => {
      const issuer = `http://127.0.0.1:${port}`;
      const fetch = createProviderFetch({ issuerUrl: issuer, requestHeaders: {}, tls: noTls }, {}, quiet, { timeoutMs: 500 });
      const started = Date.now();
      const error = await probeDiscovery(issuer, fetch).catch((caught: unknown) => caught);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(error).toBeInstanceOf(PluginError);
      expect((error as PluginError).message).toBe(`could not discover the OpenID provider: ${issuer} did not answer within 0.5 s`);
      expect((error as PluginError).hint).toBe('check your network connection, proxy (HTTPS_PROXY) and the issuer URL');
      expect((error as PluginError).cause).toBeInstanceOf(ProviderRequestError);
    });

    it('times out with undici (insecure TLS: the handshake never completes)', async () => {
      const issuer = `https://127.0.0.1:${port}`;
      const fetch = createProviderFetch({ issuerUrl: issuer, requestHeaders: {}, tls: { ...noTls, insecureSkipVerify: true } }, {}, quiet, { timeoutMs: 500 });
      const error = await probeDiscovery(issuer, fetch).catch((caught: unknown) => caught);
      expect((error as PluginError).message).toBe(`could not discover the OpenID provider: ${issuer} did not answer within 0.5 s`);
    });

    it('times out through a proxy, naming it', async () => {
      const proxy = await startProxy();
      try {
        const issuer = `https://127.0.0.1:${port}`;
        const fetch = createProviderFetch({ issuerUrl: issuer, requestHeaders: {}, tls: noTls }, { HTTPS_PROXY: proxy.url }, quiet, { timeoutMs: 500 });
        const error = toPluginError(await fetch(`${issuer}/token`, { method: 'POST' }).catch((caught: unknown) => caught), 'token', issuer);
        expect(error.message).toBe(`the token request failed: ${issuer} did not answer within 0.5 s (through the proxy ${proxy.url} from HTTPS_PROXY)`);
        expect(error.hint).toBe('check the proxy in HTTPS_PROXY (or list the host in NO_PROXY to connect directly) and the issuer URL');
        expect(proxy.tunnels).toEqual([`127.0.0.1:${port}`]);
      } finally {
        await proxy.close();
      }
    });
  });
});

describe('the cache-hit path with the TLS flags and a proxy', () => {
  it('never loads undici or the full CLI; a miss with the flags does, a miss without them does not', async () => {
    const record = join(temp.path, 'modules.json');
    const preload = join(temp.path, 'record-modules.cjs');
    writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ files: Object.keys(require.cache), native: process.moduleLoadList })));`,
    );
    const loaded = (): { files: string[]; native: string[] } => JSON.parse(readFileSync(record, 'utf8')) as { files: string[]; native: string[] };
    const dist = join(REPO_ROOT, 'dist');
    const env = { NODE_OPTIONS: `--require ${preload}`, HTTPS_PROXY: 'http://127.0.0.1:1', NO_PROXY: '127.0.0.1' };
    const flags = [`--certificate-authority=${tls.caPath}`, `--certificate-authority-data=${Buffer.from(tls.caPem).toString('base64')}`, '--insecure-skip-tls-verify'];

    const miss = await run(args(httpsIdp.issuer, flags), env);
    expect(miss.code, miss.stderr).toBe(0);
    expect(loaded().files).toEqual(expect.arrayContaining([join(dist, 'cli.cjs'), join(dist, 'undici.cjs')]));

    httpsIdp.resetCounts();
    const hit = await run(args(httpsIdp.issuer, flags), env);
    expect(hit.code).toBe(0);
    expect(hit.stderr).toBe('');
    expect(parseCredential(hit).status.token).toBe(parseCredential(miss).status.token);
    expect(httpsIdp.counts.requests).toBe(0);
    const { files, native } = loaded();
    expect(files.filter((file) => file.startsWith(dist))).toEqual([join(dist, 'kubectl-oidc_login.cjs')]);
    for (const module of ['NativeModule tls', 'NativeModule net', 'NativeModule internal/deps/undici/undici']) expect(native).not.toContain(module);

    // Nothing special configured: global fetch, undici not loaded.
    const httpIdp = await startIdentityProvider();
    try {
      const plain = await run(args(httpIdp.issuer), { NODE_OPTIONS: `--require ${preload}` });
      expect(plain.code, plain.stderr).toBe(0);
      expect(loaded().files).toContain(join(dist, 'cli.cjs'));
      expect(loaded().files).not.toContain(join(dist, 'undici.cjs'));
    } finally {
      await httpIdp.close();
    }
  });
});
