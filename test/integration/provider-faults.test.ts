/**
 * Provider faults, end to end (the built binary against the real oidc-provider on 127.0.0.1): each is one
 * `error:` line (and at most a hint) with exit code 1, nothing on stdout, and nothing written to the token
 * cache; during a refresh the previous entry stays byte for byte.
 *
 * oidc-provider cannot give a broken answer, so a Koa middleware of this test, in front of its routes
 * (provider.use), answers HTTP 500, HTML or a rewritten document instead, and the token response hook
 * re-signs the id_token the provider issued after changing it, with the provider's own private key (it is
 * this test's: passed in as the provider's signing key), with another key, or with alg "none". The plugin's
 * openid-client sees all of it over HTTP. A provider that accepts the connection and never answers is a
 * node:http server of its own.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { entryFiles, expectOneLineFailure, onlyEntry } from '../support/fault-assertions.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { startIdentityProvider } from '../support/identity-provider.js';
import { FAKE_BROWSER, decodePayload, makeTempDir, parseCredential, runPlugin, type PluginRun } from '../support/plugin.js';

/** The provider's signing key: this test holds the private half, so it can re-sign what the provider issues. */
const SIGNING_KID = 'faults-rsa-1';
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...(signingKey.privateKey.export({ format: 'jwk' }) as JWK), kid: SIGNING_KID, alg: 'RS256', use: 'sig' };
/** A key the provider never published. */
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

const idp = useIdentityProvider({ jwks: { keys: [signingJwk] } });
const temp = useTempDir();

/** Answers a request to `path` instead of the provider. */
interface Fault {
  path: string;
  answer: (res: ServerResponse) => void;
}

const DISCOVERY = '/.well-known/openid-configuration';
const SERVER_ERROR_HINT = 'the provider is failing: try again later, and tell its administrators if it persists';
const NOT_JSON_HINT = 'check the issuer URL; a proxy, firewall or captive portal may be answering instead of the provider';
const HTML = '<!doctype html><html><head><title>Sign in to the corporate network</title></head><body><form></form></body></html>';

let faults: Fault[] = [];
/** The requests a fault answered or changed, by path. */
let faulted: string[] = [];
/** Changes the id_token of every token response (login and refresh). */
let forgeIdToken: ((jwt: string) => string) | undefined;
/** The browser command: the fake browser with its output and exit code swallowed (it is not the plugin's). */
let browser: string;
let tools: { path: string; remove(): void };
/** The provider's discovery document, as it publishes it. */
let discovery: Record<string, unknown>;

beforeAll(() => {
  idp.hooks.request = (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const fault = faults.find((candidate) => candidate.path === path);
    if (fault === undefined) return false;
    faulted.push(path);
    fault.answer(res);
    return true;
  };
  idp.hooks.tokenResponse = (body) => {
    if (forgeIdToken !== undefined && typeof body['id_token'] === 'string') body['id_token'] = forgeIdToken(body['id_token']);
  };
  tools = makeTempDir('provider-faults-');
  browser = join(tools.path, 'quiet-browser');
  writeFileSync(browser, `#!/bin/sh\n'${FAKE_BROWSER}' "$@" >/dev/null 2>&1\nexit 0\n`);
  chmodSync(browser, 0o755);
});
beforeAll(async () => {
  discovery = (await (await fetch(`${idp.issuer}${DISCOVERY}`)).json()) as Record<string, unknown>;
});
afterAll(() => tools.remove());
/**
 * Providers too slow to answer: the plugin gives every request 30 s (REQUEST_TIMEOUT_SEC in src/oidc/http.ts,
 * not configurable). Both runs start before the other tests and are checked by the last ones, so that their
 * 30 s pass while the rest of the file runs.
 */
const slow: { servers: Server[]; sockets: Set<Socket>; silent?: Promise<SlowRun>; stalledBody?: Promise<SlowRun> } = { servers: [], sockets: new Set() };
interface SlowRun {
  issuer: string;
  result: PluginRun;
}

async function startSlowProvider(onRequest: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => onRequest(res));
  server.on('connection', (socket: Socket) => slow.sockets.add(socket));
  slow.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startSlowRun(onRequest: (res: ServerResponse) => void, dir: string): Promise<SlowRun> {
  const issuer = await startSlowProvider(onRequest);
  const argv = args(issuer).map((arg) => (arg.startsWith('--token-cache-dir=') ? `--token-cache-dir=${dir}` : arg));
  return { issuer, result: await runPlugin(argv, { env: ENV, timeoutMs: 45_000 }) };
}

