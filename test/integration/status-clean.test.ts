/**
 * status and clean against real cache files written by real logins (the built plugin, the fake browser, the
 * oidc-provider test IdP). status must never contact a provider; clean --revoke must make the provider
 * reject the refresh token afterwards, and must keep an entry whose revocation failed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/system/log.js';
import { withCacheLock } from '../../src/system/file-lock.js';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, decodePayload, parseCredential, runPlugin, type PluginRun } from '../support/plugin.js';

const idp = useIdentityProvider();
const temp = useTempDir();
let cacheDir: string;
beforeEach(() => {
  cacheDir = join(temp.path, 'cache');
});

interface Login {
  provider: TestIdp;
  clientId: string;
  secret?: string;
  scopes: string;
}

const PUBLIC: () => Login = () => ({ provider: idp, clientId: 'kubectl', scopes: 'email,groups' });
const CONFIDENTIAL: () => Login = () => ({ provider: idp, clientId: CONFIDENTIAL_CLIENT_ID, secret: CONFIDENTIAL_CLIENT_SECRET, scopes: 'email' });

function getTokenArgs(login: Login): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${login.provider.issuer}`,
    `--oidc-client-id=${login.clientId}`,
    ...(login.secret !== undefined ? [`--oidc-client-secret=${login.secret}`] : []),
    `--oidc-extra-scope=${login.scopes}`,
    `--token-cache-dir=${cacheDir}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${FAKE_BROWSER}`,
  ];
}

async function logIn(login: Login): Promise<string> {
  const run = await runPlugin(getTokenArgs(login));
  expect(run.code, run.stderr).toBe(0);
  return parseCredential(run).status.token;
}

interface CachedFile {
  key: string;
  path: string;
  json: Record<string, string | string[] | boolean | undefined>;
}

/** The cache entries on disk. */
function cachedFiles(): CachedFile[] {
  const names = existsSync(cacheDir) ? readdirSync(cacheDir) : [];
  return names
    .filter((name) => /^[0-9a-f]{32}$/.test(name))
    .map((key) => {
      const path = join(cacheDir, key);
      return { key, path, json: JSON.parse(readFileSync(path, 'utf8')) as CachedFile['json'] };
    });
}

/** "issuer client" of each entry on disk, sorted. */
function cachedProviders(): string[] {
  return cachedFiles()
    .map(({ json }) => `${String(json['issuer'])} ${String(json['client_id'])}`)
    .sort();
}

function cached(login: Login): CachedFile {
  const scopes = JSON.stringify(login.scopes.split(','));
  const file = cachedFiles().find(({ json }) => json['issuer'] === login.provider.issuer && json['client_id'] === login.clientId && JSON.stringify(json['scopes']) === scopes);
  if (file === undefined) throw new Error(`no cache entry for ${login.clientId}`);
  return file;
}

function tokenValues(file: CachedFile): string[] {
  return ['id_token', 'access_token', 'refresh_token'].map((name) => file.json[name]).filter((value): value is string => typeof value === 'string');
}

function expectNoTokenValues(run: PluginRun, files: CachedFile[]): void {
  const values = files.flatMap(tokenValues);
  expect(values.length).toBeGreaterThan(0);
  for (const value of values) {
    expect(run.stdout).not.toContain(value);
    expect(run.stderr).not.toContain(value);
  }
}

