/**
 * The programmatic API, as shipped (dist/api, through the package's "exports"), against the real test IdP and
 * the HTTPS API-server emulator: @kubernetes/client-node authenticates with it in-process, and it shares the
 * token cache and the lock with the CLI.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuthenticationV1Api, KubeConfig, type User } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Api from '../../src/api/index.js';
import { startApiServer, type TestApiServer } from '../support/api-server.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin } from '../support/plugin.js';

const run = promisify(execFile);
/** The package as a CommonJS consumer loads it ("exports" → require → dist/api/index.cjs). */
const { getToken, OidcLoginError } = createRequire(join(REPO_ROOT, 'package.json'))('kubectl-oidc-login') as typeof Api;

const idp = useIdentityProvider();
const temp = useTempDir();
let api: TestApiServer;
beforeAll(async () => {
  api = await startApiServer({ issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:' });
});
afterAll(async () => {
  await api.close();
});

const LOGIN_URL = /^Please visit the following URL in your browser: (http:\/\/127\.0\.0\.1:\d+\/\S+)$/;

function cacheDir(): string {
  return join(temp.path, 'cache');
}

function options(extra: Partial<Api.GetTokenOptions> = {}): Api.GetTokenOptions {
  return {
    issuerUrl: idp.issuer,
    clientId: idp.clientId,
    extraScopes: ['email', 'groups', 'offline_access'],
    tokenCacheDir: cacheDir(),
    listenAddresses: ['127.0.0.1:0'],
    browserCommand: FAKE_BROWSER,
    ...extra,
  };
}

/** The same settings as options(), as kubeconfig args. */
function cliArgs(extra: string[] = []): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${idp.issuer}`,
    `--oidc-client-id=${idp.clientId}`,
    '--oidc-extra-scope=email,groups,offline_access',
    `--token-cache-dir=${cacheDir()}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${FAKE_BROWSER}`,
    ...extra,
  ];
}

/** client-node's Authenticator interface (not exported by its index). */
type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/** What a client-node app registers: users with `auth-provider: {name: oidc-login}` get their token from getToken. */
class OidcLoginAuthenticator implements Authenticator {
  private readonly settings: Api.GetTokenOptions;
  constructor(settings: Api.GetTokenOptions) {
    this.settings = settings;
  }
  isAuthProvider(user: User): boolean {
    return (user.authProvider as { name?: string } | undefined)?.name === 'oidc-login';
  }
  async applyAuthentication(_user: User, opts: { headers?: Record<string, unknown> }): Promise<void> {
    const { token } = await getToken(this.settings);
    opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
  }
}

function kubeConfig(settings: Api.GetTokenOptions): KubeConfig {
  const kc = new KubeConfig();
  kc.addAuthenticator(new OidcLoginAuthenticator(settings));
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: api.url, caFile: api.caPath }],
    users: [{ name: 'oidc', authProvider: { name: 'oidc-login', config: {} } }],
    contexts: [{ name: 'test', cluster: 'test', user: 'oidc' }],
    currentContext: 'test',
  });
  return kc;
}

async function whoami(kc: KubeConfig): Promise<{ username?: string; groups?: string[] }> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return { username: review.status?.userInfo?.username, groups: review.status?.userInfo?.groups };
}

function entryFiles(): string[] {
  return readdirSync(cacheDir()).filter((name) => /^[0-9a-f]{32}$/.test(name));
}

describe('getToken with @kubernetes/client-node', () => {
  it('authenticates client-node requests in-process; the login URL reaches onMessage; the next call is a cache hit', async () => {
    const messages: string[] = [];
    const kc = kubeConfig(options({ onMessage: (line) => messages.push(line) }));
    expect(await whoami(kc)).toEqual({ username: 'alice@example.com', groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    expect(idp.counts.authorizations).toBe(1);
    const url = messages.map((line) => LOGIN_URL.exec(line)?.[1]).find((found) => found !== undefined);
    expect(url, messages.join('\n')).toBeDefined();
    expect(url?.startsWith(`${idp.issuer}/`)).toBe(true);

    idp.resetCounts();
    messages.length = 0;
    expect((await whoami(kc)).username).toBe('alice@example.com');
    const again = await getToken(options({ onMessage: (line) => messages.push(line) }));
    expect(again.source).toBe('cache');
    expect(idp.counts.requests).toBe(0);
    expect(messages).toEqual([]);
    expect(api.requests.filter((request) => request.authenticated).length).toBeGreaterThanOrEqual(2);
  });

  it('returns the token, its claims, its expiry and the CLI\'s ExecCredential', async () => {
    const before = Date.now();
    const result = await getToken(options({ onMessage: () => {} }));
    expect(result.source).toBe('login');
    expect(result.claims).toMatchObject({ iss: idp.issuer, aud: idp.clientId, email: 'alice@example.com', groups: ['dev', 'ops'] });
    // exp less the 60 s margin, in whole seconds.
    expect(result.expirationTimestamp.getTime()).toBe((result.claims.exp ?? 0) * 1000 - 60_000);
    expect(result.expirationTimestamp.getTime()).toBeGreaterThan(before);
    expect(result.execCredential()).toEqual({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1',
      spec: { interactive: false },
      status: { token: result.token, expirationTimestamp: result.expirationTimestamp.toISOString().replace('.000Z', 'Z') },
    });
  });
});

describe('getToken and the CLI share the cache and the lock', () => {
  it('a CLI run after the API\'s login is a cache hit, with the same ExecCredential', async () => {
    const fromApi = await getToken(options({ onMessage: () => {} }));
    idp.resetCounts();
    const cli = await runPlugin(cliArgs());
    expect(cli.code, cli.stderr).toBe(0);
    // Without KUBERNETES_EXEC_INFO the CLI answers v1beta1, as kubelogin.
    expect(parseCredential(cli)).toEqual(fromApi.execCredential('client.authentication.k8s.io/v1beta1'));
    expect(idp.counts.requests).toBe(0);
    expect(entryFiles()).toHaveLength(1);
  });

  it('an API call after the CLI\'s login is a cache hit', async () => {
    const cli = await runPlugin(cliArgs());
    expect(cli.code, cli.stderr).toBe(0);
    idp.resetCounts();
    const fromApi = await getToken(options({ onMessage: () => {} }));
    expect(fromApi.source).toBe('cache');
    expect(fromApi.token).toBe(parseCredential(cli).status.token);
    expect(idp.counts.requests).toBe(0);
    expect(entryFiles()).toHaveLength(1);
  });

  it('API calls and CLI processes started together make one login', async () => {
    const [first, second, ...clis] = await Promise.all([
      getToken(options({ onMessage: () => {} })),
      getToken(options({ onMessage: () => {} })),
      runPlugin(cliArgs()),
      runPlugin(cliArgs()),
    ]);
    for (const cli of clis) expect(cli.code, cli.stderr).toBe(0);
    const tokens = new Set([first.token, second.token, ...clis.map((cli) => parseCredential(cli).status.token)]);
    expect(tokens.size).toBe(1);
    expect(idp.counts.authorizations).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  });

  it('a refresh by the API is seen by the CLI', async () => {
    await getToken(options({ onMessage: () => {} }));
    idp.resetCounts();
    const refreshed = await getToken(options({ forceRefresh: true, onMessage: () => {} }));
    expect(refreshed.source).toBe('refresh');
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    const cli = await runPlugin(cliArgs());
    expect(parseCredential(cli).status.token).toBe(refreshed.token);
  });
});

describe('getToken failures', () => {
  it('an abort ends the login at once with ERR_INTERRUPTED; the tab guard then names the option to turn it off', async () => {
    const controller = new AbortController();
    const messages: string[] = [];
    // A "browser" that never logs in: the login waits for its callback.
    const pending = getToken(options({ browserCommand: '/bin/true', signal: controller.signal, onMessage: (line) => {
      messages.push(line);
      if (LOGIN_URL.test(line)) setTimeout(() => controller.abort(new Error('cancelled in the UI')), 100);
    } }));
    const started = Date.now();
    const error = await pending.then(() => undefined, (reason: unknown) => reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(OidcLoginError);
    expect(error).toMatchObject({ code: 'ERR_INTERRUPTED', message: 'aborted by the caller' });

    const refused = await getToken(options({ onMessage: () => {} })).then(() => undefined, (reason: unknown) => reason);
    expect(refused).toMatchObject({ code: 'ERR_BROWSER_COOLDOWN' });
    expect((refused as Api.OidcLoginError).hint).toMatch(/or pass browserRetryCooldownSec=0$/);
    // The lock was let go: the CLI logs in at once.
    const cli = await runPlugin(cliArgs(['--browser-retry-cooldown-sec=0']));
    expect(cli.code, cli.stderr).toBe(0);
  });
});

describe('the package', () => {
  it('type-checks for ESM and CommonJS consumers, and loads through "exports" with import and require', async () => {
    const dir = join(temp.path, 'consumer');
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'kubectl-oidc-login'));
    symlinkSync(join(REPO_ROOT, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
    writeFileSync(join(dir, 'esm.mts'), CONSUMER_ESM);
    writeFileSync(join(dir, 'cjs.cts'), CONSUMER_CJS);
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const strict = ['--noEmit', '--strict', '--exactOptionalPropertyTypes', '--target', 'es2022', '--types', 'node'];
    // Our declarations are checked too (no skipLibCheck) in the first run; the others check the resolution.
    const runs = [
      ['--module', 'nodenext', '--moduleResolution', 'nodenext', 'esm.mts', 'cjs.cts'],
      ['--module', 'node16', '--moduleResolution', 'node16', '--skipLibCheck', 'esm.mts', 'cjs.cts'],
      ['--module', 'preserve', '--moduleResolution', 'bundler', '--skipLibCheck', 'esm.mts'],
    ];
    const results = await Promise.all(runs.map((args) => run(process.execPath, [tsc, ...strict, ...args], { cwd: dir }).catch((error: { stdout: string }) => error)));
    results.forEach((checked, index) => expect(checked.stdout, runs[index]?.join(' ')).toBe(''));
    const loaded = await run(process.execPath, ['--input-type=module', '-e', LOAD_BOTH], { cwd: dir });
    expect(JSON.parse(loaded.stdout)).toEqual({ esm: ['OidcLoginError', 'execCredential', 'getToken'], sameClass: true, code: 'ERR_USAGE' });
  });
});

const CONSUMER_ESM = `
import { getToken, execCredential, OidcLoginError, type GetTokenOptions, type OidcLoginErrorCode, type TokenResult, type ExecCredential } from 'kubectl-oidc-login';
const options: GetTokenOptions = {
  issuerUrl: 'https://issuer.example.com',
  clientId: 'kubernetes',
  extraScopes: ['email', 'groups'],
  requestHeaders: { 'X-Tenant': 'a' },
  authenticationTimeoutSec: 60,
  signal: AbortSignal.timeout(1000),
  onMessage: (line: string) => console.error(line),
};
try {
  const result: TokenResult = await getToken(options);
  const expires: Date = result.expirationTimestamp;
  const groups: string[] | undefined = result.claims.groups;
  const credential: ExecCredential = result.execCredential('client.authentication.k8s.io/v1beta1');
  const source: 'cache' | 'refresh' | 'login' = result.source;
  console.log(expires, groups, credential.status.token, source, execCredential('t', expires).apiVersion);
} catch (error) {
  if (error instanceof OidcLoginError) {
    const code: OidcLoginErrorCode = error.code;
    const hint: string | undefined = error.hint;
    console.log(code === 'ERR_LOGIN_TIMEOUT', hint);
  }
}
// @ts-expect-error an unknown grant type
void getToken({ issuerUrl: 'x', clientId: 'y', grantType: 'implicit' });
// @ts-expect-error clientId is required
void getToken({ issuerUrl: 'x' });
// @ts-expect-error a number where a boolean is expected
void getToken({ issuerUrl: 'x', clientId: 'y', forceRefresh: 1 });
`;

const CONSUMER_CJS = `
import { getToken, OidcLoginError } from 'kubectl-oidc-login';
export async function token(): Promise<string> {
  try {
    return (await getToken({ issuerUrl: 'https://issuer.example.com', clientId: 'kubernetes' })).token;
  } catch (error) {
    throw error instanceof OidcLoginError ? new Error(error.code) : error;
  }
}
`;

const LOAD_BOTH = `
import * as esm from 'kubectl-oidc-login';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('kubectl-oidc-login');
const error = await esm.getToken({ issuerUrl: 'https://issuer.example.com', clientId: '' }).catch((reason) => reason);
console.log(JSON.stringify({ esm: Object.keys(esm).sort(), sameClass: esm.OidcLoginError === cjs.OidcLoginError && error instanceof cjs.OidcLoginError, code: error.code }));
`;
