/**
 * --token-cache-storage=keyring against a real Secret Service: gnome-keyring-daemon on a private D-Bus session bus
 * (test/support/secret-service.ts), the built plugin as kubectl runs it, and the oidc-provider test IdP. The items
 * are read back with @napi-rs/keyring in a helper process on the same bus. On Linux a missing dbus-daemon or
 * gnome-keyring-daemon fails the file (CI installs them); other platforms skip it.
 *
 * The fallback decisions (refused as too large, read order) are unit-tested in test/unit/keyring-store.test.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/build-tools.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, decodePayload, parseCredential, runPlugin, type PluginRun } from '../support/plugin.js';
import { keyringCall, keyringItems, requirePrograms, startSecretService, startSessionBus, type SecretService, type SessionBus } from '../support/secret-service.js';

const SERVICE = 'kubectl-oidc-login';
const ENTRY_NAME = /^[0-9a-f]{32}$/;

describe.skipIf(process.platform !== 'linux')('--token-cache-storage=keyring with gnome-keyring on a private D-Bus', () => {
  const idp = useIdentityProvider({ idTokenTtlSec: 600 });
  const temp = useTempDir();
  let root: string;
  let secrets: SecretService;
  /** A second bus on which no Secret Service runs. */
  let bare: SessionBus;

  beforeAll(async () => {
    requirePrograms('dbus-daemon', 'gnome-keyring-daemon');
    // Short paths: a unix socket path is limited to 108 bytes.
    root = mkdtempSync(join(tmpdir(), 'kr-'));
    secrets = await startSecretService(join(root, 'secrets'));
    bare = await startSessionBus(join(root, 'bare'));
  }, 40_000);
  afterAll(async () => {
    await secrets?.stop();
    await bare?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    // Each test starts from an empty keyring (deleted by the helper, not by clean, which is under test).
    for (const account of keyringItems(secrets.env, SERVICE).keys()) {
      const deleted = keyringCall(secrets.env, { op: 'delete', service: SERVICE, account });
      if (!deleted.ok) throw new Error(`could not empty the keyring: ${deleted.error}`);
    }
  });

  const cacheDir = (): string => join(temp.path, 'cache');
  function args(extra: string[] = []): string[] {
    return [
      'get-token',
      `--oidc-issuer-url=${idp.issuer}`,
      `--oidc-client-id=${idp.clientId}`,
      '--oidc-extra-scope=email,groups,offline_access',
      `--token-cache-dir=${cacheDir()}`,
      '--token-cache-storage=keyring',
      '--listen-address=127.0.0.1:0',
      `--browser-command=${FAKE_BROWSER}`,
      ...extra,
    ];
  }
  /** Runs with the Secret Service's bus, or with none at all ('none'), or with the bus that has no Secret Service. */
  function run(argv: string[], bus: 'secrets' | 'none' | 'bare' = 'secrets', extraEnv: Record<string, string> = {}): Promise<PluginRun> {
    const env =
      bus === 'secrets'
        ? secrets.env
        : bus === 'bare'
          ? { DBUS_SESSION_BUS_ADDRESS: bare.address, HOME: secrets.home }
          : // No session bus at all: nothing to connect to (XDG_RUNTIME_DIR/bus would be one).
            { DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: undefined, HOME: secrets.home };
    return runPlugin(argv, { env: { ...env, ...extraEnv } as Record<string, string | undefined> });
  }
  const warnings = (done: PluginRun): string[] => done.stderr.split('\n').filter((line) => line.startsWith('warning:'));
  const entryFiles = (): string[] => (existsSync(cacheDir()) ? readdirSync(cacheDir()).filter((name) => ENTRY_NAME.test(name)) : []);
  function items(): Map<string, Record<string, unknown>> {
    return new Map([...keyringItems(secrets.env, SERVICE)].map(([account, secret]) => [account, JSON.parse(secret) as Record<string, unknown>]));
  }
  function onlyItem(): { key: string; json: Record<string, unknown> } {
    const all = [...items()];
    expect(all).toHaveLength(1);
    const [key, json] = all[0] ?? ['', {}];
    return { key, json };
  }

  it('a login stores the entry in the keyring (service kubectl-oidc-login, account = cache key, the disk JSON) and no entry file; the next run is served from the keyring with no request to the provider', async () => {
    const first = await run(args());
    expect(first.code, first.stderr).toBe(0);
    expect(warnings(first)).toEqual([]);
    const token = parseCredential(first).status.token;
    expect(idp.counts.authorizations).toBe(1);

    const { key, json } = onlyItem();
    expect(key).toMatch(ENTRY_NAME);
    expect(json).toMatchObject({ format: 'kubectl-oidc-login/v1', key, issuer: idp.issuer, client_id: idp.clientId, scopes: ['email', 'groups', 'offline_access'], id_token: token });
    expect(typeof json['refresh_token']).toBe('string');
    // No entry file: only the marker that records the key is in the keyring (the lock is gone once released).
    expect(entryFiles()).toEqual([]);
    expect(readdirSync(cacheDir()).filter((name) => name.startsWith(key))).toEqual([`${key}.keyring`]);
    expect(readFileSync(join(cacheDir(), `${key}.keyring`), 'utf8')).not.toContain(token);
    // kubelogin's service is untouched.
    expect(keyringItems(secrets.env, 'kubelogin').size).toBe(0);

    idp.resetCounts();
    const second = await run(args());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toBe('');
    expect(parseCredential(second).status.token).toBe(token);
    expect(idp.counts.requests).toBe(0);
  });

  it('a refresh replaces the keyring entry (new tokens, later saved_at), still with no entry file', async () => {
    expect((await run(args())).code).toBe(0);
    const before = onlyItem().json;
    idp.resetCounts();
    const refreshed = await run(args(['--force-refresh']));
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(idp.counts.authorizations).toBe(0);
    const after = onlyItem().json;
    const token = parseCredential(refreshed).status.token;
    expect(after['id_token']).toBe(token);
    expect(after['access_token']).not.toBe(before['access_token']);
    expect(Date.parse(String(after['saved_at']))).toBeGreaterThan(Date.parse(String(before['saved_at'])));
    expect(entryFiles()).toEqual([]);
    // The refreshed token is what the next run prints, without a request.
    idp.resetCounts();
    const hit = await run(args());
    expect(parseCredential(hit).status.token).toBe(token);
    expect(idp.counts.requests).toBe(0);
  });

  it('8 parallel cold invocations log in once (the lock file in the cache directory), and all print the token stored in the keyring', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => run(args())));
    for (const each of runs) expect(each.code, each.stderr).toBe(0);
    const tokens = new Set(runs.map((each) => parseCredential(each).status.token));
    expect(tokens.size).toBe(1);
    expect(idp.counts.authorizations).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
    expect(onlyItem().json['id_token']).toBe([...tokens][0]);
    expect(entryFiles()).toEqual([]);
  });

  it('status lists the keyring entry (storage keyring, no token value), and clean deletes it from the keyring and the marker from the cache directory', async () => {
    const login = await run(args());
    expect(login.code, login.stderr).toBe(0);
    const token = parseCredential(login).status.token;
    const { key, json } = onlyItem();

    const status = await run(['status', `--token-cache-dir=${cacheDir()}`, '--output=json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({
      entries: [{ key, storage: 'keyring', file: `keyring:${SERVICE}/${key}`, issuer: idp.issuer, subject: decodePayload(token)['sub'], refreshToken: true, expired: false }],
      unreadable: [],
    });
    expect(status.stdout).not.toContain(token);
    expect(status.stdout).not.toContain(String(json['refresh_token']));

    const clean = await run(['clean', `--token-cache-dir=${cacheDir()}`]);
    expect(clean.code, clean.stderr).toBe(0);
    // The files: the marker and the provider metadata.
    expect(clean.stderr).toBe(`Deleted the token cache from ${cacheDir()} (2 files)\nDeleted 1 cached token from the keyring (service ${SERVICE})\n`);
    expect(items().size).toBe(0);
    expect(existsSync(cacheDir())).toBe(false);
    // The next get-token logs in again.
    idp.resetCounts();
    expect((await run(args())).code).toBe(0);
    expect(idp.counts.authorizations).toBe(1);
  });

  it('clean with --oidc-client-id and --revoke revokes the keyring entry\'s refresh token at the provider and deletes only that item', async () => {
    expect((await run(args())).code).toBe(0);
    const { json } = onlyItem();
    const clean = await run(['clean', `--token-cache-dir=${cacheDir()}`, `--oidc-client-id=${idp.clientId}`, '--revoke']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toBe(`Revoked the refresh token of ${idp.issuer} (client ${idp.clientId})\nDeleted 1 cached token (${idp.issuer}, client ${idp.clientId}) from the keyring (service ${SERVICE})\n`);
    expect(items().size).toBe(0);
    // The provider no longer honours the refresh token.
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: String(json['refresh_token']), client_id: idp.clientId }),
    });
    expect(response.status).toBe(400);
  });

  it('without a D-Bus session the command succeeds with one warning and writes the disk entry, which the next run uses; a later run with the keyring moves the entry into it', async () => {
    const first = await run(args(), 'none');
    expect(first.code, first.stderr).toBe(0);
    const [file] = entryFiles();
    expect(file).toMatch(ENTRY_NAME);
    expect(warnings(first)).toEqual([expect.stringMatching(new RegExp(`^warning: could not store the token in the keyring \\(.*DBUS_SESSION_BUS_ADDRESS.*\\); it is cached in ${join(cacheDir(), file ?? '')} instead$`))]);
    const token = parseCredential(first).status.token;
    expect(JSON.parse(readFileSync(join(cacheDir(), file ?? ''), 'utf8'))).toMatchObject({ id_token: token });
    expect(existsSync(join(cacheDir(), `${file}.keyring`))).toBe(false);

    // The keyring is still unavailable: the disk entry answers, silently, with no request.
    idp.resetCounts();
    const second = await run(args(), 'none');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toBe('');
    expect(parseCredential(second).status.token).toBe(token);
    expect(idp.counts.requests).toBe(0);

    // With the keyring back, the disk entry is read (the keyring has none), and the refresh writes into the keyring and deletes the file.
    idp.resetCounts();
    const moved = await run(args(['--force-refresh']));
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr).toBe('');
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(entryFiles()).toEqual([]);
    expect(onlyItem().json['id_token']).toBe(parseCredential(moved).status.token);
  });

  it('on a bus without a Secret Service the same: a warning, the disk entry; status and clean without the keyring name the entries it holds and clean exits 1, keeping their markers', async () => {
    const bare = await run(args(), 'bare');
    expect(bare.code, bare.stderr).toBe(0);
    expect(warnings(bare)).toEqual([expect.stringMatching(/^warning: could not store the token in the keyring \(.*org\.freedesktop\.secrets.*\); it is cached in .+ instead$/)]);
    expect(entryFiles()).toHaveLength(1);
    expect(items().size).toBe(0);

    // Now an entry in the keyring, from another client (its own cache key).
    const other = await run([...args(), '--oidc-extra-scope=profile']);
    expect(other.code, other.stderr).toBe(0);
    const { key } = onlyItem();

    const status = await run(['status', `--token-cache-dir=${cacheDir()}`, '--output=json'], 'none');
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { entries: Array<{ storage: string }>; unreadable: Array<{ file: string; problem: string }> };
    expect(report.entries.map((entry) => entry.storage)).toEqual(['disk']);
    expect(report.unreadable).toEqual([{ file: `keyring:${SERVICE}/${key}`, problem: expect.stringMatching(/^the keyring cannot be read: /) }]);

    const failed = await run(['clean', `--token-cache-dir=${cacheDir()}`], 'none');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`^error: could not clean the keyring, which holds 1 cached token from ${cacheDir()}: .+\\nhint: run the command again where the keyring can be used`));
    // The disk entry and the provider metadata; the marker stays.
    expect(failed.stderr).toContain(`Deleted the token cache from ${cacheDir()} (2 files)\n`);
    expect(readdirSync(cacheDir())).toEqual([`${key}.keyring`]);
    expect(items().size).toBe(1);

    const cleaned = await run(['clean', `--token-cache-dir=${cacheDir()}`]);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    expect(items().size).toBe(0);
    expect(existsSync(cacheDir())).toBe(false);
  });

  it('the programmatic API (dist/api/index.cjs, tokenCacheStorage: "keyring") stores the same item, the CLI is then served from it, and the process exits by itself', async () => {
    const script = join(temp.path, 'api.cjs');
    writeFileSync(
      script,
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', 'api', 'index.cjs'))}).getToken(${JSON.stringify({
        issuerUrl: idp.issuer,
        clientId: idp.clientId,
        grantType: 'password',
        username: 'alice',
        password: 'alice-pw',
        tokenCacheDir: cacheDir(),
        tokenCacheStorage: 'keyring',
      })}).then((result) => process.stdout.write(JSON.stringify({ token: result.token, source: result.source })), (error) => { process.stderr.write(String(error)); process.exitCode = 1; });`,
    );
    // Asynchronously: the provider answers from this process. execFile rejects on a non-zero exit or the timeout.
    const api = await promisify(execFile)(process.execPath, [script], { env: { ...process.env, ...secrets.env }, timeout: 20_000 });
    const result = JSON.parse(api.stdout) as { token: string; source: string };
    expect(result.source).toBe('login');
    expect(onlyItem().json['id_token']).toBe(result.token);
    expect(entryFiles()).toEqual([]);
    idp.resetCounts();
    const cli = await run(['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--grant-type=password', '--username=alice', '--password=alice-pw', `--token-cache-dir=${cacheDir()}`, '--token-cache-storage=keyring']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(parseCredential(cli).status.token).toBe(result.token);
    expect(idp.counts.requests).toBe(0);
  });

  it('loads the native keyring module only for keyring storage: never on a disk cache hit or a disk login; the hit bundle does not contain it', async () => {
    expect(readFileSync(join(REPO_ROOT, 'dist', 'hit.cjs'), 'utf8')).not.toContain('napi-rs');
    // External (resolved from node_modules at run time), and required lazily, not import()ed (scripts/build.mjs).
    expect(readFileSync(join(REPO_ROOT, 'dist', 'cli.cjs'), 'utf8')).toContain('require("@napi-rs/keyring")');
    expect(readFileSync(join(REPO_ROOT, 'dist', 'cli.cjs'), 'utf8')).not.toContain('import("@napi-rs/keyring")');
    const record = join(temp.path, 'loaded.json');
    const preload = join(temp.path, 'record.cjs');
    // The modules the plugin's process loaded (the fake browser is a process of its own).
    writeFileSync(preload, `if (/kubectl-oidc_login/.test(process.argv[1])) process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(Object.keys(require.cache))));`);
    const loaded = async (argv: string[]): Promise<boolean> => {
      rmSync(record, { force: true });
      const done = await run(argv, 'secrets', { NODE_OPTIONS: `--require ${preload}` });
      expect(done.code, done.stderr).toBe(0);
      const modules = JSON.parse(readFileSync(record, 'utf8')) as string[];
      expect(modules.some((path) => path.endsWith('kubectl-oidc_login.cjs'))).toBe(true);
      return modules.some((path) => path.includes('@napi-rs'));
    };
    const disk = args().filter((arg) => arg !== '--token-cache-storage=keyring');
    expect(await loaded(disk)).toBe(false); // a login through the full CLI
    expect(await loaded(disk)).toBe(false); // a cache hit
    expect(await loaded(args())).toBe(true);
  });
});
