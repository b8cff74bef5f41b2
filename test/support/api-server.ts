/**
 * An HTTPS emulator of kube-apiserver's OIDC token authentication (the `--oidc-*` flags), following
 * /work/shared/reference/kubernetes.md §2.2 step by step, plus the few endpoints kubectl needs.
 *
 * Differences from the real thing, on purpose:
 * - http:// issuers are accepted (the real flag requires https) because the test IdP is plain http.
 * - Discovery happens lazily on the first token with our issuer (the real server does it in the
 *   background and answers "authenticator not initialized" until then); a failed discovery is
 *   retried on the next request.
 * - Successful authentications are not cached unless `successCacheTtlMs` is set (the real server
 *   caches them 10 s regardless of `exp`).
 * - Every endpoint requires authentication (no anonymous access, no RBAC: any user may do anything).
 */
import { rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import type { JWK } from 'jose';
import { makeTestTls } from './tls.js';
import type { TestTls } from './tls.js';

export interface ApiServerOptions {
  /** `--oidc-issuer-url`: compared byte for byte with the token's `iss` and discovery's `issuer`. */
  issuer: string;
  /** `--oidc-client-id` (one) or structured `audiences` (MatchAny). */
  audiences: string[];
  /** `--oidc-username-claim`, default `sub`. */
  usernameClaim?: string;
  /**
   * `--oidc-username-prefix`. Undefined or `''`: `<issuer>#` unless the claim is `email`;
   * `'-'`: no prefix; anything else: literal.
   */
  usernamePrefix?: string;
  /** `--oidc-groups-claim`; no groups when unset. */
  groupsClaim?: string;
  /** `--oidc-groups-prefix` (literal). */
  groupsPrefix?: string;
  /** `--oidc-required-claim key=value` pairs. */
  requiredClaims?: Record<string, string>;
  /** `--oidc-signing-algs`, default `['RS256']`. */
  signingAlgs?: string[];
  /** Server certificate; a fresh one from makeTestTls() when omitted. */
  tls?: TestTls;
  /** `gitVersion` served at /version, default `v1.32.4`. */
  version?: string;
  /** `--oidc-ca-file` contents, for an https issuer with a private CA. */
  issuerCaPem?: string;
  /** Cache successful authentications this long (kube-apiserver: 10 000). Default 0 (off). */
  successCacheTtlMs?: number;
}

export interface ApiRequestRecord {
  method: string;
  path: string;
  authenticated: boolean;
  username?: string;
  groups?: string[];
  /** Why authentication failed (kube-apiserver-like message). */
  error?: string;
}

export interface UserInfo {
  username: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface TestApiServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  tls: TestTls;
  caPath: string;
  requests: ApiRequestRecord[];
  /** Every bearer token presented, in order. */
  tokensSeen: string[];
  /** Fetches of the issuer's discovery document and JWKS. */
  counts: { discovery: number; jwks: number };
  /** Authenticates a token exactly as a request would (no recording). */
  authenticate(token: string): Promise<UserInfo>;
  /** Clears `requests`, `tokensSeen` and the success cache. */
  reset(): void;
  /** Stops the server (all connections); removes the TLS directory if it was created here. */
  close(): Promise<void>;
}

const UNAUTHORIZED_STATUS = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'Unauthorized',
  reason: 'Unauthorized',
  code: 401,
};

class AuthError extends Error {}