/** A refresh grant sent by the test itself, as the provider's token endpoint sees any client. */
async function refreshAtProvider(provider: TestIdp, refreshToken: string, client: { id: string; secret?: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const discovery = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
  if (client.secret === undefined) form.set('client_id', client.id);
  else headers['authorization'] = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const response = await fetch(discovery.token_endpoint, { method: 'POST', headers, body: form });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function revocationRequests(provider: TestIdp): Array<{ method: string; status: number | undefined }> {
  return provider.events.filter((event) => event.path === '/token/revocation').map(({ method, status }) => ({ method, status }));
}

describe('status', () => {
  it('lists every entry, as text and as JSON, without any request to the provider and without token values', async () => {
    const publicToken = await logIn(PUBLIC());
    const confidentialToken = await logIn(CONFIDENTIAL());
    const files = [cached(PUBLIC()), cached(CONFIDENTIAL())];
    idp.resetCounts();

    const text = await runPlugin(['status', `--token-cache-dir=${cacheDir}`]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toBe('');
    const publicExp = new Date((decodePayload(publicToken)['exp'] as number) * 1000).toISOString().replace('.000Z', 'Z');
    const [publicFile, confidentialFile] = files as [CachedFile, CachedFile];
    expect(text.stdout).toContain(`Token cache ${cacheDir} (2 entries)\n`);
    expect(text.stdout).toMatch(
      new RegExp(
        [
          `${idp.issuer} \\(client kubectl\\)`,
          '  extra scopes:   email groups',
          '  subject:        alice',
          '  email:          alice@example.com',
          `  id_token:       expires in [45]m( \\d+s)? \\(${publicExp}\\)`,
          '  refresh token:  yes',
          '  storage:        disk, saved \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ',
          `  cache file:     ${publicFile.path}\n`,
        ].join('\n'),
      ),
    );
    expect(text.stdout).toContain(`${idp.issuer} (client kubectl-secret)\n  extra scopes:   email\n`);
    expect(text.stdout).toContain(`  cache file:     ${confidentialFile.path}\n`);
    expectNoTokenValues(text, files);

    const json = await runPlugin(['status', `--token-cache-dir=${cacheDir}`, '--output=json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { cacheDir: string; entries: Array<Record<string, unknown>>; unreadable: unknown[] };
    expect(report.cacheDir).toBe(cacheDir);
    expect(report.unreadable).toEqual([]);
    expect(report.entries).toEqual([
      {
        key: publicFile.key,
        file: publicFile.path,
        issuer: idp.issuer,
        clientId: 'kubectl',
        scopes: ['email', 'groups'],
        tokenType: 'id_token',
        subject: 'alice',
        email: 'alice@example.com',
        expiresAt: publicExp,
        expired: false,
        refreshToken: true,
        storage: 'disk',
        savedAt: publicFile.json['saved_at'],
      },
      expect.objectContaining({
        key: confidentialFile.key,
        clientId: CONFIDENTIAL_CLIENT_ID,
        scopes: ['email'],
        expiresAt: new Date((decodePayload(confidentialToken)['exp'] as number) * 1000).toISOString().replace('.000Z', 'Z'),
        refreshToken: true,
      }),
    ]);
    expectNoTokenValues(json, files);
    expect(idp.counts.requests).toBe(0);
  });

  it('treats a missing directory as an empty cache, and lists a corrupt file as unreadable without failing', async () => {
    const missing = await runPlugin(['status', `--token-cache-dir=${cacheDir}`]);
    expect(missing.code, missing.stderr).toBe(0);
    expect(missing.stdout).toBe(`No cached tokens in ${cacheDir}\n`);
    expect(JSON.parse((await runPlugin(['status', `--token-cache-dir=${cacheDir}`, '-o', 'json'])).stdout)).toEqual({ cacheDir, entries: [], unreadable: [] });

    await logIn(PUBLIC());
    const corrupt = join(cacheDir, '0'.repeat(32));
    writeFileSync(corrupt, '{"format":"kubectl-oidc-login/v1","id_token":');
    writeFileSync(join(cacheDir, 'notes.txt'), 'not a cache file, not listed');
    const text = await runPlugin(['status', `--token-cache-dir=${cacheDir}`]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Token cache ${cacheDir} (1 entry)\n`);
    expect(text.stdout).toContain(`\nUnreadable files (get-token ignores them; "kubectl oidc-login clean" deletes them):\n  ${corrupt}: is not a valid cache entry: not valid JSON\n`);
    expect(text.stdout).not.toContain('notes.txt');
    const json = JSON.parse((await runPlugin(['status', `--token-cache-dir=${cacheDir}`, '--output=json'])).stdout) as { entries: unknown[]; unreadable: unknown[] };
    expect(json.entries).toHaveLength(1);
    expect(json.unreadable).toEqual([{ file: corrupt, problem: 'is not a valid cache entry: not valid JSON' }]);
  });

  it('uses $KUBECACHEDIR/oidc-login by default, as get-token', async () => {
    const run = await runPlugin(['status'], { env: { KUBECACHEDIR: join(temp.path, 'kube') } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`No cached tokens in ${join(temp.path, 'kube', 'oidc-login')}\n`);
  });

  it('filters by exact issuer URL and client ID', async () => {
    await logIn(PUBLIC());
    await logIn(CONFIDENTIAL());
    const byClient = JSON.parse((await runPlugin(['status', `--token-cache-dir=${cacheDir}`, `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`, '-o', 'json'])).stdout) as { entries: Array<{ clientId: string }> };
    expect(byClient.entries.map((entry) => entry.clientId)).toEqual([CONFIDENTIAL_CLIENT_ID]);
    const both = await runPlugin(['status', `--token-cache-dir=${cacheDir}`, `--oidc-issuer-url=${idp.issuer}`, '--oidc-client-id=kubectl']);
    expect(both.stdout.split('\n')[0]).toBe(`Token cache ${cacheDir} (1 entry matching --oidc-issuer-url=${idp.issuer} --oidc-client-id=kubectl; 1 more not shown)`);
    // Exact: the issuer with a trailing slash is another issuer.
    const slash = await runPlugin(['status', `--token-cache-dir=${cacheDir}`, `--oidc-issuer-url=${idp.issuer}/`]);
    expect(slash.code).toBe(0);
    expect(slash.stdout).toBe(`No cached tokens in ${cacheDir} match --oidc-issuer-url=${idp.issuer}/\n`);
  });
});

describe('clean with a filter', () => {
  it('deletes only the matching entry and its lock files; the other is still served from the cache', async () => {
    const publicToken = await logIn(PUBLIC());
    await logIn(CONFIDENTIAL());
    const { key } = cached(CONFIDENTIAL());
    // A lock left by a killed process: the clean takes it over and removes it with the entry.
    const lock = join(cacheDir, `${key}.lock`);
    mkdirSync(lock);
    writeFileSync(`${lock}.owner`, JSON.stringify({ pid: 999_999, since: '2020-01-01T00:00:00Z', purpose: 'getting a token' }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    writeFileSync(join(cacheDir, 'notes.txt'), 'mine');

    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`Deleted 1 cached token (${idp.issuer}, client ${CONFIDENTIAL_CLIENT_ID}) from ${cacheDir}\n`);
    expect(cachedProviders()).toEqual([`${idp.issuer} kubectl`]);
    const left = readdirSync(cacheDir);
    expect(left.filter((name) => name.startsWith(key))).toEqual([]);
    expect(left).toContain('notes.txt');
    expect(left.some((name) => name.startsWith('provider-'))).toBe(true);

    idp.resetCounts();
    const again = await runPlugin(getTokenArgs(PUBLIC()));
    expect(parseCredential(again).status.token).toBe(publicToken);
    expect(idp.counts.requests).toBe(0);
  });

  it('says so when nothing matches, and deletes nothing', async () => {
    await logIn(PUBLIC());
    const before = readdirSync(cacheDir).sort();
    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--oidc-client-id=nobody']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe(`No cached tokens in ${cacheDir} match --oidc-client-id=nobody; nothing was deleted\n`);
    expect(readdirSync(cacheDir).sort()).toEqual(before);
  });

  it('waits for the lock of an entry that a get-token holds, then deletes it', async () => {
    await logIn(PUBLIC());
    const { key, path } = cached(PUBLIC());
    const silent = createLogger(0, () => {});
    let cleanRun: Promise<PluginRun> | undefined;
    let stillThereWhileLocked = false;
    await withCacheLock(cacheDir, key, { log: silent, maxWaitMs: 5_000, purpose: 'a test holding the lock' }, async () => {
      let waiting: () => void = () => {};
      const announced = new Promise<void>((resolve) => (waiting = resolve));
      cleanRun = runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--oidc-client-id=kubectl'], { onStderr: (chunk) => chunk.includes('waiting for') && waiting() });
      await announced;
      stillThereWhileLocked = existsSync(path);
    });
    const run = await (cleanRun as Promise<PluginRun>);
    expect(run.code, run.stderr).toBe(0);
    expect(stillThereWhileLocked).toBe(true);
    expect(run.stderr).toMatch(new RegExp(`^waiting for kubectl-oidc_login \\(pid ${process.pid}, a test holding the lock since .+\\) \\(lock ${join(cacheDir, key)}\\.lock\\)$`, 'm'));
    expect(run.stderr).toContain(`Deleted 1 cached token (${idp.issuer}, client kubectl) from ${cacheDir}`);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses --oidc-client-secret and --oidc-request-header without --revoke', async () => {
    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--oidc-client-secret=s']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: --oidc-client-secret is used only with --revoke\nhint: add --revoke to revoke the refresh tokens at the provider, or drop it\n');
    const both = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--oidc-client-secret=s', '--oidc-request-header=X-A=b']);
    expect(both.stderr).toBe('error: --oidc-client-secret and --oidc-request-header are used only with --revoke\nhint: add --revoke to revoke the refresh tokens at the provider, or drop them\n');
  });
});

describe('clean --revoke', () => {
  it('revokes the refresh token at the provider before deleting the entry (without a filter: the whole cache)', async () => {
    await logIn(PUBLIC());
    const refreshToken = cached(PUBLIC()).json['refresh_token'] as string;
    idp.resetCounts();

    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--revoke']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^Revoked the refresh token of ${idp.issuer} \\(client kubectl\\)\nDeleted the token cache from ${cacheDir} \\(\\d+ files\\)\n$`));
    expect(revocationRequests(idp)).toEqual([{ method: 'POST', status: 200 }]);
    expect(existsSync(cacheDir)).toBe(false);
    expect(run.stderr).not.toContain(refreshToken);

    const refresh = await refreshAtProvider(idp, refreshToken, { id: 'kubectl' });
    expect(refresh.status).toBe(400);
    expect(refresh.body['error']).toBe('invalid_grant');
  });

  it('revokes for a confidential client with --oidc-client-secret, and fails (keeping the entry) without it', async () => {
    await logIn(PUBLIC());
    await logIn(CONFIDENTIAL());
    const confidential = cached(CONFIDENTIAL());
    const refreshToken = confidential.json['refresh_token'] as string;
    const filter = [`--token-cache-dir=${cacheDir}`, '--revoke', `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`];

    const without = await runPlugin(['clean', ...filter]);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(
      new RegExp(`^error: could not revoke the refresh token of ${idp.issuer} \\(client ${CONFIDENTIAL_CLIENT_ID}\\): the revocation request failed: invalid_client .*\\(HTTP 401\\)$`, 'm'),
    );
    expect(without.stderr).toContain('hint: a confidential client must authenticate: pass its secret with --oidc-client-secret; the entry was kept, so the same command can be run again\n');
    expect(without.stderr).toContain(`Kept 1 cached token (${idp.issuer}, client ${CONFIDENTIAL_CLIENT_ID}); run the command again to retry\n`);
    expect(existsSync(confidential.path)).toBe(true);

    idp.resetCounts();
    const withSecret = await runPlugin(['clean', ...filter, `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`]);
    expect(withSecret.code, withSecret.stderr).toBe(0);
    expect(withSecret.stderr).toBe(
      `Revoked the refresh token of ${idp.issuer} (client ${CONFIDENTIAL_CLIENT_ID})\nDeleted 1 cached token (${idp.issuer}, client ${CONFIDENTIAL_CLIENT_ID}) from ${cacheDir}\n`,
    );
    expect(withSecret.stderr).not.toContain(CONFIDENTIAL_CLIENT_SECRET);
    expect(revocationRequests(idp)).toEqual([{ method: 'POST', status: 200 }]);
    expect(existsSync(confidential.path)).toBe(false);
    const refresh = await refreshAtProvider(idp, refreshToken, { id: CONFIDENTIAL_CLIENT_ID, secret: CONFIDENTIAL_CLIENT_SECRET });
    expect(refresh.body['error']).toBe('invalid_grant');

    // The other client's entry was neither revoked nor deleted: its refresh token still works.
    const publicRefresh = cached(PUBLIC()).json['refresh_token'] as string;
    expect((await refreshAtProvider(idp, publicRefresh, { id: 'kubectl' })).status).toBe(200);
  });

  it('keeps an entry whose provider cannot be reached, exits 1 with one error line, and cleans the others', async () => {
    const down = await startIdentityProvider();
    const unreachable: Login = { provider: down, clientId: 'kubectl', scopes: 'email' };
    try {
      await logIn(unreachable);
    } finally {
      await down.close();
    }
    await logIn(PUBLIC());
    const kept = cached(unreachable);
    idp.resetCounts();

    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--revoke']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    const errors = lines.filter((line) => line.startsWith('error: '));
    expect(errors).toEqual([
      `error: could not revoke the refresh token of ${down.issuer} (client kubectl): the revocation request failed: cannot reach ${down.issuer}: connection refused`,
    ]);
    expect(lines[lines.indexOf(errors[0] ?? '') + 1]).toBe(
      'hint: check your network connection, proxy and the issuer URL; the entry was kept, so the same command can be run again',
    );
    expect(run.stderr).toContain(`Revoked the refresh token of ${idp.issuer} (client kubectl)\n`);
    expect(run.stderr).toContain(`Kept 1 cached token (${down.issuer}, client kubectl); run the command again to retry\n`);
    expect(revocationRequests(idp)).toEqual([{ method: 'POST', status: 200 }]);
    // The kept entry is intact (tokens and all) and still listed; the other one is gone.
    expect(cachedProviders()).toEqual([`${down.issuer} kubectl`]);
    expect(readFileSync(kept.path, 'utf8')).toBe(`${JSON.stringify(kept.json)}\n`);
    expectNoTokenValues(run, [kept]);
    const status = await runPlugin(['status', `--token-cache-dir=${cacheDir}`]);
    expect(status.stdout).toContain(`${down.issuer} (client kubectl)`);
  });

  it('deletes without revoking, saying so once per issuer, when the provider has no revocation endpoint', async () => {
    await logIn(PUBLIC());
    await logIn({ ...PUBLIC(), scopes: 'email' });
    const refreshTokens = cachedFiles().map((file) => file.json['refresh_token'] as string);
    expect(refreshTokens).toHaveLength(2);
    // The discovery document cached by get-token, as a provider without RFC 7009 support would publish it.
    const [metadataFile] = readdirSync(cacheDir).filter((name) => name.startsWith('provider-'));
    const metadataPath = join(cacheDir, metadataFile ?? '');
    const metadata = JSON.parse(readFileSync(metadataPath, 'utf8')) as { metadata: Record<string, unknown> };
    delete metadata.metadata['revocation_endpoint'];
    writeFileSync(metadataPath, JSON.stringify(metadata));
    idp.resetCounts();

    const run = await runPlugin(['clean', `--token-cache-dir=${cacheDir}`, '--revoke', `--oidc-issuer-url=${idp.issuer}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe(
      `warning: ${idp.issuer} has no revocation endpoint (none in its discovery document): its cached refresh tokens are deleted without revoking them\n` +
        `Deleted 2 cached tokens (${idp.issuer}, client kubectl; ${idp.issuer}, client kubectl) from ${cacheDir}\n`,
    );
    expect(idp.counts.requests).toBe(0);
    expect(cachedFiles()).toEqual([]);
    // Not revoked: the provider still accepts them.
    expect((await refreshAtProvider(idp, refreshTokens[0] ?? '', { id: 'kubectl' })).status).toBe(200);
  });
});
