/**
 * The standalone executable (scripts/build-sea.mjs, a Node.js single executable application) as a release
 * ships it: built with `--release` into a temporary directory, taken out of its tar.gz, and run by the real
 * kubectl with a PATH that holds no node at all. The browser is this test process: the plugin runs with
 * --skip-open-browser, and the URL it prints (through kubectl's stderr) is opened with the fake browser.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HOLDER_WAIT_MS } from '../../src/system/cache-lock.js';
import { startApiServer, type TestApiServer } from '../support/api-server.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { findOnPath } from '../support/distribution.js';
import { browse } from '../support/fake-browser.js';
import { startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { writeKubeconfig, type ExecUserConfig } from '../support/kubeconfig.js';
import { makeTempDir } from '../support/plugin.js';

const run = promisify(execFile);
const SUPPORTED = process.platform === 'linux' && process.arch === 'x64';
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

let temp: { path: string; remove(): void };
let idp: TestIdp;
let api: TestApiServer;
/** A directory holding only the extracted executable and a link to kubectl: the whole PATH of the runs. */
let pathDir: string;
let out: string;

/** A minimal environment, as on a machine without Node: nothing of this process's but what is named. */
function bareEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: pathDir, HOME: home, KUBECACHEDIR: join(home, 'kube-cache') };
}

/** Runs `kubectl auth whoami` and, when the plugin prints a login URL on stderr, logs in with the fake browser. */
function whoamiWithLogin(kubeconfig: string, home: string): Promise<{ user: { username: string; groups: string[] }; stderr: string; logins: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(pathDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'json'], { env: bareEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let logins = 0;
    const browsing: Array<Promise<unknown>> = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const match of chunk.toString().matchAll(/Please visit the following URL in your browser: (\S+)/g)) {
        logins += 1;
        browsing.push(browse(match[1] ?? '').catch((error: unknown) => reject(error as Error)));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      void Promise.all(browsing).then(() => {
        if (code !== 0) reject(new Error(`kubectl exited ${code}: ${stderr}`));
        else resolve({ user: (JSON.parse(stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo, stderr, logins });
      });
    });
  });
}