function getJson(url: string, caPem: string | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    const req = (isHttps ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', headers: { accept: 'application/json' }, timeout: 5000, ...(isHttps && caPem ? { ca: caPem } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`${url}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(new Error(`${url}: invalid JSON`, { cause: err }));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

function base64urlJson(part: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new AuthError('malformed jwt: bad base64url');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function versionInfo(gitVersion: string) {
  const m = /^v(\d+)\.(\d+)/.exec(gitVersion);
  return {
    major: m?.[1] ?? '1',
    minor: m?.[2] ?? '32',
    gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-04-22T00:00:00Z',
    goVersion: 'go1.23.8',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** Starts the emulator on https://127.0.0.1:<random port>. */
export async function startApiServer(options: ApiServerOptions): Promise<TestApiServer> {
  const ownTls = options.tls === undefined;
  const tls = options.tls ?? (await makeTestTls());
  const signingAlgs = options.signingAlgs ?? ['RS256'];
  const usernameClaim = options.usernameClaim ?? 'sub';
  const usernamePrefix =
    options.usernamePrefix === undefined || options.usernamePrefix === ''
      ? usernameClaim === 'email'
        ? ''
        : `${options.issuer}#`
      : options.usernamePrefix === '-'
        ? ''
        : options.usernamePrefix;
  const groupsPrefix = options.groupsPrefix ?? '';
  const gitVersion = options.version ?? 'v1.32.4';

  const requests: ApiRequestRecord[] = [];
  const tokensSeen: string[] = [];
  const counts = { discovery: 0, jwks: 0 };
  const successCache = new Map<string, { user: UserInfo; until: number }>();
  let jwksUri: string | undefined;
  let keys: JWK[] | undefined;

  async function ensureDiscovery(): Promise<string> {
    if (jwksUri) return jwksUri;
    counts.discovery += 1;
    let doc: unknown;
    try {
      doc = await getJson(`${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, options.issuerCaPem);
    } catch (err) {
      throw new AuthError(`oidc: authenticator not initialized (discovery failed: ${(err as Error).message})`);
    }
    const d = doc as { issuer?: unknown; jwks_uri?: unknown };
    if (d.issuer !== options.issuer) {
      throw new AuthError(
        `oidc: issuer did not match the issuer returned by provider, expected "${options.issuer}" got "${String(d.issuer)}"`,
      );
    }
    if (typeof d.jwks_uri !== 'string') throw new AuthError('oidc: discovery document has no jwks_uri');
    jwksUri = d.jwks_uri;
    return jwksUri;
  }

  async function fetchKeys(uri: string): Promise<JWK[]> {
    counts.jwks += 1;
    try {
      const set = (await getJson(uri, options.issuerCaPem)) as { keys?: unknown };
      keys = Array.isArray(set.keys) ? (set.keys as JWK[]) : [];
    } catch (err) {
      throw new AuthError(`oidc: fetching keys: ${(err as Error).message}`);
    }
    return keys;
  }

  async function verifyWith(token: string, alg: string, kid: string | undefined, candidates: JWK[]): Promise<boolean> {
    for (const jwk of candidates) {
      if (kid !== undefined && jwk.kid !== kid) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      try {
        await compactVerify(token, await importJWK({ ...jwk, alg }, alg), { algorithms: [alg] });
        return true;
      } catch {
        // Try the next key.
      }
    }
    return false;
  }

  async function authenticate(token: string): Promise<UserInfo> {
    const cached = successCache.get(token);
    if (cached && cached.until > Date.now()) return cached.user;

    // Step 1: a compact JWS with our issuer (unverified) or this authenticator does not apply.
    const parts = token.split('.');
    if (parts.length !== 3 || token.startsWith('{')) throw new AuthError('not a compact JWT');
    let unverified: Record<string, unknown>;
    try {
      unverified = base64urlJson(parts[1] ?? '') as Record<string, unknown>;
    } catch (err) {
      throw new AuthError(`malformed jwt payload: ${(err as Error).message}`);
    }
    if (!unverified || typeof unverified !== 'object') throw new AuthError('malformed jwt payload');
    if (unverified.iss !== options.issuer) {
      throw new AuthError(`token issuer "${String(unverified.iss)}" is not "${options.issuer}"`);
    }

    // Step 2: discovery.
    const uri = await ensureDiscovery();

    // Step 3: algorithm allow-list, then the signature (JWKS refetched when no cached key verifies).
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = decodeProtectedHeader(token);
    } catch (err) {
      throw new AuthError(`oidc: malformed jwt: ${(err as Error).message}`);
    }
    const alg = typeof header.alg === 'string' ? header.alg : '';
    if (!signingAlgs.includes(alg)) {
      throw new AuthError(
        `oidc: verify token: oidc: id token signed with unsupported algorithm, expected ${JSON.stringify(signingAlgs)} got "${alg}"`,
      );
    }
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    let verified = keys ? await verifyWith(token, alg, kid, keys) : false;
    if (!verified) verified = await verifyWith(token, alg, kid, await fetchKeys(uri));
    if (!verified) throw new AuthError('oidc: verify token: failed to verify signature: failed to verify id token signature');
    const claims = unverified;

    // Step 4: audience, MatchAny.
    const aud = claims.aud;
    const auds = typeof aud === 'string' ? [aud] : isStringArray(aud) ? aud : [];
    if (!auds.some((a) => options.audiences.includes(a))) {
      throw new AuthError(`oidc: verify token: oidc: expected audience in ${JSON.stringify(options.audiences)} got ${JSON.stringify(aud)}`);
    }

    // Step 5: exp strictly (missing = expired), nbf with 1 minute leeway.
    const now = Date.now();
    const exp = typeof claims.exp === 'number' ? claims.exp : 0;
    if (exp * 1000 < now) {
      throw new AuthError(`oidc: verify token: oidc: token is expired (Token Expiry: ${new Date(exp * 1000).toISOString()})`);
    }
    if (typeof claims.nbf === 'number' && now + 60_000 < claims.nbf * 1000) {
      throw new AuthError(`oidc: verify token: oidc: current time before the nbf (not before) time: ${new Date(claims.nbf * 1000).toISOString()}`);
    }

    // Step 7: username.
    const rawUsername = claims[usernameClaim];
    if (rawUsername === undefined) throw new AuthError(`oidc: parse username claims "${usernameClaim}": claim not present`);
    if (typeof rawUsername !== 'string') throw new AuthError(`oidc: parse username claims "${usernameClaim}": not a string`);
    if (usernameClaim === 'email' && 'email_verified' in claims) {
      if (typeof claims.email_verified !== 'boolean') throw new AuthError('oidc: parse "email_verified" claim: not a boolean');
      if (!claims.email_verified) throw new AuthError('oidc: email not verified');
    }
    const username = `${usernamePrefix}${rawUsername}`;

    // Step 6: distributed claims. The real server fetches the `_claim_sources` endpoint and fails the whole
    // authentication when that fails; the emulator never fetches, so a distributed groups claim always fails.
    if (options.groupsClaim && !(options.groupsClaim in claims)) {
      const names = claims._claim_names as Record<string, unknown> | undefined;
      if (names && typeof names === 'object' && typeof names[options.groupsClaim] === 'string') {
        throw new AuthError(`oidc: could not expand distributed claims: the "${options.groupsClaim}" claim is distributed and cannot be fetched`);
      }
    }

    // Step 8: groups.
    let groups: string[] = [];
    if (options.groupsClaim !== undefined && options.groupsClaim !== '') {
      const raw = claims[options.groupsClaim];
      if (typeof raw === 'string') groups = [raw];
      else if (isStringArray(raw)) groups = raw;
      else if (raw !== undefined) throw new AuthError(`oidc: parse groups claim "${options.groupsClaim}": not a string or string array`);
      groups = groups.map((g) => `${groupsPrefix}${g}`);
    }

    // Step 9: extra.
    const extra: Record<string, string[]> = {};
    if (typeof claims.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];

    // Step 10: required claims.
    for (const [name, value] of Object.entries(options.requiredClaims ?? {})) {
      const actual = claims[name];
      if (actual === undefined) throw new AuthError(`oidc: required claim ${name} not present`);
      if (typeof actual !== 'string') throw new AuthError(`oidc: required claim ${name} is not a string`);
      if (actual !== value) throw new AuthError(`oidc: required claim ${name} value does not match. Got = ${actual}, want = ${value}`);
    }

    // Step 12.
    const user: UserInfo = {
      username,
      groups: [...groups, 'system:authenticated'],
      ...(Object.keys(extra).length ? { extra } : {}),
    };
    if (options.successCacheTtlMs) successCache.set(token, { user, until: Date.now() + options.successCacheTtlMs });
    return user;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'no-cache, private');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }

  async function drain(req: IncomingMessage): Promise<void> {
    for await (const _chunk of req) {
      // Request bodies (e.g. the empty SelfSubjectReview) are ignored.
    }
  }

  let port = 0;
  function route(method: string, path: string, user: UserInfo): [number, unknown] {
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /version':
        return [200, versionInfo(gitVersion)];
      case 'POST /apis/authentication.k8s.io/v1/selfsubjectreviews':
        return [
          201,
          {
            kind: 'SelfSubjectReview',
            apiVersion: 'authentication.k8s.io/v1',
            metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
            status: { userInfo: user },
          },
        ];
      case 'GET /api':
        return [
          200,
          {
            kind: 'APIVersions',
            versions: ['v1'],
            serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }],
          },
        ];
      case 'GET /apis':
        return [
          200,
          {
            kind: 'APIGroupList',
            apiVersion: 'v1',
            groups: [
              {
                name: 'authentication.k8s.io',
                versions: [{ groupVersion: 'authentication.k8s.io/v1', version: 'v1' }],
                preferredVersion: { groupVersion: 'authentication.k8s.io/v1', version: 'v1' },
              },
            ],
          },
        ];
      case 'GET /api/v1':
        return [
          200,
          {
            kind: 'APIResourceList',
            groupVersion: 'v1',
            resources: [
              {
                name: 'pods',
                singularName: 'pod',
                namespaced: true,
                kind: 'Pod',
                verbs: ['get', 'list'],
                shortNames: ['po'],
                categories: ['all'],
              },
            ],
          },
        ];
      case 'GET /apis/authentication.k8s.io/v1':
        return [
          200,
          {
            kind: 'APIResourceList',
            apiVersion: 'v1',
            groupVersion: 'authentication.k8s.io/v1',
            resources: [
              { name: 'selfsubjectreviews', singularName: 'selfsubjectreview', namespaced: false, kind: 'SelfSubjectReview', verbs: ['create'] },
            ],
          },
        ];
      case 'GET /api/v1/namespaces/default/pods':
        return [200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }];
      default:
        return [
          404,
          {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: 'the server could not find the requested resource',
            reason: 'NotFound',
            details: {},
            code: 404,
          },
        ];
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    await drain(req);
    const record: ApiRequestRecord = { method, path, authenticated: false };
    requests.push(record);

    const header = req.headers.authorization ?? '';
    const m = /^bearer\s+(\S+)\s*$/i.exec(header);
    if (!m?.[1]) {
      record.error = header ? 'malformed Authorization header' : 'no bearer token';
      sendJson(res, 401, UNAUTHORIZED_STATUS);
      return;
    }
    const token = m[1];
    tokensSeen.push(token);
    let user: UserInfo;
    try {
      user = await authenticate(token);
    } catch (err) {
      record.error = (err as Error).message;
      sendJson(res, 401, UNAUTHORIZED_STATUS);
      return;
    }
    record.authenticated = true;
    record.username = user.username;
    record.groups = user.groups;
    const [status, body] = route(method, path, user);
    sendJson(res, status, body);
  }

  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: String(err), code: 500 });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    tls,
    caPath: tls.caPath,
    requests,
    tokensSeen,
    counts,
    authenticate,
    reset() {
      requests.length = 0;
      tokensSeen.length = 0;
      successCache.clear();
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // Only the directory this function created (a caller's TestTls is left alone).
      if (ownTls) await rm(tls.dir, { recursive: true, force: true });
    },
  };
}
