/**
 * src/oidc/http.ts's pure proxy choice (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), and provider-errors.ts's messages
 * for failures that the integration tests cannot provoke cheaply (an expired certificate, a 30 s timeout, a
 * proxy that refuses a tunnel), given the shapes global fetch, undici and openid-client throw.
 */
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { bypassesProxy, proxyFor, ProviderRequestError, type ProxyChoice } from '../../src/oidc/http.js';
import { toPluginError } from '../../src/oidc/provider-errors.js';

const https = (url: string): URL => new URL(url);

describe('proxyFor', () => {
  it('takes https_proxy, then HTTPS_PROXY, for https URLs, and never HTTP_PROXY', () => {
    expect(proxyFor(https('https://idp.example.com'), { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128' })).toEqual({ url: 'http://lower:3128/', display: 'http://lower:3128', variable: 'https_proxy' });
    expect(proxyFor(https('https://idp.example.com'), { HTTPS_PROXY: 'http://upper:3128', https_proxy: '' })?.variable).toBe('HTTPS_PROXY');
    expect(proxyFor(https('https://idp.example.com'), { HTTP_PROXY: 'http://plain:3128' })).toBeUndefined();
    expect(proxyFor(https('http://127.0.0.1:8080'), { HTTP_PROXY: 'http://plain:3128', HTTPS_PROXY: 'http://other:1' })?.display).toBe('http://plain:3128');
    expect(proxyFor(https('https://idp.example.com'), {})).toBeUndefined();
  });

  it('reads a proxy without a scheme as http://, and never shows its credentials', () => {
    expect(proxyFor(https('https://idp.example.com'), { HTTPS_PROXY: 'proxy.corp:8080' })).toEqual({ url: 'http://proxy.corp:8080/', display: 'http://proxy.corp:8080', variable: 'HTTPS_PROXY' });
    const withCredentials = proxyFor(https('https://idp.example.com'), { HTTPS_PROXY: 'http://jane:s3cret@proxy.corp:8080' }) as ProxyChoice;
    expect(withCredentials.url).toBe('http://jane:s3cret@proxy.corp:8080/');
    expect(withCredentials.display).toBe('http://proxy.corp:8080');
  });

  it('refuses proxies it cannot use', () => {
    expect(() => proxyFor(https('https://idp.example.com'), { HTTPS_PROXY: 'socks5://proxy:1080' })).toThrow('HTTPS_PROXY: socks5 proxies are not supported');
    expect(() => proxyFor(https('https://idp.example.com'), { HTTPS_PROXY: 'http://[bad' })).toThrow('HTTPS_PROXY is not a valid proxy URL');
  });

  it('goes direct for hosts in no_proxy (first) or NO_PROXY', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'idp.example.com' };
    expect(proxyFor(https('https://idp.example.com'), env)).toBeUndefined();
    expect(proxyFor(https('https://idp.example.com'), { ...env, no_proxy: 'other.example.com' })).toBeDefined();
  });
});

describe('bypassesProxy (NO_PROXY)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['https://idp.example.com', '', false],
    ['https://idp.example.com', '*', true],
    ['https://idp.example.com', 'example.com', true],
    ['https://idp.example.com', '.example.com', true],
    ['https://idp.example.com', '*.example.com', true],
    ['https://example.com', '.example.com', true],
    ['https://badexample.com', 'example.com', false],
    ['https://IDP.Example.COM.', 'idp.example.com', true],
    ['https://idp.example.com', 'foo.com  idp.example.com', true],
    ['https://idp.example.com', 'foo.com,,bar.com', false],
    ['https://idp.example.com', 'idp.example.com:443', true],
    ['https://idp.example.com:8443', 'idp.example.com:443', false],
    ['http://idp.example.com', 'idp.example.com:80', true],
    // Loopback is proxied unless listed, as curl and undici do.
    ['http://127.0.0.1:8080', 'localhost', false],
    ['http://127.0.0.1:8080', '127.0.0.1', true],
    ['http://localhost:8080', 'localhost', true],
    ['https://10.1.2.3', '10.0.0.0/8', true],
    ['https://11.1.2.3', '10.0.0.0/8', false],
    ['https://10.1.2.3', '10.1.2.3', true],
    ['https://10.1.2.30', '10.1.2.3', false],
    ['https://idp.example.com', '10.0.0.0/8', false],
    ['https://[::1]:8443', '::1', true],
    ['https://[::1]:8443', '[::1]:8443', true],
    ['https://[fd00::5]', 'fd00::/8', true],
  ];
  for (const [url, noProxy, expected] of cases) {
    it(`${url} with NO_PROXY=${JSON.stringify(noProxy)}: ${expected ? 'direct' : 'proxied'}`, () => {
      expect(bypassesProxy(new URL(url), noProxy)).toBe(expected);
    });
  }
});

