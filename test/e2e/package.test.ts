/**
 * The npm package as a user gets it: `npm pack` (its prepack script builds dist/), `npm install -g` of the
 * tarball into a temporary prefix, then the installed `kubectl-oidc_login` and its `kubelogin` alias run by
 * the real kubectl against the API-server emulator and the test IdP, found on PATH by name as a kubeconfig
 * written with `command: kubectl-oidc_login` finds them.
 *
 * `npm pack` runs in a copy of the work tree (node_modules linked), so that its build never replaces the
 * dist/ that other test files are using at the same time.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type TestApiServer } from '../support/api-server.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { findOnPath, kubectlWhoami, userEnvironment } from '../support/distribution.js';
import { startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { FAKE_BROWSER, makeTempDir } from '../support/plugin.js';

const run = promisify(execFile);

/** Not copied for `npm pack`: big, generated, or not part of the package's build. */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'release', '.test-build', '.scratch']);

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

let idp: TestIdp;
let api: TestApiServer;
let temp: { path: string; remove(): void };
let pack: PackResult;
let prefix: string;
let kubectl: string;

beforeAll(async () => {
  const found = findOnPath('kubectl');
  if (found === undefined) throw new Error('kubectl is not on PATH (.ci/run installs it)');
  kubectl = found;
  temp = makeTempDir('oidc-login-package-');
  idp = await startIdentityProvider();
  api = await startApiServer({ issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:' });

  const tree = join(temp.path, 'tree');
  cpSync(REPO_ROOT, tree, { recursive: true, filter: (source) => !NOT_COPIED.has(relative(REPO_ROOT, source).split(sep)[0] ?? '') });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(tree, 'node_modules'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', temp.path], { cwd: tree, env: userEnvironment(), timeout: 120_000 });
  pack = (JSON.parse(packed.stdout) as PackResult[])[0] as PackResult;

  prefix = join(temp.path, 'prefix');
  // The runtime dependencies are in npm's cache since `npm ci`: no registry round trip is needed.
  await run('npm', ['install', '--global', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(temp.path, pack.filename)], {
    env: userEnvironment(),
    timeout: 180_000,
  });
}, 240_000);

afterAll(async () => {
  await api?.close();
  await idp?.close();
  temp?.remove();
});

describe('the npm package', () => {
  it('holds the built plugin and nothing of the sources, tests or release builds', () => {
    const paths = pack.files.map((file) => file.path);
    const { bin } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/kubectl-oidc_login.cjs', 'dist/hit.cjs', 'dist/hit.cache', 'dist/cli.cjs', 'dist/lock.cjs', 'dist/undici.cjs', 'dist/xdg-open', ...Object.values(bin)]) {
      expect(paths, needed).toContain(needed.replace(/^\.\//, ''));
    }
    expect(Object.keys(bin).sort()).toEqual(['kubectl-oidc_login', 'kubelogin']);
    for (const path of paths) expect(path, path).not.toMatch(/^(src|test|scripts|bench|release|node_modules|\.test-build|\.scratch|\.ci)\/|^tsconfig|\.ts$(?<!\.d\.ts$)|\.tgz$/);
    expect(pack.unpackedSize).toBeLessThan(5_000_000);
  });

  it('installs both commands, which need none of the installed dependencies at run time', async () => {
    for (const name of ['kubectl-oidc_login', 'kubelogin']) expect(existsSync(join(prefix, 'bin', name)), name).toBe(true);
    // dist/ is self-contained (esbuild bundles): take the dependencies away and the tests below still pass.
    rmSync(join(prefix, 'lib', 'node_modules', 'kubectl-oidc-login', 'node_modules'), { recursive: true, force: true });
    const version = await run(join(prefix, 'bin', 'kubectl-oidc_login'), ['version'], { env: userEnvironment() });
    expect(version.stderr).toContain(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  });

  it('is run by kubectl as `command: kubectl-oidc_login` from PATH, logs in, then serves the cache; `kubelogin` too', async () => {
    const home = join(temp.path, 'home');
    mkdirSync(home);
    // PATH: the installed commands, node (the #!/usr/bin/env node of bin/) and nothing of the work tree.
    const path = [join(prefix, 'bin'), dirname(process.execPath), dirname(kubectl), '/usr/bin', '/bin'].join(':');
    const args = ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--oidc-extra-scope=email groups', `--browser-command=${FAKE_BROWSER}`, '--listen-address=127.0.0.1:0'];
    idp.resetCounts();
    const user = await kubectlWhoami({ api, kubectl, home, path, exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl-oidc_login', args, interactiveMode: 'Never' } });
    expect(user).toEqual({ username: 'alice@example.com', groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    expect(idp.counts.authorizations).toBe(1);

    // The alias shares the cache: same flags, same token, no request to the provider.
    idp.resetCounts();
    const again = await kubectlWhoami({ api, kubectl, home, path, exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubelogin', args, interactiveMode: 'Never' } });
    expect(again.username).toBe('alice@example.com');
    expect(idp.counts.requests).toBe(0);

    const help = await run('kubelogin', ['--help'], { env: userEnvironment({ PATH: path, HOME: home }) });
    expect(help.stdout).toMatch(/get-token/);
    const direct = await run('kubelogin', [...args, `--token-cache-dir=${join(home, 'kube-cache', 'oidc-login')}`], { env: userEnvironment({ PATH: path, HOME: home }) });
    expect(JSON.parse(direct.stdout)).toMatchObject({ kind: 'ExecCredential', status: { token: expect.any(String) } });
    expect(idp.counts.requests).toBe(0);
  });
});
