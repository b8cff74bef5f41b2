/**
 * The cache-hit path runs on every kubectl command: it must answer from its own small bundle, without
 * loading the full CLI (commander, openid-client, undici, the lock library) or Node's crypto/network modules.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { cacheKey } from '../../src/core/cache-key.js';
import { writeCacheEntry } from '../../src/system/token-store.js';
import { REPO_ROOT } from '../support/build-tools.js';
import { unsignedJwt } from '../support/jwt.js';
import { makeTempDir } from '../support/plugin.js';

let temp: { path: string; remove(): void };
beforeEach(() => {
  temp = makeTempDir();
  return () => temp.remove();
});

function seedCache(dir: string): { args: string[]; token: string } {
  const args = ['get-token', '--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl', '--oidc-extra-scope=email', `--token-cache-dir=${dir}`];
  const config = parseGetTokenFlags({ 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl', 'oidc-extra-scope': ['email'], 'token-cache-dir': dir }, {});
  const now = Math.floor(Date.now() / 1000);
  const token = unsignedJwt({ iss: 'https://issuer.example.com', aud: 'kubectl', sub: 'alice', iat: now, exp: now + 3600 });
  writeCacheEntry(dir, { key: cacheKey(config.provider), issuer: config.provider.issuerUrl, clientId: 'kubectl', scopes: ['email'], useAccessToken: false, savedAt: new Date().toISOString(), idToken: token, accessToken: undefined, refreshToken: 'r' });
  return { args, token };
}

describe('the cache-hit path', () => {
  it('answers from its own bundle alone: the full CLI is not even present', () => {
    const lonely = join(temp.path, 'kubectl-oidc_login.cjs');
    copyFileSync(join(REPO_ROOT, 'dist', 'kubectl-oidc_login.cjs'), lonely);
    const { args, token } = seedCache(join(temp.path, 'cache'));
    const stdout = execFileSync(process.execPath, [lonely, ...args], { encoding: 'utf8', env: { ...process.env, KUBERNETES_EXEC_INFO: '' } });
    expect(JSON.parse(stdout)).toMatchObject({ status: { token } });
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
    const bundle = readFileSync(join(REPO_ROOT, 'dist', 'kubectl-oidc_login.cjs'), 'utf8');
    expect(bundle.length).toBeLessThan(40_000);
    for (const marker of ['openid-client', 'oauth4webapi', 'commander', 'proper-lockfile', 'undici']) expect(bundle).not.toContain(marker);
  });
});
