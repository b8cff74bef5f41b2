/**
 * Maps what openid-client, fetch and jose throw into PluginErrors with one readable line and a hint.
 * Keeping the original as `cause` lets -v print the chain.
 */
import * as client from 'openid-client';
import { PluginError, isPluginError, type ErrorCode } from '../core/errors.js';
import { ProviderRequestError, REQUEST_TIMEOUT_SEC, type ProxyChoice } from './http.js';

export type ProviderStep = 'discovery' | 'jwks' | 'authorization' | 'token' | 'refresh' | 'verification' | 'revocation';

const STEP_TEXT: Record<ProviderStep, string> = {
  discovery: 'could not discover the OpenID provider',
  jwks: 'could not fetch the provider signing keys',
  authorization: 'the provider refused the authorization',
  token: 'the token request failed',
  refresh: 'could not refresh the token',
  verification: 'the provider returned an invalid token',
  revocation: 'the revocation request failed',
};

const STEP_CODE: Record<ProviderStep, ErrorCode> = {
  discovery: 'ERR_DISCOVERY',
  jwks: 'ERR_DISCOVERY',
  authorization: 'ERR_AUTHORIZATION',
  token: 'ERR_TOKEN_ENDPOINT',
  refresh: 'ERR_REFRESH',
  verification: 'ERR_TOKEN_INVALID',
  revocation: 'ERR_REVOCATION',
};

/** What to do about invalid_client: clean takes only the secret (the client ID comes from the cache entry). */
function invalidClientHint(step: ProviderStep): string {
  return step === 'revocation' ? 'a confidential client must authenticate: pass its secret with --oidc-client-secret' : 'check --oidc-client-id and --oidc-client-secret';
}

