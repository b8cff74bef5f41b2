/**
 * A configured openid-client for one provider, with the discovery document and the JWKS cached on disk
 * for METADATA_TTL_MS, so that a refresh costs one round trip (the token request) instead of three
 * (discovery, token, keys), as in kubelogin. An interactive login always rediscovers.
 */
import { join } from 'node:path';
import * as client from 'openid-client';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { canonicalJson, fnv1a128Hex } from '../core/cache-key.js';
import { isLoopbackHost, type ProviderConfig } from '../core/config.js';
import { isRecord } from '../core/exec-credential.js';
import { PluginError } from '../core/errors.js';
import type { Logger } from '../system/log.js';
import { readCacheFile, writeFileAtomically } from '../system/atomic-file.js';
import { createProviderFetch, REQUEST_TIMEOUT_SEC, type ProviderEnvironment, type ProviderFetch } from './http.js';
import { toPluginError, unexpectedAnswer } from './provider-errors.js';

const METADATA_TTL_MS = 60 * 60 * 1000;
const METADATA_FORMAT = 'kubectl-oidc-login/provider-v1';
/** Signed JWTs only: never "none", never a symmetric key. */
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface ProviderSession {
  readonly config: client.Configuration;
  readonly metadata: client.ServerMetadata;
  /** Verifies a JWT from this provider: signature against its JWKS, iss, exp, and aud when given. */
  verifyJwt(token: string, audience: string | undefined): Promise<VerifiedJwt>;
  /**
   * The redirect_uri of the authorization request, to be sent unchanged in the code exchange.
   * openid-client derives it from the callback URL, which turns http://localhost:8000 into
   * http://localhost:8000/; providers compare the two strings, and users register the form without the
   * slash (kubelogin's default), so the token request is corrected on its way out.
   */
  useRedirectUriForCodeExchange(redirectUri: string): void;
}

export interface VerifiedJwt {
  claims: JWTPayload;
  /** The JWS algorithm the provider signed with (setup checks it against kube-apiserver's default). */
  alg: string;
}

export interface SessionOptions {
  /** Directory for the metadata cache; undefined disables it (--token-cache-storage=none). */
  cacheDir: string | undefined;
  /** Ignore cached metadata (interactive logins). */
  fresh: boolean;
  log: Logger;
  /** Proxy variables and NODE_EXTRA_CA_CERTS (see http.ts); default process.env. */
  env?: ProviderEnvironment;
  /** Ends any request in flight at once (SIGINT, SIGTERM: cli/main.ts); the request rejects with its reason. */
  signal?: AbortSignal;
}

interface CachedMetadata {
  fetchedAt: number;
  metadata: client.ServerMetadata;
  jwks: JSONWebKeySet | undefined;
  jwksFetchedAt: number | undefined;
}

export async function openProviderSession(provider: ProviderConfig, options: SessionOptions): Promise<ProviderSession> {
  const { log } = options;
  const exchange: CodeExchange = { redirectUri: undefined };
  const fetchWithHeaders = createFetch(createProviderFetch(provider, options.env ?? process.env, log), exchange, options.signal);
  const issuerUrl = new URL(provider.issuerUrl);
  const insecure = issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname);
  const cachePath = options.cacheDir === undefined ? undefined : join(options.cacheDir, `provider-${fnv1a128Hex(canonicalJson({ issuer: provider.issuerUrl, headers: provider.requestHeaders }))}.json`);
  const clientMetadata: Partial<client.ClientMetadata> = { client_id: provider.clientId };
  if (provider.clientSecret !== undefined) clientMetadata.client_secret = provider.clientSecret;

  const previous = cachePath !== undefined ? readCachedMetadata(cachePath, provider.issuerUrl) : undefined;
  let state: CachedMetadata;
  if (previous !== undefined && !options.fresh && previous.fetchedAt + METADATA_TTL_MS >= Date.now()) {
    log.debug(`using the cached discovery document of ${provider.issuerUrl}`);
    state = previous;
  } else {
    log.debug(`discovering ${provider.issuerUrl}`);
    let metadata: client.ServerMetadata;
    try {
      const discovered = await client.discovery(issuerUrl, provider.clientId, clientMetadata, undefined, {
        execute: insecure ? [client.allowInsecureRequests] : [],
        [client.customFetch]: fetchWithHeaders,
        timeout: REQUEST_TIMEOUT_SEC,
      });
      metadata = discovered.serverMetadata();
    } catch (error) {
      throw toPluginError(error, 'discovery', provider.issuerUrl);
    }
    // Keys outlive a rediscovery: they are refetched on their own TTL or on an unknown key.
    state = { fetchedAt: Date.now(), metadata, jwks: previous?.jwks, jwksFetchedAt: previous?.jwksFetchedAt };
    saveCachedMetadata(cachePath, state, log);
  }
  // Built from the metadata rather than taken from discovery(): the client authentication method
  // depends on what the provider advertises (see clientAuthentication).
  const config = new client.Configuration(state.metadata, provider.clientId, clientMetadata, clientAuthentication(provider, state.metadata));
  if (insecure) client.allowInsecureRequests(config);
  config[client.customFetch] = fetchWithHeaders;
  config.timeout = REQUEST_TIMEOUT_SEC;

  const fetchJwks = async (): Promise<JSONWebKeySet> => {
    const uri = state.metadata.jwks_uri;
    if (!uri) throw new PluginError('ERR_DISCOVERY', `the discovery document of ${provider.issuerUrl} has no jwks_uri`);
    log.debug(`fetching the signing keys from ${uri}`);
    let jwks: unknown;
    try {
      const response = await fetchWithHeaders(uri, {
        method: 'GET',
        headers: { accept: 'application/json' },
        body: undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_SEC * 1000),
      });
      if (!response.ok && response.status < 500) throw new PluginError('ERR_DISCOVERY', `could not fetch the provider signing keys: HTTP ${response.status} from ${uri}`);
      if (!response.ok) throw unexpectedAnswer('jwks', provider.issuerUrl, response);
      const text = await response.text();
      try {
        jwks = JSON.parse(text);
      } catch {
        throw unexpectedAnswer('jwks', provider.issuerUrl, response);
      }
    } catch (error) {
      throw toPluginError(error, 'jwks', provider.issuerUrl);
    }
    if (!isRecord(jwks) || !Array.isArray(jwks['keys'])) throw new PluginError('ERR_DISCOVERY', `the signing keys at ${uri} are not a JSON Web Key Set`);
    state.jwks = jwks as unknown as JSONWebKeySet;
    state.jwksFetchedAt = Date.now();
    saveCachedMetadata(cachePath, state, log);
    return state.jwks;
  };

  const verifyJwt = async (token: string, audience: string | undefined): Promise<VerifiedJwt> => {
    const fresh = state.jwks === undefined || (state.jwksFetchedAt ?? 0) + METADATA_TTL_MS < Date.now();
    const keys = fresh ? await fetchJwks() : (state.jwks as JSONWebKeySet);
    const verify = async (set: JSONWebKeySet): Promise<VerifiedJwt> => {
      const result = await jwtVerify(token, createLocalJWKSet(set), { issuer: state.metadata.issuer, audience, algorithms: ASYMMETRIC_ALGS, clockTolerance: 30 });
      return { claims: result.payload, alg: result.protectedHeader.alg };
    };
    try {
      try {
        return await verify(keys);
      } catch (error) {
        // Keys from the cache may be outdated: the provider rotated its keys (a new kid, or new material
        // under an old kid). Refetch once; a token that still fails is rejected.
        const keyProblem = error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWSSignatureVerificationFailed;
        if (!fresh && keyProblem) return await verify(await fetchJwks());
        throw error;
      }
    } catch (error) {
      if (error instanceof PluginError) throw error;
      throw new PluginError('ERR_TOKEN_INVALID', `the provider returned a token that fails verification: ${(error as Error).message}`, {
        hint: 'check the issuer URL and the client ID; the token was not used',
        cause: error,
      });
    }
  };

  return {
    config,
    metadata: state.metadata,
    verifyJwt,
    useRedirectUriForCodeExchange: (redirectUri) => {
      exchange.redirectUri = redirectUri;
    },
  };
}

