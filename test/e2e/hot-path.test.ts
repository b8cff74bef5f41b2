/**
 * The cache-hit path runs on every kubectl command: it must answer from its own small bundle (dist/hit.cjs, run
 * from V8's code cache by the installed command dist/kubectl-oidc_login.cjs), without loading the full CLI
 * (commander, openid-client, undici, the lock library) or Node's crypto/network modules.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RawFlags } from '../../src/cli/flag-spec.js';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { cacheKey, cacheKeyFor } from '../../src/core/cache-key.js';
import { scanGetTokenArgs } from '../../src/cli/cache-hit.js';
import { HIT_BUNDLE, HIT_CODE_CACHE, wrapCommonJs } from '../../src/cli/code-cache.js';
import { writeCacheEntry } from '../../src/system/token-store.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { unsignedJwt } from '../support/jwt.js';
import { makeTempDir } from '../support/plugin.js';

let temp: { path: string; remove(): void };
beforeEach(() => {
  temp = makeTempDir();
  return () => temp.remove();
});

function viaScanner(flags: string[]): RawFlags {
  const raw = scanGetTokenArgs(['get-token', ...flags], 1);
  if (raw === undefined) throw new Error(`the scanner hands ${flags.join(' ')} over`);
  return raw;
}

function seedCache(dir: string): { args: string[]; token: string } {
  const args = ['get-token', '--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl', '--oidc-extra-scope=email', `--token-cache-dir=${dir}`];
  const config = parseGetTokenFlags({ 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl', 'oidc-extra-scope': ['email'], 'token-cache-dir': dir }, {});
  const now = Math.floor(Date.now() / 1000);
  const token = unsignedJwt({ iss: 'https://issuer.example.com', aud: 'kubectl', sub: 'alice', iat: now, exp: now + 3600 });
  writeCacheEntry(dir, { key: cacheKey(config.provider), issuer: config.provider.issuerUrl, clientId: 'kubectl', scopes: ['email'], useAccessToken: false, savedAt: new Date().toISOString(), idToken: token, accessToken: undefined, refreshToken: 'r' });
  return { args, token };
}

/** The installed command and the hit bundle, alone in a temporary directory (with the code cache or not). */
function copyHitFiles(withCodeCache: boolean): string {
  const names = ['kubectl-oidc_login.cjs', HIT_BUNDLE, ...(withCodeCache ? [HIT_CODE_CACHE] : [])];
  for (const name of names) copyFileSync(join(REPO_ROOT, 'dist', name), join(temp.path, name));
  return join(temp.path, 'kubectl-oidc_login.cjs');
}