export function toPluginError(error: unknown, step: ProviderStep, issuer: string): PluginError {
  // The plugin's own error from inside a custom fetch (a proxy variable it cannot use; an interrupt, also while a
  // body is read), wrapped by openid-client and oauth4webapi.
  const own = pluginErrorIn(error);
  if (own !== undefined) return own;
  const prefix = STEP_TEXT[step];
  // http.ts's own error, thrown by fetch, passed through by openid-client (wrapped at most once).
  const failed = error instanceof ProviderRequestError ? error : error instanceof client.ClientError && error.cause instanceof ProviderRequestError ? error.cause : undefined;
  if (failed !== undefined) {
    const { text, hint } = failed.failure === 'timeout' ? timeoutText(failed.url, failed.proxy, failed.timeoutSec, issuer) : networkText(failed.cause, failed.url, failed.proxy, issuer);
    return new PluginError('ERR_NETWORK', `${prefix}: ${text}`, { hint, cause: error });
  }
  if (error instanceof client.AuthorizationResponseError) {
    return new PluginError('ERR_AUTHORIZATION', `authorization error from the provider: ${oauthError(error.error, error.error_description)}`, {
      hint: 'check the client registration at the provider (redirect URI, allowed scopes, assigned users)',
      cause: error,
    });
  }
  if (error instanceof client.ResponseBodyError) {
    const code: ErrorCode = step === 'refresh' ? 'ERR_REFRESH' : STEP_CODE[step];
    return new PluginError(code, `${prefix}: ${oauthError(error.error, error.error_description)} (HTTP ${error.status})`, {
      hint: error.error === 'invalid_client' ? invalidClientHint(step) : undefined,
      cause: error,
    });
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    // A 401 with a WWW-Authenticate challenge: how a token endpoint rejects client_secret_basic credentials.
    const parameters = error.cause[0]?.parameters;
    const code: ErrorCode = step === 'refresh' ? 'ERR_REFRESH' : STEP_CODE[step];
    return new PluginError(code, `${prefix}: ${oauthError(parameters?.error ?? 'unauthorized', parameters?.error_description)} (HTTP ${error.status})`, {
      hint: parameters?.error === 'invalid_client' ? invalidClientHint(step) : undefined,
      cause: error,
    });
  }
  if (error instanceof client.ClientError) {
    if (error.code === 'OAUTH_TIMEOUT') {
      const { text, hint } = timeoutText(undefined, undefined, REQUEST_TIMEOUT_SEC, issuer);
      return new PluginError('ERR_NETWORK', `${prefix}: ${text}`, { hint, cause: error });
    }
    if (error.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && step === 'discovery') {
      const discovered = discoveredIssuer(error);
      return new PluginError('ERR_DISCOVERY', `the issuer in the discovery document${discovered ? ` (${discovered})` : ''} differs from --oidc-issuer-url ${issuer}`, {
        hint: 'use the issuer exactly as the provider publishes it, trailing slash included',
        cause: error,
      });
    }
    if (error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || error.code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
      // Not instanceof Response: with a private CA or a proxy the response is undici's own class.
      const answer = answerOf(error.cause);
      if (answer !== undefined && (answer.status >= 500 || error.code === 'OAUTH_RESPONSE_IS_NOT_JSON')) return unexpectedAnswer(step, issuer, error.cause, error);
      const status = answer !== undefined ? ` (HTTP ${answer.status})` : '';
      return new PluginError(STEP_CODE[step], `${prefix}: unexpected response from ${issuer}${status}`, { hint: 'check the issuer URL', cause: error });
    }
    // oauth4webapi's error below openid-client's names what could not be parsed.
    const parsing = error.code === 'OAUTH_PARSE_ERROR' && error.cause instanceof Error ? error.cause : undefined;
    if (parsing !== undefined && /"response" body/.test(parsing.message)) {
      // The body did not arrive in time (the request's timeout ends the reading too), or is not JSON.
      if (isTimeoutError(parsing.cause)) {
        const { text, hint } = timeoutText(undefined, undefined, REQUEST_TIMEOUT_SEC, issuer);
        return new PluginError('ERR_NETWORK', `${prefix}: ${text}`, { hint, cause: error });
      }
      return new PluginError(STEP_CODE[step], `${prefix}: ${issuer} answered invalid JSON`, { hint: NOT_THE_PROVIDER_HINT, cause: error });
    }
    // openid-client's own message is generic ("unexpected JWT claim value encountered"); the
    // oauth4webapi error below it names the claim.
    const detail = error.cause instanceof Error && error.cause.message ? error.cause.message : error.message;
    if (step === 'discovery' || step === 'jwks') return new PluginError('ERR_DISCOVERY', `${prefix}: ${detail}`, { cause: error });
    if (step === 'revocation') return new PluginError('ERR_REVOCATION', `${prefix}: ${detail}`, { cause: error });
    return new PluginError('ERR_TOKEN_INVALID', `${STEP_TEXT.verification}: ${detail}`, {
      // An expired token, or one issued "in the future", is most often a wrong clock on this machine.
      hint: /"(exp|iat|nbf)"/.test(detail)
        ? 'check that the clock of this machine is right; the token was not used'
        : 'check --oidc-issuer-url and --oidc-client-id against the provider; the token was not used',
      cause: error,
    });
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const { text, hint } = networkText(error.cause, undefined, undefined, issuer);
    return new PluginError('ERR_NETWORK', `${prefix}: ${text}`, { hint, cause: error });
  }
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    const { text, hint } = timeoutText(undefined, undefined, REQUEST_TIMEOUT_SEC, issuer);
    return new PluginError('ERR_NETWORK', `${prefix}: ${text}`, { hint, cause: error });
  }
  return new PluginError(STEP_CODE[step], `${prefix}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** What the provider answered, when it is not what the step expects. */
interface ProviderAnswer {
  status: number;
  /** The media type, without parameters; '' when there is none. */
  contentType: string;
  /** The URL answered (the final one after redirects), when known. */
  url: string | undefined;
}

const NOT_THE_PROVIDER_HINT = 'check the issuer URL; a proxy, firewall or captive portal may be answering instead of the provider';

function answerOf(response: unknown): ProviderAnswer | undefined {
  const candidate = response as { status?: unknown; url?: unknown; headers?: { get?: unknown } } | undefined;
  if (typeof candidate?.status !== 'number') return undefined;
  const headers = candidate.headers as { get(name: string): string | null } | undefined;
  const contentType = typeof headers?.get === 'function' ? (headers.get('content-type') ?? '') : '';
  return { status: candidate.status, contentType: contentType.split(';')[0]?.trim().toLowerCase() ?? '', url: typeof candidate.url === 'string' && candidate.url !== '' ? candidate.url : undefined };
}

/**
 * A server error (HTTP 5xx), or an answer that is not JSON (an HTML page: a login portal, a proxy's error page),
 * where `step` expects JSON: one line naming the server and what it answered. `response` is the fetch Response
 * (Node's or undici's).
 */
export function unexpectedAnswer(step: ProviderStep, issuer: string, response: unknown, cause?: unknown): PluginError {
  const answer = answerOf(response) ?? { status: 0, contentType: '', url: undefined };
  const server = serverName(answer.url !== undefined ? safeUrl(answer.url) : undefined, issuer);
  if (answer.status >= 500) {
    return new PluginError(STEP_CODE[step], `${STEP_TEXT[step]}: ${server} answered HTTP ${answer.status}, a server error`, {
      hint: 'the provider is failing: try again later, and tell its administrators if it persists',
      cause,
    });
  }
  return new PluginError(STEP_CODE[step], `${STEP_TEXT[step]}: ${server} answered ${answer.contentType || 'something'} instead of JSON (HTTP ${answer.status})`, {
    hint: NOT_THE_PROVIDER_HINT,
    cause,
  });
}

function isTimeoutError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TimeoutError';
}

function pluginErrorIn(error: unknown): PluginError | undefined {
  let current = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (isPluginError(current)) return current;
    current = current.cause;
  }
  return undefined;
}

function oauthError(code: string, description: string | undefined): string {
  return description ? `${code} (${description})` : code;
}

function discoveredIssuer(error: client.ClientError): string | undefined {
  const cause = error.cause as { body?: { issuer?: unknown } } | undefined;
  return typeof cause?.body?.issuer === 'string' ? cause.body.issuer : undefined;
}

interface Described {
  text: string;
  hint: string;
}

const CA_HINT = 'pass the CA certificate that signed it with --certificate-authority=<ca.pem> or --certificate-authority-data=<base64> (or --insecure-skip-tls-verify, for testing only)';

/** What the user knows the server as: the issuer when the request went to its origin, else the URL's origin. */
function serverName(url: URL | undefined, issuer: string): string {
  if (url === undefined) return issuer;
  try {
    if (new URL(issuer).origin === url.origin) return issuer;
  } catch {
    // not a URL: name the request's origin
  }
  return url.origin;
}

function timeoutText(url: URL | undefined, proxy: ProxyChoice | undefined, timeoutSec: number, issuer: string): Described {
  return {
    text: `${serverName(url, issuer)} did not answer within ${timeoutSec} s${proxy ? ` (through the proxy ${proxy.display} from ${proxy.variable})` : ''}`,
    hint: proxy
      ? `check the proxy in ${proxy.variable} (or list the host in NO_PROXY to connect directly) and the issuer URL`
      : 'check your network connection, proxy (HTTPS_PROXY) and the issuer URL',
  };
}

interface CauseFields {
  code: string | undefined;
  message: string;
  reason: string | undefined;
}

/** The code of the innermost useful cause: fetch's cause, undici's wrappers, happy eyeballs' AggregateError. */
function causeFields(cause: unknown): CauseFields {
  let current = cause as { code?: unknown; message?: unknown; reason?: unknown; cause?: unknown; errors?: unknown } | undefined;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = typeof current.code === 'string' ? current.code : undefined;
    // SecureProxyConnectionError wraps the TLS error of the proxy connection.
    if (code === 'UND_ERR_PRX_TLS' && current.cause) {
      current = current.cause as typeof current;
      continue;
    }
    if (code === undefined && Array.isArray(current.errors) && current.errors.length > 0) {
      current = current.errors[0] as typeof current;
      continue;
    }
    if (code === undefined && current.cause && typeof current.cause === 'object') {
      current = current.cause as typeof current;
      continue;
    }
    return { code, message: typeof current.message === 'string' ? current.message : String(current), reason: typeof current.reason === 'string' ? current.reason : undefined };
  }
  return { code: undefined, message: cause instanceof Error ? cause.message : 'network error', reason: undefined };
}

function networkText(cause: unknown, url: URL | undefined, proxy: ProxyChoice | undefined, issuer: string): Described {
  const { code, message, reason } = causeFields(cause);
  const target = url ?? safeUrl(issuer);
  const hostname = target?.hostname.replace(/^\[(.*)\]$/, '$1') ?? issuer;
  const host = target?.host ?? issuer;
  const server = serverName(url, issuer);
  const tagged = (text: string): string => (code ? `${text} (${code})` : text);

  if (proxy !== undefined) {
    const proxyName = `the proxy ${proxy.display} (from ${proxy.variable})`;
    const direct = `check ${proxy.variable}, or list ${hostname} in NO_PROXY to connect directly`;
    const status = /Proxy response \((\d{3})\)/.exec(message)?.[1] ?? (/\(407\)/.test(message) ? '407' : undefined);
    if (status === '407') {
      return { text: `${proxyName} requires authentication (HTTP 407)`, hint: `put the credentials in the proxy URL: ${proxy.variable}=http://user:password@host:port` };
    }
    if (status !== undefined) {
      return { text: `${proxyName} refused the connection to ${host} (HTTP ${status})`, hint: `the proxy could not or would not connect to ${host}: ${direct}` };
    }
    switch (code) {
      case 'ECONNREFUSED':
        return { text: `cannot connect to ${proxyName}: connection refused`, hint: direct };
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return { text: tagged(`cannot resolve the host of ${proxyName}`), hint: direct };
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return { text: tagged(`cannot connect to ${proxyName}`), hint: direct };
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
        return { text: tagged(`${proxyName} closed the connection to ${host}`), hint: direct };
      default:
        break;
    }
  }

  switch (code) {
    case 'ECONNREFUSED':
      return { text: `cannot reach ${server}: connection refused`, hint: 'check your network connection, proxy and the issuer URL' };
    case 'EHOSTUNREACH':
      return { text: tagged(`cannot reach ${server}: no route to the host`), hint: 'check your network connection (VPN?) and the issuer URL' };
    case 'ENETUNREACH':
      return { text: tagged(`cannot reach ${server}: the network is unreachable`), hint: 'check your network connection (VPN?) and the issuer URL' };
    case 'ENOTFOUND':
      return { text: tagged(`cannot resolve ${hostname}`), hint: 'check the host name in the issuer URL, and your DNS or VPN' };
    case 'EAI_AGAIN':
      return { text: tagged(`cannot resolve ${hostname}: the DNS lookup failed temporarily`), hint: 'check your network connection and DNS, then try again' };
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { text: tagged(`connecting to ${server} timed out`), hint: 'a firewall may drop the connection: check your network, VPN, and whether a proxy is needed (HTTPS_PROXY)' };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return { text: tagged(`the connection to ${server} was closed unexpectedly`), hint: 'a firewall or proxy may be interfering; check the issuer URL and try again' };
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return { text: tagged(`the TLS certificate of ${host} is signed by an unknown certificate authority`), hint: CA_HINT };
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return { text: tagged(`the TLS certificate of ${host} chains up to an untrusted self-signed certificate authority`), hint: CA_HINT };
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return { text: tagged(`the TLS certificate of ${host} is self-signed`), hint: 'trust it by passing the certificate itself with --certificate-authority=<cert.pem> (or --insecure-skip-tls-verify, for testing only)' };
    case 'CERT_HAS_EXPIRED':
      return { text: tagged(`the TLS certificate of ${host} has expired`), hint: 'the provider must renew its certificate; check this machine\'s clock too (--insecure-skip-tls-verify only for testing)' };
    case 'CERT_NOT_YET_VALID':
      return { text: tagged(`the TLS certificate of ${host} is not valid yet`), hint: 'check this machine\'s clock (--insecure-skip-tls-verify only for testing)' };
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
      return {
        text: tagged(`the TLS certificate of ${host} is not issued for ${hostname}${reason ? `: ${reason.replace(/\.$/, '')}` : ''}`),
        hint: 'use the host name the certificate was issued for in the issuer URL (--insecure-skip-tls-verify only for testing)',
      };
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return { text: tagged(`${host} does not speak TLS`), hint: 'check the issuer URL: is the provider served over http:// on that port?' };
    default:
      // OpenSSL's other verification failures (INVALID_PURPOSE, CERT_REVOKED, PATH_LENGTH_EXCEEDED, …).
      if (code !== undefined && /CERT|SIGNATURE|SELF_SIGNED|ISSUER|^INVALID_(CA|PURPOSE)$|^PATH_LENGTH_EXCEEDED$/.test(code)) {
        return { text: `${tagged(`the TLS certificate of ${host} was rejected`)}: ${message}`, hint: CA_HINT };
      }
      if (code !== undefined && /^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(code)) {
        return { text: `${tagged(`the TLS connection to ${host} failed`)}: ${message}`, hint: 'check the issuer URL and any TLS-intercepting proxy on the way' };
      }
      return { text: `cannot reach ${server}: ${message}${code ? ` (${code})` : ''}`, hint: 'check your network connection, proxy and the issuer URL' };
  }
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
