/**
 * Self-check of the test support: the oidc-provider IdP, the fake browser (in-process and as a
 * bundled CLI), the kube-apiserver emulator and the kubeconfig writer, including real kubectl.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../support/api-server.js';
import type { TestApiServer } from '../support/api-server.js';
import { buildTestTools } from '../support/build-tools.js';
import { browse } from '../support/fake-browser.js';
import { startIdentityProvider } from '../support/identity-provider.js';
import type { IdpOptions, TestIdp } from '../support/identity-provider.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { makeTestTls } from '../support/tls.js';
import type { TestTls } from '../support/tls.js';

const execFileAsync = promisify(execFile);
const SCOPE = 'openid email groups profile offline_access';

let tmp: string;
let tls: TestTls;
let callback: Server;
let callbackPort: number;
const callbackHits: string[] = [];

async function withIdp<T>(options: IdpOptions, fn: (idp: TestIdp) => Promise<T>): Promise<T> {
  const idp = await startIdentityProvider(options);
  try {
    return await fn(idp);
  } finally {
    await idp.close();
  }
}

/** Discovery + authorization code with PKCE driven by the fake browser; returns tokens and config. */
async function login(idp: TestIdp, redirectPath = '/callback') {
  const config = await client.discovery(new URL(idp.issuer), idp.clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const redirectUri = `http://localhost:${callbackPort}${redirectPath}`;
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const page = await browse(url.href);
  expect(page.status).toBe(200);
  expect(page.finalUrl.startsWith(`${redirectUri}?`)).toBe(true);
  const tokens = await client.authorizationCodeGrant(config, new URL(page.finalUrl), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { config, tokens };
}

function postSelfSubjectReview(api: TestApiServer, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${api.url}/apis/authentication.k8s.io/v1/selfsubjectreviews`,
      {
        method: 'POST',
        ca: api.tls.caPem,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1' }));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'support-test-'));
  tls = await makeTestTls(join(tmp, 'tls'));
  callback = createServer((req, res) => {
    callbackHits.push(req.url ?? '');
    res.setHeader('Content-Type', 'text/html');
    res.end('<!DOCTYPE html><html><body><p>You are logged in.</p></body></html>');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  callbackPort = (callback.address() as AddressInfo).port;
});

afterAll(async () => {
  callback?.closeAllConnections();
  await new Promise<void>((resolve) => (callback ? callback.close(() => resolve()) : resolve()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('test identity provider', () => {
  it('runs authorization code + PKCE through the fake browser, then refreshes, and counts', async () => {
    await withIdp({}, async (idp) => {
      expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const { config, tokens } = await login(idp);
      const claims = tokens.claims();
      expect(claims).toMatchObject({
        iss: idp.issuer,
        sub: 'alice',
        aud: 'kubectl',
        email: 'alice@example.com',
        email_verified: true,
        groups: ['dev', 'ops'],
        name: 'Alice',
      });
      expect(decodeProtectedHeader(tokens.id_token ?? '').alg).toBe('RS256');
      expect(tokens.refresh_token).toBeTruthy();
      expect(config.serverMetadata().code_challenge_methods_supported).toEqual(['S256']);

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      expect(refreshed.claims()?.groups).toEqual(['dev', 'ops']);
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token); // rotation for public clients

      // Reusing the rotated refresh token fails (and revokes the grant).
      await expect(client.refreshTokenGrant(config, tokens.refresh_token ?? '')).rejects.toMatchObject({
        error: 'invalid_grant',
      });

      expect(idp.counts).toMatchObject({
        discovery: 1,
        jwks: 0,
        authorizations: 1,
        logins: 1,
        tokenRequests: { authorization_code: 1, refresh_token: 2 },
        tokenErrors: { invalid_grant: 1 },
      });
      expect(idp.events.find((e) => e.grantType === 'refresh_token' && e.error === 'invalid_grant')).toBeTruthy();
      idp.resetCounts();
      expect(idp.counts.requests).toBe(0);
      expect(idp.serverErrors).toEqual([]);
    });
  });

  it('accepts a path-less loopback redirect URI on any port (http://localhost:<port>)', async () => {
    await withIdp({ autoLogin: 'alice' }, async (idp) => {
      const verifier = client.randomPKCECodeVerifier();
      const redirectUri = `http://localhost:${callbackPort}`;
      const auth = new URL(`${idp.issuer}/auth`);
      auth.search = new URLSearchParams({
        client_id: idp.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: redirectUri,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      const page = await browse(auth.href);
      expect(page.status).toBe(200);
      const code = new URL(page.finalUrl).searchParams.get('code');
      expect(code).toBeTruthy();
      // The token request must repeat the redirect_uri byte for byte (no trailing slash).
      const res = await fetch(`${idp.issuer}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: idp.clientId,
          code: code ?? '',
          redirect_uri: redirectUri,
          code_verifier: verifier,
        }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toHaveProperty('id_token');
    });
  });

  it('hides code_challenge_methods_supported with advertisePkce: false but still requires PKCE', async () => {
    await withIdp({ advertisePkce: false }, async (idp) => {
      const doc = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
        string,
        unknown
      >;
      expect(doc).not.toHaveProperty('code_challenge_methods_supported');
      expect(doc.issuer).toBe(idp.issuer);

      const { tokens } = await login(idp);
      expect(tokens.claims()?.sub).toBe('alice');

      const noPkce = new URL(`${idp.issuer}/auth`);
      noPkce.search = new URLSearchParams({
        client_id: idp.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
      }).toString();
      const page = await browse(noPkce.href);
      expect(new URL(page.finalUrl).searchParams.get('error')).toBe('invalid_request');
      expect(idp.counts.discovery).toBe(2);
    });
  });

  it('issues JWT access tokens with accessTokenFormat: jwt, and refresh still works', async () => {
    await withIdp({ accessTokenFormat: 'jwt' }, async (idp) => {
      const { config, tokens } = await login(idp);
      const at = decodeJwt(tokens.access_token);
      expect(at).toMatchObject({ iss: idp.issuer, sub: 'alice', aud: 'kubernetes', client_id: 'kubectl' });
      expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      expect(decodeJwt(refreshed.access_token).aud).toBe('kubernetes');
      expect(refreshed.id_token).toBeTruthy();
    });
  });

  it('signs ID tokens with ES256 when asked, and rejects a wrong password with a 401 page', async () => {
    await withIdp({ signingAlg: 'ES256' }, async (idp) => {
      const { tokens } = await login(idp);
      expect(decodeProtectedHeader(tokens.id_token ?? '').alg).toBe('ES256');

      const config = await client.discovery(new URL(idp.issuer), idp.clientId, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const page = await browse(url.href, { password: 'wrong' });
      expect(page.status).toBe(401);
      expect(page.body).not.toContain('googleapis');
    });
  });
});

describe('kube-apiserver emulator', () => {
  let idp: TestIdp;
  let api: TestApiServer;
  let idToken: string;

  beforeAll(async () => {
    idp = await startIdentityProvider();
    api = await startApiServer({ issuer: idp.issuer, audiences: ['kubectl'], groupsClaim: 'groups', tls });
    idToken = (await login(idp)).tokens.id_token ?? '';
  });
  afterAll(async () => {
    await api?.close();
    await idp?.close();
  });

  it('maps a valid ID token to the user (issuer# prefix, groups, credential id)', async () => {
    idp.resetCounts();
    const res = await postSelfSubjectReview(api, idToken);
    expect(res.status).toBe(201);
    expect(res.body.kind).toBe('SelfSubjectReview');
    expect(res.body.status.userInfo).toMatchObject({
      username: `${idp.issuer}#alice`,
      groups: ['dev', 'ops', 'system:authenticated'],
    });
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', authenticated: true });
    expect(api.tokensSeen.at(-1)).toBe(idToken);
    expect(idp.counts.discovery).toBe(1);
    expect(idp.counts.jwks).toBe(1);
  });

  it('answers 401 with a Status for tampered, expired, wrong-audience and foreign tokens', async () => {
    const [header, payload, signature] = idToken.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...decodeJwt(idToken), groups: ['system:masters'] }),
    ).toString('base64url');
    const cases: Record<string, string> = {
      tampered: `${header}.${forged}.${signature}`,
      expired: await idp.mintToken({ exp: Math.floor(Date.now() / 1000) - 1 }),
      noExp: await idp.mintToken({ exp: undefined }),
      wrongAud: await idp.mintToken({ aud: 'someone-else' }),
      wrongIss: await idp.mintToken({ iss: `${idp.issuer}/` }),
      es256NotAllowed: await idp.mintToken({}, { alg: 'ES256' }),
      garbage: 'not-a-jwt',
    };
    expect(payload).toBeTruthy();
    for (const [name, token] of Object.entries(cases)) {
      const res = await postSelfSubjectReview(api, token);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.body).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      });
    }
    const errors = api.requests.slice(-Object.keys(cases).length).map((r) => r.error ?? '');
    expect(errors[0]).toMatch(/signature/);
    expect(errors[1]).toMatch(/expired/);
    expect(errors[2]).toMatch(/expired/);
    expect(errors[3]).toMatch(/audience/);
    expect(errors[4]).toMatch(/issuer/);
    expect(errors[5]).toMatch(/unsupported algorithm/);

    // A minted token that is valid is accepted (jti → credential id).
    const ok = await postSelfSubjectReview(api, await idp.mintToken({ jti: 'abc' }));
    expect(ok.status).toBe(201);
    expect(ok.body.status.userInfo.extra).toEqual({ 'authentication.kubernetes.io/credential-id': ['JTI=abc'] });
  });

  it('applies the email claim rules (no prefix, email_verified must be true) and required claims', async () => {
    const emailApi = await startApiServer({
      issuer: idp.issuer,
      audiences: ['other', 'kubectl'],
      usernameClaim: 'email',
      requiredClaims: { name: 'Alice' },
      tls,
    });
    try {
      expect(await emailApi.authenticate(idToken)).toEqual({
        username: 'alice@example.com',
        groups: ['system:authenticated'],
      });
      await expect(emailApi.authenticate(await idp.mintToken({ email_verified: false }))).rejects.toThrow(
        /email not verified/,
      );
      await expect(emailApi.authenticate(await idp.mintToken({ email_verified: 'true' }))).rejects.toThrow();
      expect((await emailApi.authenticate(await idp.mintToken({ email_verified: undefined }))).username).toBe(
        'alice@example.com',
      );
      await expect(emailApi.authenticate(await idp.mintToken({ name: 'Bob' }))).rejects.toThrow(/required claim/);
    } finally {
      await emailApi.close();
    }
  });

  it('serves kubectl auth whoami with a token kubeconfig', async () => {
    const kubeconfig = join(tmp, 'kubeconfig-token');
    await writeKubeconfig(kubeconfig, { server: api.url, caPath: api.caPath, user: { token: idToken } });
    const { stdout } = await execFileAsync('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'whoami'], {
      env: { ...process.env, KUBECACHEDIR: join(tmp, 'kube-cache') },
      timeout: 20_000,
    });
    expect(stdout).toContain(`${idp.issuer}#alice`);
    expect(stdout).toContain('[dev ops system:authenticated]');
  });

  it('runs an exec plugin from a kubeconfig written by writeKubeconfig', async () => {
    const kubeconfig = join(tmp, 'kubeconfig-exec');
    const script =
      'const i = JSON.parse(process.env.KUBERNETES_EXEC_INFO);' +
      'process.stdout.write(JSON.stringify({ kind: "ExecCredential", apiVersion: i.apiVersion,' +
      ' status: { token: process.env.TEST_TOKEN } }))';
    await writeKubeconfig(kubeconfig, {
      server: api.url,
      caPath: api.caPath,
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: ['-e', script],
          env: { TEST_TOKEN: idToken },
          interactiveMode: 'Never',
        },
      },
    });
    const { stdout } = await execFileAsync('kubectl', ['--kubeconfig', kubeconfig, 'get', '--raw', '/version'], {
      env: { ...process.env, KUBECACHEDIR: join(tmp, 'kube-cache') },
      timeout: 20_000,
    });
    expect(JSON.parse(stdout)).toMatchObject({ gitVersion: 'v1.32.4', major: '1', minor: '32' });
    expect(api.requests.at(-1)).toMatchObject({ path: '/version', authenticated: true });
  });
});

describe('fake browser CLI', () => {
  it('is bundled into an executable that completes a login and logs the result', async () => {
    const { fakeBrowser } = await buildTestTools();
    await withIdp({}, async (idp) => {
      const log = join(tmp, 'browser.log');
      const url = `${idp.issuer}/auth?${new URLSearchParams({
        client_id: idp.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).toString()}`;
      const { stdout, stderr } = await execFileAsync(fakeBrowser, [url], {
        env: { ...process.env, FAKE_BROWSER_LOG: log },
        timeout: 10_000,
      });
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^fake-browser: 200 /);
      const entry = JSON.parse((await readFile(log, 'utf8')).trim()) as Record<string, unknown>;
      expect(entry).toMatchObject({ url, status: 200 });
      expect(String(entry.finalUrl)).toMatch(/\/callback\?code=/);

      // Wrong password → exit code 1.
      await expect(
        execFileAsync(fakeBrowser, [url], { env: { ...process.env, FAKE_BROWSER_PASSWORD: 'nope' }, timeout: 10_000 }),
      ).rejects.toMatchObject({ code: 1 });
    });
  });
});