describe('the cache-hit path', () => {
  it('answers from its own bundle alone: the full CLI is not even present, and neither is the code cache', () => {
    const lonely = copyHitFiles(false);
    const { args, token } = seedCache(join(temp.path, 'cache'));
    const stdout = execFileSync(process.execPath, [lonely, ...args], { encoding: 'utf8', env: { ...process.env, KUBERNETES_EXEC_INFO: '' } });
    expect(JSON.parse(stdout)).toMatchObject({ status: { token } });
  });

  it("runs the hit bundle from V8's code cache, which this Node accepts, made by the build after a real hit", () => {
    // In a child: V8 refuses a cache made under other V8 flags, and the test runner's process may have some.
    const check = `
      const { readFileSync } = require('node:fs'); const { Script } = require('node:vm');
      const bundle = ${JSON.stringify(join(REPO_ROOT, 'dist', HIT_BUNDLE))};
      const script = new Script(${wrapCommonJs.toString()}(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData: readFileSync(${JSON.stringify(join(REPO_ROOT, 'dist', HIT_CODE_CACHE))}) });
      process.stdout.write(String(script.cachedDataRejected));`;
    expect(execFileSync(process.execPath, ['-e', check], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })).toBe('false');
    // More than the top level: the functions the hit ran (a cache made before running holds about 13 KB).
    expect(statSync(join(REPO_ROOT, 'dist', HIT_CODE_CACHE)).size).toBeGreaterThan(25_000);
    const lonely = copyHitFiles(true);
    const { args, token } = seedCache(join(temp.path, 'cache'));
    const stdout = execFileSync(process.execPath, [lonely, ...args], { encoding: 'utf8', env: { ...process.env, KUBERNETES_EXEC_INFO: '' } });
    expect(JSON.parse(stdout)).toMatchObject({ status: { token } });
  });

  it('answers the usual kubeconfig flags alone too (a local http:// provider, the login and klog flags, the exec info)', () => {
    const lonely = copyHitFiles(true);
    const dir = join(temp.path, 'cache');
    const issuer = 'http://127.0.0.1:5556/dex';
    const flags = [`--oidc-issuer-url=${issuer}`, '--oidc-client-id=kubectl', '--oidc-client-secret', 's3cr3t', '--oidc-extra-scope=email,profile', '--oidc-extra-scope', 'groups offline_access',
      '--listen-address=127.0.0.1:8000,127.0.0.1:18000', '--skip-open-browser', '--browser-command=firefox', '--grant-type=authcode', '--oidc-pkce-method=S256', '--authentication-timeout-sec=60',
      '--oidc-request-header=X-Tenant=a', '--certificate-authority=/etc/ssl/ca.pem', '--login-hint=alice@example.com', `--token-cache-dir=${dir}`, '--v=0', '--logtostderr'];
    const config = parseGetTokenFlags(viaScanner(flags), {});
    const now = Math.floor(Date.now() / 1000);
    const token = unsignedJwt({ iss: issuer, aud: 'kubectl', sub: 'alice', iat: now, exp: now + 3600 });
    writeCacheEntry(dir, { key: cacheKeyFor(config), issuer, clientId: 'kubectl', scopes: config.provider.extraScopes, useAccessToken: false, savedAt: new Date().toISOString(), idToken: token, accessToken: undefined, refreshToken: 'r' });
    const execInfo = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}';
    const stdout = execFileSync(process.execPath, [lonely, 'get-token', ...flags], { encoding: 'utf8', env: { ...process.env, KUBERNETES_EXEC_INFO: execInfo } });
    expect(JSON.parse(stdout)).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1', status: { token } });
  });

  it('loads no crypto, network or child-process module of Node', () => {
    const { args } = seedCache(join(temp.path, 'cache'));
    const record = join(temp.path, 'modules.json');
    const preload = join(temp.path, 'record-modules.cjs');
    (require('node:fs') as typeof import('node:fs')).writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.moduleLoadList)));`,
    );
    execFileSync(process.execPath, ['--require', preload, join(REPO_ROOT, 'dist', 'kubectl-oidc_login.cjs'), ...args], { env: { ...process.env, KUBERNETES_EXEC_INFO: '' } });
    const loaded = (JSON.parse(readFileSync(record, 'utf8')) as string[]).filter((name) => name.startsWith('NativeModule '));
    for (const heavy of ['crypto', 'http', 'https', 'net', 'tls', 'child_process', 'internal/deps/undici/undici']) {
      expect(loaded, heavy).not.toContain(`NativeModule ${heavy}`);
    }
  });

  it('bundles none of the OIDC, CLI or lock libraries', () => {
    const launcher = readFileSync(join(REPO_ROOT, 'dist', 'kubectl-oidc_login.cjs'), 'utf8');
    const bundle = readFileSync(join(REPO_ROOT, 'dist', HIT_BUNDLE), 'utf8');
    // Every kilobyte here is read on every kubectl command; the hit bundle is about 13 KB, the launcher 0.4 KB.
    expect(bundle.length).toBeLessThan(20_000);
    expect(launcher.length).toBeLessThan(1_000);
    for (const marker of ['openid-client', 'oauth4webapi', 'commander', 'proper-lockfile', 'undici']) {
      expect(bundle).not.toContain(marker);
      expect(launcher).not.toContain(marker);
    }
  });

  it('is itself the installed command: package.json "bin" names it, and it runs by its #!/usr/bin/env node through a link', () => {
    const { bin } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(new Set(Object.values(bin))).toEqual(new Set(['dist/kubectl-oidc_login.cjs']));
    const bundle = join(REPO_ROOT, 'dist', 'kubectl-oidc_login.cjs');
    expect(readFileSync(bundle, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(bundle).mode & 0o111).toBe(0o111);
    // As npm installs it: <prefix>/bin/kubectl-oidc_login -> …/dist/kubectl-oidc_login.cjs, found by the shebang's env on PATH.
    const link = join(temp.path, 'kubectl-oidc_login');
    symlinkSync(bundle, link);
    const { args, token } = seedCache(join(temp.path, 'cache'));
    const stdout = execFileSync(link, args, { encoding: 'utf8', env: { ...process.env, KUBERNETES_EXEC_INFO: '' } });
    expect(JSON.parse(stdout)).toMatchObject({ kind: 'ExecCredential', status: { token } });
  });
});