function clientAuthentication(provider: ProviderConfig, metadata: client.ServerMetadata): client.ClientAuth {
  if (provider.clientSecret === undefined) return client.None();
  const methods = metadata.token_endpoint_auth_methods_supported;
  // client_secret_basic is the default of RFC 6749 and of OpenID discovery when nothing is advertised.
  if (methods === undefined || methods.includes('client_secret_basic')) return client.ClientSecretBasic(provider.clientSecret);
  return client.ClientSecretPost(provider.clientSecret);
}

interface CodeExchange {
  redirectUri: string | undefined;
}

/**
 * The provider fetch (headers, TLS, proxy, -v2 log: http.ts) for openid-client, with the redirect_uri fix, and
 * ended by `interrupt` as well as by the request's own timeout.
 */
function createFetch(providerFetch: ProviderFetch, exchange: CodeExchange, interrupt: AbortSignal | undefined): client.CustomFetch {
  return async (url, init) => {
    const body = init.body;
    if (exchange.redirectUri !== undefined && body instanceof URLSearchParams && body.get('grant_type') === 'authorization_code') {
      body.set('redirect_uri', exchange.redirectUri);
    }
    if (interrupt === undefined) return providerFetch(url, init as RequestInit);
    const signal = init.signal ? AbortSignal.any([init.signal, interrupt]) : interrupt;
    return providerFetch(url, { ...(init as RequestInit), signal });
  };
}

function readCachedMetadata(path: string, issuer: string): CachedMetadata | undefined {
  try {
    const raw = JSON.parse(readCacheFile(path)) as unknown;
    if (!isRecord(raw) || raw['format'] !== METADATA_FORMAT || raw['issuer'] !== issuer) return undefined;
    const metadata = raw['metadata'];
    const fetchedAt = raw['fetched_at'];
    if (!isRecord(metadata) || metadata['issuer'] !== issuer || typeof fetchedAt !== 'number') return undefined;
    const jwks = raw['jwks'];
    const jwksFetchedAt = raw['jwks_fetched_at'];
    return {
      fetchedAt,
      metadata: metadata as unknown as client.ServerMetadata,
      jwks: isRecord(jwks) && Array.isArray(jwks['keys']) ? (jwks as unknown as JSONWebKeySet) : undefined,
      jwksFetchedAt: typeof jwksFetchedAt === 'number' ? jwksFetchedAt : undefined,
    };
  } catch {
    return undefined;
  }
}

function saveCachedMetadata(path: string | undefined, cached: CachedMetadata, log: Logger): void {
  if (path === undefined) return;
  const text = JSON.stringify({
    format: METADATA_FORMAT,
    issuer: cached.metadata.issuer,
    fetched_at: cached.fetchedAt,
    metadata: cached.metadata,
    jwks: cached.jwks,
    jwks_fetched_at: cached.jwksFetchedAt,
  });
  try {
    writeFileAtomically(path, text);
  } catch (error) {
    log.debug(`could not cache the provider metadata: ${(error as Error).message}`);
  }
}
