/**
 * get-token end to end against a real oidc-provider on 127.0.0.1: the built binary runs as a child process,
 * the fake browser (an HTTP client) is its --browser-command, and every request is counted at the provider.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/core/cache-key.js';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, decodePayload, parseCredential, readBrowserLog, runPlugin } from '../support/plugin.js';

const V1_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}';

const idp = useIdentityProvider();
const temp = useTempDir();
let cacheDir: string;
beforeEach(() => {
  cacheDir = join(temp.path, 'cache');
});

function args(provider: TestIdp, extra: string[] = [], dir = cacheDir): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${provider.issuer}`,
    `--oidc-client-id=${provider.clientId}`,
    '--oidc-extra-scope=email,groups',
    `--token-cache-dir=${dir}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${FAKE_BROWSER}`,
    ...extra,
  ];
}

function cacheFiles(dir = cacheDir): string[] {
  try {
    return readdirSync(dir).filter((name) => /^[0-9a-f]{32}$/.test(name));
  } catch {
    return [];
  }
}

/** Rewrites the one cache entry with some fields changed. */
function changeCachedEntry(change: Record<string, unknown>): void {
  const [file] = cacheFiles();
  const path = join(cacheDir, file ?? '');
  writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>), ...change }));
}

describe('get-token with the browser login', () => {
  it('logs in, prints one ExecCredential line, and caches the tokens privately', async () => {
    const run = await runPlugin(args(idp));
    expect(run.code, run.stderr).toBe(0);
    const credential = parseCredential(run);
    expect(credential.kind).toBe('ExecCredential');
    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(credential.spec).toEqual({ interactive: false });
    const claims = decodePayload(credential.status.token);
    expect(claims).toMatchObject({ iss: idp.issuer, aud: 'kubectl', sub: 'alice', email: 'alice@example.com', groups: ['dev', 'ops'] });
    // Reported expiry = exp minus the 60 s margin.
    expect(Date.parse(credential.status.expirationTimestamp) / 1000).toBe((claims['exp'] as number) - 60);
    expect(idp.counts.authorizations).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
    // The URL is always printed; no token ever reaches stderr.
    expect(run.stderr).toContain('Please visit the following URL in your browser: ');
    expect(run.stderr).not.toContain(credential.status.token);
    const [file] = cacheFiles();
    expect(file).toBeDefined();
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(cacheDir, file ?? '')).mode & 0o777).toBe(0o600);
    const entry = JSON.parse(readFileSync(join(cacheDir, file ?? ''), 'utf8')) as Record<string, unknown>;
    expect(entry).toMatchObject({ format: 'kubectl-oidc-login/v1', issuer: idp.issuer, client_id: 'kubectl', scopes: ['email', 'groups'], id_token: credential.status.token });
    expect(typeof entry['refresh_token']).toBe('string');
  });

  it('serves the cached token without any request to the provider, echoing the exec apiVersion', async () => {
    const first = parseCredential(await runPlugin(args(idp)));
    idp.resetCounts();
    const run = await runPlugin(args(idp), { env: { KUBERNETES_EXEC_INFO: V1_INFO } });
    expect(run.code, run.stderr).toBe(0);
    const credential = parseCredential(run);
    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(credential.status.token).toBe(first.status.token);
    expect(idp.counts.requests).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('answers a callback with a wrong state with HTTP 400, never redeems its code, and waits for the right one', async () => {
    const browserLog = join(temp.path, 'browser.log');
    const run = await runPlugin(args(idp), { env: { FAKE_BROWSER_FORGE_STATE: '1', FAKE_BROWSER_LOG: browserLog } });
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(readBrowserLog(browserLog)).toEqual([expect.objectContaining({ forgedStatus: 400, status: 200 })]);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
    expect(run.stderr).toContain('ignored a callback with a wrong state parameter');
  });

  it('ends the login with the provider error and description, and caches nothing', async () => {
    // prompt=none without a session at the provider: it answers error=login_required on the callback.
    const run = await runPlugin(args(idp, ['--oidc-auth-request-extra-params=prompt=none']));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/error: authorization error from the provider: login_required \(.+\)/);
    expect(idp.counts.tokenRequests).toEqual({});
    expect(cacheFiles()).toEqual([]);
  });

  it('sends PKCE S256 by default even when discovery does not advertise it', async () => {
    const quiet = await startIdentityProvider({ advertisePkce: false });
    try {
      const discovery = (await (await fetch(`${quiet.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(discovery['code_challenge_methods_supported']).toBeUndefined();
      const run = await runPlugin(args(quiet));
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/code_challenge_method=S256/);
      // The provider requires PKCE: with it disabled the same login fails, so the default really sent it.
      const without = await runPlugin(args(quiet, ['--oidc-pkce-method=no', '--authentication-timeout-sec=5'], join(temp.path, 'other')));
      expect(without.code).toBe(1);
      expect(without.stderr).toMatch(/error: authorization error from the provider: invalid_request/);
    } finally {
      await quiet.close();
    }
  });

  it('authenticates a confidential client with its secret', async () => {
    const run = await runPlugin([...args(idp).filter((arg) => !arg.startsWith('--oidc-client-id')), `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`, `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(decodePayload(parseCredential(run).status.token)['aud']).toBe(CONFIDENTIAL_CLIENT_ID);
    const wrong = await runPlugin([...args(idp, [], join(temp.path, 'wrong')).filter((arg) => !arg.startsWith('--oidc-client-id')), `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`, '--oidc-client-secret=wrong']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/error: the token request failed: invalid_client/);
    expect(wrong.stderr).toContain('hint: check --oidc-client-id and --oidc-client-secret');
  });

  it('returns the access token with --oidc-use-access-token, in a cache entry of its own', async () => {
    const jwtIdp = await startIdentityProvider({ accessTokenFormat: 'jwt' });
    try {
      const idTokenRun = await runPlugin(args(jwtIdp));
      const accessRun = await runPlugin(args(jwtIdp, ['--oidc-use-access-token']));
      expect(accessRun.code, accessRun.stderr).toBe(0);
      const token = parseCredential(accessRun).status.token;
      expect(decodePayload(token)).toMatchObject({ aud: 'kubernetes', sub: 'alice' });
      expect(token).not.toBe(parseCredential(idTokenRun).status.token);
      expect(cacheFiles()).toHaveLength(2);
      expect(jwtIdp.counts.authorizations).toBe(2);
    } finally {
      await jwtIdp.close();
    }
  });

  it('with --token-cache-storage=none writes nothing and logs in every time', async () => {
    for (let i = 0; i < 2; i++) expect((await runPlugin(args(idp, ['--token-cache-storage=none']))).code).toBe(0);
    expect(idp.counts.authorizations).toBe(2);
    expect(() => readdirSync(cacheDir)).toThrow();
  });
});

describe('get-token with a cached token', () => {
  let shortIdp: TestIdp;
  beforeAll(async () => {
    shortIdp = await startIdentityProvider({ idTokenTtlSec: 2 });
  });
  afterAll(async () => {
    await shortIdp.close();
  });
  beforeEach(() => shortIdp.resetCounts());

  const waitForExpiry = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1100));

  it('refreshes an expired token with one request to the provider (discovery and keys cached)', async () => {
    const first = parseCredential(await runPlugin(args(shortIdp)));
    await waitForExpiry();
    shortIdp.resetCounts();
    const run = await runPlugin(args(shortIdp));
    expect(run.code, run.stderr).toBe(0);
    expect(parseCredential(run).status.token).not.toBe(first.status.token);
    expect(shortIdp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(shortIdp.counts.requests).toBe(1);
  });

  it('refreshes a valid token with --force-refresh', async () => {
    await runPlugin(args(idp));
    idp.resetCounts();
    const run = await runPlugin(args(idp, ['--force-refresh']));
    expect(run.code, run.stderr).toBe(0);
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(idp.counts.authorizations).toBe(0);
  });

  it('says why a refresh failed, then logs in with the browser', async () => {
    await runPlugin(args(shortIdp));
    changeCachedEntry({ refresh_token: 'revoked-or-unknown' });
    await waitForExpiry();
    shortIdp.resetCounts();
    const run = await runPlugin(args(shortIdp));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^warning: could not refresh the token: invalid_grant .*; logging in again$/m);
    expect(shortIdp.counts.authorizations).toBe(1);
  });

  it('logs in again when the token expired and there is no refresh token', async () => {
    await runPlugin(args(shortIdp));
    changeCachedEntry({ refresh_token: undefined });
    await waitForExpiry();
    shortIdp.resetCounts();
    const run = await runPlugin(args(shortIdp, ['-v1']));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the cached token has expired and there is no refresh token');
    expect(shortIdp.counts.authorizations).toBe(1);
    expect(shortIdp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  });

  it('treats a corrupt cache entry as a miss (reported at -v1) and replaces it', async () => {
    const flags = parseGetTokenFlags({ 'oidc-issuer-url': idp.issuer, 'oidc-client-id': 'kubectl', 'oidc-extra-scope': ['email,groups'], 'token-cache-dir': cacheDir }, {});
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const path = join(cacheDir, cacheKey(flags.provider));
    writeFileSync(path, '{"format":"kubectl-oidc-login/v1","id_token":', { mode: 0o600 });
    const quiet = await runPlugin(args(idp));
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('not a valid cache entry');
    writeFileSync(path, 'garbage');
    const verbose = await runPlugin(args(idp, ['-v1']));
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stderr).toContain(`ignoring the cache entry: ${path} is not a valid cache entry: not valid JSON`);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ format: 'kubectl-oidc-login/v1', id_token: parseCredential(verbose).status.token });
  });

  it('still prints the token, with a warning, when the cache cannot be written', async () => {
    const flags = parseGetTokenFlags({ 'oidc-issuer-url': idp.issuer, 'oidc-client-id': 'kubectl', 'oidc-extra-scope': ['email,groups'], 'token-cache-dir': cacheDir }, {});
    // A directory where the entry should go: the rename onto it fails.
    mkdirSync(join(cacheDir, cacheKey(flags.provider)), { recursive: true });
    const run = await runPlugin(args(idp));
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(run.stderr).toMatch(/^warning: could not write the token cache .*; the token is not cached$/m);
  });
});