describe('toPluginError for requests without an answer', () => {
  const issuer = 'https://idp.example.com/realms/k8s';
  const url = new URL('https://idp.example.com/realms/k8s/protocol/openid-connect/token');
  const proxy: ProxyChoice = { url: 'http://u:p@proxy.corp:3128/', display: 'http://proxy.corp:3128', variable: 'HTTPS_PROXY' };
  const failure = (cause: unknown, via?: ProxyChoice): ProviderRequestError => new ProviderRequestError('network', url, via, 30, cause);
  const systemError = (code: string, extra: Record<string, unknown> = {}): Error => Object.assign(new Error(`connect ${code}`), { code, ...extra });

  it('maps timeouts from openid-client, fetch and http.ts to "did not answer within 30 s"', () => {
    // openid-client's own shape (its constructor takes the code; its typings do not say so).
    const fromClient = new client.ClientError('operation timed out', { cause: new DOMException('x', 'TimeoutError'), code: 'OAUTH_TIMEOUT' } as ErrorOptions);
    expect(fromClient.code).toBe('OAUTH_TIMEOUT');
    for (const error of [fromClient, new DOMException('The operation was aborted due to timeout', 'TimeoutError'), new ProviderRequestError('timeout', url, undefined, 30, undefined)]) {
      const mapped = toPluginError(error, 'token', issuer);
      expect(mapped.code).toBe('ERR_NETWORK');
      expect(mapped.message).toBe(`the token request failed: ${issuer} did not answer within 30 s`);
      expect(mapped.hint).toBe('check your network connection, proxy (HTTPS_PROXY) and the issuer URL');
    }
  });

  it('names another host than the issuer by its origin', () => {
    const keys = new ProviderRequestError('timeout', new URL('https://keys.example.net/jwks'), undefined, 30, undefined);
    expect(toPluginError(keys, 'jwks', issuer).message).toBe('could not fetch the provider signing keys: https://keys.example.net did not answer within 30 s');
  });

  it('explains certificate problems, with what to do', () => {
    expect(toPluginError(failure(systemError('CERT_HAS_EXPIRED')), 'token', issuer)).toMatchObject({
      message: 'the token request failed: the TLS certificate of idp.example.com has expired (CERT_HAS_EXPIRED)',
      hint: "the provider must renew its certificate; check this machine's clock too (--insecure-skip-tls-verify only for testing)",
    });
    const altname = systemError('ERR_TLS_CERT_ALTNAME_INVALID', { reason: "Host: idp.example.com. is not in the cert's altnames: DNS:other.example.com" });
    expect(toPluginError(failure(altname), 'token', issuer).message).toBe(
      "the token request failed: the TLS certificate of idp.example.com is not issued for idp.example.com: Host: idp.example.com. is not in the cert's altnames: DNS:other.example.com (ERR_TLS_CERT_ALTNAME_INVALID)",
    );
    // Global fetch's shape, without http.ts: TypeError("fetch failed") with the cause.
    const raw = new TypeError('fetch failed', { cause: systemError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY') });
    expect(toPluginError(raw, 'discovery', issuer)).toMatchObject({
      message: 'could not discover the OpenID provider: the TLS certificate of idp.example.com is signed by an unknown certificate authority (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)',
      hint: 'pass the CA certificate that signed it with --certificate-authority=<ca.pem> or --certificate-authority-data=<base64> (or --insecure-skip-tls-verify, for testing only)',
    });
    expect(toPluginError(failure(systemError('ERR_SSL_WRONG_VERSION_NUMBER')), 'token', issuer).message).toBe('the token request failed: idp.example.com does not speak TLS (ERR_SSL_WRONG_VERSION_NUMBER)');
  });

  it('explains connection failures, in undici\'s shapes too', () => {
    // Happy eyeballs: an AggregateError without a code of its own.
    const aggregate = Object.assign(new AggregateError([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')], ''), {});
    expect(toPluginError(failure(aggregate), 'discovery', issuer).message).toBe(`could not discover the OpenID provider: cannot reach ${issuer}: connection refused`);
    expect(toPluginError(failure(systemError('EHOSTUNREACH')), 'discovery', issuer).message).toBe(`could not discover the OpenID provider: cannot reach ${issuer}: no route to the host (EHOSTUNREACH)`);
    expect(toPluginError(failure(systemError('ENETUNREACH')), 'discovery', issuer).hint).toBe('check your network connection (VPN?) and the issuer URL');
    expect(toPluginError(failure(systemError('EAI_AGAIN')), 'refresh', issuer).message).toBe('could not refresh the token: cannot resolve idp.example.com: the DNS lookup failed temporarily (EAI_AGAIN)');
    const connectTimeout = Object.assign(new Error('Connect Timeout Error'), { name: 'ConnectTimeoutError', code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(toPluginError(failure(connectTimeout), 'token', issuer).message).toBe(`the token request failed: connecting to ${issuer} timed out (UND_ERR_CONNECT_TIMEOUT)`);
    const closed = Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
    expect(toPluginError(failure(closed), 'token', issuer).message).toBe(`the token request failed: the connection to ${issuer} was closed unexpectedly (UND_ERR_SOCKET)`);
  });

  it('names the proxy when it is the one that failed', () => {
    const refusedTunnel = Object.assign(new Error('Proxy response (403) !== 200 when HTTP Tunneling'), { name: 'AbortError', code: 'UND_ERR_ABORTED' });
    expect(toPluginError(failure(refusedTunnel, proxy), 'token', issuer)).toMatchObject({
      message: 'the token request failed: the proxy http://proxy.corp:3128 (from HTTPS_PROXY) refused the connection to idp.example.com (HTTP 403)',
      hint: 'the proxy could not or would not connect to idp.example.com: check HTTPS_PROXY, or list idp.example.com in NO_PROXY to connect directly',
    });
    // A forward proxy (http:// targets) answering 407.
    const forward407 = Object.assign(new Error('Proxy Authentication Required (407)'), { name: 'InvalidArgumentError', code: 'UND_ERR_INVALID_ARG' });
    expect(toPluginError(failure(forward407, proxy), 'token', issuer).message).toBe('the token request failed: the proxy http://proxy.corp:3128 (from HTTPS_PROXY) requires authentication (HTTP 407)');
    expect(toPluginError(failure(systemError('ENOTFOUND'), proxy), 'token', issuer).message).toBe(
      'the token request failed: cannot resolve the host of the proxy http://proxy.corp:3128 (from HTTPS_PROXY) (ENOTFOUND)',
    );
    expect(toPluginError(new ProviderRequestError('timeout', url, proxy, 30, undefined), 'token', issuer).message).toBe(
      `the token request failed: ${issuer} did not answer within 30 s (through the proxy http://proxy.corp:3128 from HTTPS_PROXY)`,
    );
  });

  it('leaves OAuth errors as they were', () => {
    const error = new client.ResponseBodyError('server responded with an error in the response body', {
      cause: { error: 'invalid_grant', error_description: 'grant request is invalid' },
      response: new Response('{}', { status: 400 }),
    });
    expect(toPluginError(error, 'refresh', issuer).message).toBe('could not refresh the token: invalid_grant (grant request is invalid) (HTTP 400)');
  });
});