describe.skipIf(!SUPPORTED)(`the standalone executable${SUPPORTED ? '' : ` (skipped: the SEA build is written for linux-x64, this is ${process.platform}-${process.arch})`}`, () => {
  beforeAll(async () => {
    temp = makeTempDir('oidc-login-sea-');
    out = join(temp.path, 'out');
    const kubectl = findOnPath('kubectl');
    if (kubectl === undefined) throw new Error('kubectl is not on PATH (.ci/run installs it)');
    await run(process.execPath, [join(REPO_ROOT, 'scripts', 'build-sea.mjs'), '--release', '--out-dir', out, '--uri-template', 'https://example.com/dl/{tag}/{file}'], { timeout: 180_000 });
    pathDir = join(temp.path, 'bin');
    mkdirSync(pathDir);
    await run('tar', ['-xzf', join(out, 'kubectl-oidc_login-linux-amd64.tar.gz'), '-C', pathDir]);
    symlinkSync(kubectl, join(pathDir, 'kubectl'));
    idp = await startIdentityProvider();
    api = await startApiServer({ issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:' });
  }, 240_000);

  afterAll(async () => {
    await api?.close();
    await idp?.close();
    temp?.remove();
  });

  it('runs without node on PATH: --version and version', async () => {
    expect(findOnPath('node', pathDir)).toBeUndefined();
    const home = join(temp.path, 'home-version');
    mkdirSync(home);
    const binary = join(pathDir, 'kubectl-oidc_login');
    const flag = await run(binary, ['--version'], { env: bareEnv(home) });
    expect(`${flag.stdout}${flag.stderr}`).toContain(version);
    const command = await run(binary, ['version'], { env: bareEnv(home) });
    expect(command.stderr).toContain(`kubectl-oidc_login version ${version}`);
    expect(command.stderr).not.toMatch(/warning/i);
  });

  it('is run by kubectl as `command: kubectl-oidc_login`: logs in, then answers from the cache', async () => {
    const home = join(temp.path, 'home-login');
    mkdirSync(home);
    const kubeconfig = join(home, 'kubeconfig');
    const args = ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--oidc-extra-scope=email groups', '--skip-open-browser', '--listen-address=127.0.0.1:0'];
    const exec: ExecUserConfig = { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl-oidc_login', args, interactiveMode: 'Never' };
    await writeKubeconfig(kubeconfig, { server: api.url, caPath: api.caPath, user: { exec } });

    idp.resetCounts();
    const first = await whoamiWithLogin(kubeconfig, home);
    expect(first.user).toEqual({ username: 'alice@example.com', groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    expect(first.logins).toBe(1);
    expect(idp.counts.authorizations).toBe(1);

    idp.resetCounts();
    const second = await whoamiWithLogin(kubeconfig, home);
    expect(second.user.username).toBe('alice@example.com');
    expect(second.logins).toBe(0);
    expect(idp.counts.requests).toBe(0);

    // The cache hit straight from the executable: one line of ExecCredential, nothing on stderr.
    const hit = await run(join(pathDir, 'kubectl-oidc_login'), [...args, `--token-cache-dir=${join(home, 'kube-cache', 'oidc-login')}`], { env: bareEnv(home) });
    expect(JSON.parse(hit.stdout)).toMatchObject({ kind: 'ExecCredential', status: { token: expect.any(String) } });
    expect(hit.stderr).toBe('');
  });

  it('loads undici from its asset for a CA flag: a password-grant login without the browser', async () => {
    const home = join(temp.path, 'home-undici');
    mkdirSync(home);
    idp.resetCounts();
    const login = await run(
      join(pathDir, 'kubectl-oidc_login'),
      ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--grant-type=password', '--username=alice', '--password=alice-pw', `--certificate-authority=${api.caPath}`, `--token-cache-dir=${join(home, 'cache')}`],
      { env: bareEnv(home) },
    );
    expect(JSON.parse(login.stdout)).toMatchObject({ kind: 'ExecCredential', status: { token: expect.any(String) } });
    expect(login.stderr).not.toMatch(/warning|error/i);
    expect(idp.counts.tokenRequests['password']).toBe(1);
  });

  it('with --token-cache-storage=keyring falls back to disk with one warning: a SEA cannot load the native keyring module', async () => {
    const home = join(temp.path, 'home-keyring');
    mkdirSync(home);
    const cache = join(home, 'cache');
    const args = ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--grant-type=password', '--username=alice', '--password=alice-pw', `--token-cache-dir=${cache}`, '--token-cache-storage=keyring'];
    const login = await run(join(pathDir, 'kubectl-oidc_login'), args, { env: bareEnv(home) });
    const token = (JSON.parse(login.stdout) as { status: { token: string } }).status.token;
    const [entry] = readdirSync(cache).filter((name) => /^[0-9a-f]{32}$/.test(name));
    expect(login.stderr).toBe(
      `warning: could not store the token in the keyring (cannot load @napi-rs/keyring: the standalone executable cannot load native modules; install the npm package kubectl-oidc-login to use the keyring); it is cached in ${join(cache, entry ?? '')} instead\n`,
    );
    // The next run finds it there.
    idp.resetCounts();
    const hit = await run(join(pathDir, 'kubectl-oidc_login'), args, { env: bareEnv(home) });
    expect((JSON.parse(hit.stdout) as { status: { token: string } }).status.token).toBe(token);
    expect(hit.stderr).toBe('');
    expect(idp.counts.requests).toBe(0);
  });

  it('parallel cold invocations log in once: only the lock holder compiles the CLI asset, the others wait in the main script', async () => {
    const home = join(temp.path, 'home-parallel');
    mkdirSync(home);
    // A preload (the executable's Node honours NODE_OPTIONS) records, per process, whether it fetched the CLI asset.
    const records = join(home, 'records');
    mkdirSync(records);
    const preload = join(home, 'record-assets.cjs');
    writeFileSync(preload, `
const sea = require('node:sea'), fs = require('node:fs'), started = Date.now();
const record = { cli: false };
const getAsset = sea.getAsset;
sea.getAsset = function (key, ...rest) { if (key === 'cli.cjs') record.cli = true; return getAsset.call(this, key, ...rest); };
process.on('exit', () => fs.writeFileSync(${JSON.stringify(records)} + '/' + process.pid + '.json', JSON.stringify({ ...record, lifetimeMs: Date.now() - started })));
`);
    const args = ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--skip-open-browser', '--listen-address=127.0.0.1:0', `--token-cache-dir=${join(home, 'cache')}`];
    idp.resetCounts();
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(join(pathDir, 'kubectl-oidc_login'), args, { env: { ...bareEnv(home), NODE_OPTIONS: `--require ${preload}` }, stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
            const url = /Please visit the following URL in your browser: (\S+)/.exec(chunk.toString())?.[1];
            if (url !== undefined) void browse(url).catch((error: unknown) => reject(error as Error));
          });
          child.on('error', reject);
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
          });
        }),
      ),
    );
    for (const done of runs) expect(done.code, done.stderr).toBe(0);
    expect(new Set(runs.map((done) => (JSON.parse(done.stdout) as { status: { token: string } }).status.token)).size).toBe(1);
    expect(idp.counts.authorizations).toBe(1);
    const recorded = readdirSync(records).map((name) => JSON.parse(readFileSync(join(records, name), 'utf8')) as { cli: boolean; lifetimeMs: number });
    expect(recorded).toHaveLength(8);
    // One process compiled the CLI, holding the lock; any other only after waiting HOLDER_WAIT_MS for it.
    const loaders = recorded.filter((record) => record.cli).sort((a, b) => b.lifetimeMs - a.lifetimeMs);
    expect(loaders.length, JSON.stringify(recorded)).toBeGreaterThanOrEqual(1);
    for (const record of loaders.slice(1)) expect(record.lifetimeMs, JSON.stringify(recorded)).toBeGreaterThan(HOLDER_WAIT_MS);
  });

  it('ships as a tar.gz with the executable and LICENSE, described by a krew manifest with its sha256', async () => {
    const archive = join(out, 'kubectl-oidc_login-linux-amd64.tar.gz');
    const listing = await run('tar', ['-tzvf', archive]);
    const entries = listing.stdout.trim().split('\n');
    expect(entries.map((line) => line.split(/\s+/).at(-1)).sort()).toEqual(['LICENSE', 'kubectl-oidc_login']);
    expect(entries.find((line) => line.endsWith('kubectl-oidc_login'))).toMatch(/^-rwxr-xr-x/);
    expect(statSync(join(pathDir, 'kubectl-oidc_login')).size).toBeLessThan(150_000_000);

    const manifest = parse(readFileSync(join(out, 'oidc-login.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: { version: string; platforms: Array<{ selector: { matchLabels: Record<string, string> }; uri: string; sha256: string; bin: string; files: Array<{ from: string; to: string }> }> };
    };
    expect(manifest).toMatchObject({ apiVersion: 'krew.googlecontainertools.github.com/v1alpha2', kind: 'Plugin', metadata: { name: 'oidc-login' }, spec: { version: `v${version}` } });
    expect(manifest.spec.platforms).toEqual([
      {
        selector: { matchLabels: { os: 'linux', arch: 'amd64' } },
        uri: `https://example.com/dl/v${version}/kubectl-oidc_login-linux-amd64.tar.gz`,
        sha256: createHash('sha256').update(readFileSync(archive)).digest('hex'),
        bin: 'kubectl-oidc_login',
        files: [
          { from: 'kubectl-oidc_login', to: '.' },
          { from: 'LICENSE', to: '.' },
        ],
      },
    ]);
  });
});