beforeAll(() => {
  // Accepts the connection and the request, and never answers.
  slow.silent = startSlowRun(() => undefined, join(tools.path, 'silent-cache'));
  // Answers the headers and the start of the discovery document, then nothing more.
  slow.stalledBody = startSlowRun((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"issuer":');
  }, join(tools.path, 'stalled-cache'));
});
afterAll(async () => {
  for (const socket of slow.sockets) socket.destroy();
  await Promise.all(slow.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

beforeEach(() => {
  faults = [];
  faulted = [];
  forgeIdToken = undefined;
});

const cacheDir = (): string => join(temp.path, 'cache');

function args(issuer: string, extra: string[] = []): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${issuer}`,
    '--oidc-client-id=kubectl',
    `--token-cache-dir=${cacheDir()}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${browser}`,
    // Each failed browser login would hold the next one back (the browser-tab guard).
    '--browser-retry-cooldown-sec=0',
    '--authentication-timeout-sec=10',
    ...extra,
  ];
}

/** No proxy from the environment running the tests. */
const ENV = { HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined, NODE_OPTIONS: undefined };
const run = (argv: string[]): Promise<PluginRun> => runPlugin(argv, { env: ENV });

function answer(status: number, body: string | Record<string, unknown>): (res: ServerResponse) => void {
  return (res) => {
    const json = typeof body !== 'string';
    res.writeHead(status, { 'content-type': json ? 'application/json' : body.startsWith('<') ? 'text/html; charset=utf-8' : 'text/plain' });
    res.end(json ? JSON.stringify(body) : body);
  };
}

interface Jwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** The id_token changed by `change`, signed with `key` (default: the provider's own key) or unsigned (alg none). */
function resign(change: (jwt: Jwt) => Jwt, key: KeyObject | 'none' = signingKey.privateKey): (jwt: string) => string {
  return (jwt) => {
    const [header, payload] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    const changed = change({ header: header ?? {}, claims: payload ?? {} });
    const input = `${Buffer.from(JSON.stringify(changed.header)).toString('base64url')}.${Buffer.from(JSON.stringify(changed.claims)).toString('base64url')}`;
    if (key === 'none') return `${input}.`;
    return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
  };
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

interface Case {
  name: string;
  faults?: Fault[];
  forge?: (jwt: string) => string;
  error: string | RegExp;
  hint?: string | RegExp | null;
}

/** Faults of the provider's answers; `issuer` is filled in per test. */
function cases(issuer: string): Case[] {
  return [
    {
      name: 'discovery answers HTTP 500',
      faults: [{ path: DISCOVERY, answer: answer(500, 'Internal Server Error') }],
      error: `could not discover the OpenID provider: ${issuer} answered HTTP 500, a server error`,
      hint: SERVER_ERROR_HINT,
    },
    {
      name: 'discovery answers an HTML page (a captive portal)',
      faults: [{ path: DISCOVERY, answer: answer(200, HTML) }],
      error: `could not discover the OpenID provider: ${issuer} answered text/html instead of JSON (HTTP 200)`,
      hint: NOT_JSON_HINT,
    },
    {
      name: 'discovery answers JSON cut short',
      faults: [{ path: DISCOVERY, answer: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer":') }],
      error: `could not discover the OpenID provider: ${issuer} answered invalid JSON`,
      hint: NOT_JSON_HINT,
    },
    {
      name: 'the discovery document names another issuer',
      faults: [{ path: DISCOVERY, answer: (res) => answer(200, { ...discovery, issuer: 'https://login.example.com/tenant' })(res) }],
      error: `the issuer in the discovery document (https://login.example.com/tenant) differs from --oidc-issuer-url ${issuer}`,
      hint: 'use the issuer exactly as the provider publishes it, trailing slash included',
    },
    {
      name: 'the token endpoint answers HTTP 500',
      faults: [{ path: '/token', answer: answer(500, 'Internal Server Error') }],
      error: `the token request failed: ${issuer} answered HTTP 500, a server error`,
      hint: SERVER_ERROR_HINT,
    },
    {
      name: 'the token endpoint answers an HTML page',
      faults: [{ path: '/token', answer: answer(200, HTML) }],
      error: `the token request failed: ${issuer} answered text/html instead of JSON (HTTP 200)`,
      hint: NOT_JSON_HINT,
    },
    {
      name: 'the signing keys answer HTTP 500',
      faults: [{ path: '/jwks', answer: answer(500, 'Internal Server Error') }],
      error: `could not fetch the provider signing keys: ${issuer} answered HTTP 500, a server error`,
      hint: SERVER_ERROR_HINT,
    },
    {
      name: 'the signing keys answer an HTML page',
      faults: [{ path: '/jwks', answer: answer(200, HTML) }],
      error: `could not fetch the provider signing keys: ${issuer} answered text/html instead of JSON (HTTP 200)`,
      hint: NOT_JSON_HINT,
    },
    {
      name: 'an id_token from another issuer',
      forge: resign(({ header, claims }) => ({ header, claims: { ...claims, iss: 'https://attacker.example.com' } })),
      error: 'the provider returned an invalid token: unexpected JWT "iss" (issuer) claim value',
      hint: 'check --oidc-issuer-url and --oidc-client-id against the provider; the token was not used',
    },
    {
      name: 'an expired id_token',
      forge: resign(({ header, claims }) => ({ header, claims: { ...claims, iat: nowSec() - 7200, exp: nowSec() - 3600 } })),
      error: 'the provider returned an invalid token: unexpected JWT "exp" (expiration time) claim value, expiration is past current timestamp',
      hint: 'check that the clock of this machine is right; the token was not used',
    },
    {
      name: 'an id_token with alg "none"',
      forge: resign(({ claims }) => ({ header: { typ: 'JWT', alg: 'none' }, claims }), 'none'),
      error: 'the provider returned an invalid token: unexpected JWT "alg" header parameter',
      hint: 'check --oidc-issuer-url and --oidc-client-id against the provider; the token was not used',
    },
    {
      name: 'an id_token signed by another key under the provider\'s key ID (tampered signature)',
      forge: resign((jwt) => jwt, otherKey.privateKey),
      error: 'the provider returned a token that fails verification: signature verification failed',
      hint: 'check the issuer URL and the client ID; the token was not used',
    },
    {
      name: 'an id_token signed by a key the provider does not publish (unknown kid)',
      forge: resign(({ header, claims }) => ({ header: { ...header, kid: 'not-published' }, claims }), otherKey.privateKey),
      error: 'the provider returned a token that fails verification: no applicable key found in the JSON Web Key Set',
      hint: 'check the issuer URL and the client ID; the token was not used',
    },
  ];
}

describe('the forging itself', () => {
  it('a token re-signed with the provider\'s key and nothing changed is accepted (so each failure below is the change\'s)', async () => {
    forgeIdToken = resign((jwt) => jwt);
    const result = await run(args(idp.issuer));
    expect(result.code, result.stderr).toBe(0);
    expect(decodePayload(parseCredential(result).status.token)['sub']).toBe('alice');
  });
});

describe('provider faults during a login (empty cache): one error line, exit 1, nothing cached', () => {
  it.each(cases('ISSUER').map((each) => [each.name] as const))('%s', async (name) => {
    const fault = cases(idp.issuer).find((each) => each.name === name);
    if (fault === undefined) throw new Error(name);
    faults = fault.faults ?? [];
    forgeIdToken = fault.forge;
    const result = await run(args(idp.issuer));
    expectOneLineFailure(result, { error: fault.error, hint: fault.hint });
    if (fault.faults !== undefined) expect(faulted.length).toBeGreaterThan(0);
    expect(entryFiles(cacheDir())).toEqual([]);
  });
});

describe('provider faults during a refresh: one error line, exit 1, the previous entry left byte for byte', () => {
  /** The refresh fails, the browser login it falls back to fails the same way: the login's error is printed. */
  const refreshCases = [
    'the token endpoint answers HTTP 500',
    'the token endpoint answers an HTML page',
    'an id_token from another issuer',
    'an expired id_token',
    'an id_token with alg "none"',
    'an id_token signed by another key under the provider\'s key ID (tampered signature)',
  ];

  it.each(refreshCases.map((name) => [name] as const))('%s', async (name) => {
    const fault = cases(idp.issuer).find((each) => each.name === name);
    if (fault === undefined) throw new Error(name);
    const login = await run(args(idp.issuer));
    expect(login.code, login.stderr).toBe(0);
    const before = onlyEntry(cacheDir());
    faults = fault.faults ?? [];
    forgeIdToken = fault.forge;
    idp.resetCounts();
    const result = await run(args(idp.issuer, ['--force-refresh']));
    expectOneLineFailure(result, { error: fault.error, hint: fault.hint });
    expect(result.stderr).toMatch(/^warning: .+; logging in again$/m);
    expect(idp.counts.requests).toBeGreaterThan(0);
    expect(onlyEntry(cacheDir()).bytes.equals(before.bytes)).toBe(true);
  });

  it('the provider is down (connection refused): the refresh and the login fail, the entry stays', async () => {
    const doomed = await startIdentityProvider();
    try {
      const login = await run(args(doomed.issuer));
      expect(login.code, login.stderr).toBe(0);
    } finally {
      await doomed.close();
    }
    const before = onlyEntry(cacheDir());
    const result = await run(args(doomed.issuer, ['--force-refresh']));
    expectOneLineFailure(result, {
      error: `could not discover the OpenID provider: cannot reach ${doomed.issuer}: connection refused`,
      hint: 'check your network connection, proxy and the issuer URL',
    });
    expect(result.stderr).toContain(`warning: could not refresh the token: cannot reach ${doomed.issuer}: connection refused; logging in again\n`);
    expect(onlyEntry(cacheDir()).bytes.equals(before.bytes)).toBe(true);
  });

  it('a token signed by another key under a known key ID: the cached keys are refetched once per attempt, never in a loop', async () => {
    expect((await run(args(idp.issuer))).code).toBe(0);
    const before = onlyEntry(cacheDir());
    forgeIdToken = resign((jwt) => jwt, otherKey.privateKey);
    idp.resetCounts();
    const result = await run(args(idp.issuer, ['--force-refresh']));
    expectOneLineFailure(result, { error: 'the provider returned a token that fails verification: signature verification failed' });
    // One refetch for the refresh's token (the cached keys might be outdated), one for the login's.
    expect(idp.counts.jwks).toBe(2);
    expect(onlyEntry(cacheDir()).bytes.equals(before.bytes)).toBe(true);
  });
});

describe('signing key rotation', () => {
  it('a token under a key ID the cached keys do not have: the keys are fetched again once, cached, and the token is accepted', async () => {
    expect((await run(args(idp.issuer))).code).toBe(0);
    const [metadataFile] = readdirSync(cacheDir()).filter((name) => name.startsWith('provider-'));
    const metadataPath = join(cacheDir(), metadataFile ?? '');
    const cached = JSON.parse(readFileSync(metadataPath, 'utf8')) as { jwks: { keys: Array<Record<string, unknown>> } };
    expect(cached.jwks.keys.map((key) => key['kid'])).toEqual([SIGNING_KID]);
    // What the plugin had cached before the provider rotated its keys: only the retired key.
    const retired = { ...(otherKey.publicKey.export({ format: 'jwk' }) as JWK), kid: 'retired-1', alg: 'RS256', use: 'sig' };
    writeFileSync(metadataPath, JSON.stringify({ ...cached, jwks: { keys: [retired] } }));
    idp.resetCounts();
    const refreshed = await run(args(idp.issuer, ['--force-refresh']));
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(decodePayload(parseCredential(refreshed).status.token)['sub']).toBe('alice');
    expect(idp.counts.jwks).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    const after = JSON.parse(readFileSync(metadataPath, 'utf8')) as { jwks: { keys: Array<Record<string, unknown>> } };
    expect(after.jwks.keys.map((key) => key['kid'])).toEqual([SIGNING_KID]);
    // The new keys are cached: the next refresh fetches none.
    idp.resetCounts();
    const again = await run(args(idp.issuer, ['--force-refresh']));
    expect(again.code, again.stderr).toBe(0);
    expect(idp.counts.jwks).toBe(0);
    expect(idp.counts.requests).toBe(1);
  });
});

describe('a provider too slow to answer (started with the first test: each run takes the full 30 s)', () => {
  const TIMEOUT_HINT = 'check your network connection, proxy (HTTPS_PROXY) and the issuer URL';

  it('no answer at all: the request is given up after 30 s, one error line, nothing cached', async () => {
    const { issuer, result } = await (slow.silent as Promise<SlowRun>);
    expectOneLineFailure(result, { error: `could not discover the OpenID provider: ${issuer} did not answer within 30 s`, hint: TIMEOUT_HINT });
    expect(result.durationMs).toBeGreaterThan(29_000);
    expect(result.durationMs).toBeLessThan(35_000);
    expect(entryFiles(join(tools.path, 'silent-cache'))).toEqual([]);
  });

  it('headers, then a body that never ends: the same 30 s cover the body, the same error line', async () => {
    const { issuer, result } = await (slow.stalledBody as Promise<SlowRun>);
    expectOneLineFailure(result, { error: `could not discover the OpenID provider: ${issuer} did not answer within 30 s`, hint: TIMEOUT_HINT });
    expect(result.durationMs).toBeGreaterThan(29_000);
    expect(result.durationMs).toBeLessThan(35_000);
    expect(entryFiles(join(tools.path, 'stalled-cache'))).toEqual([]);
  });
});
