/**
 * One kubeconfig user for many clusters (the scaling case of oidc-setup-guide.md): with
 * `provideClusterInfo: true`, each cluster's `client.authentication.k8s.io/exec` extension names its
 * provider, and the plugin takes the issuer, client id and scopes from KUBERNETES_EXEC_INFO
 * spec.cluster.config. Checked through the real kubectl against two API servers trusting two providers.
 */
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startApiServer, type TestApiServer } from '../support/api-server.js';
import { defaultAccounts, startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { FAKE_BROWSER, PLUGIN_BIN, makeTempDir } from '../support/plugin.js';

const run = promisify(execFile);

function accountsWithEmail(email: string): ReturnType<typeof defaultAccounts> {
  const accounts = defaultAccounts();
  if (accounts['alice']) accounts['alice'].claims['email'] = email;
  return accounts;
}

describe('one user entry, two clusters, two providers', () => {
  let idpA: TestIdp;
  let idpB: TestIdp;
  let apiA: TestApiServer;
  let apiB: TestApiServer;
  let temp: { path: string; remove(): void };

  beforeAll(async () => {
    temp = makeTempDir();
    idpA = await startIdentityProvider({ accounts: accountsWithEmail('alice@a.example') });
    idpB = await startIdentityProvider({ accounts: accountsWithEmail('alice@b.example') });
    apiA = await startApiServer({ issuer: idpA.issuer, audiences: ['kubectl'], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'a:' });
    apiB = await startApiServer({ issuer: idpB.issuer, audiences: ['kubectl'], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'b:' });
  });
  afterAll(async () => {
    await Promise.all([apiA.close(), apiB.close(), idpA.close(), idpB.close()]);
    temp.remove();
  });

  function cluster(name: string, api: TestApiServer, idp: TestIdp, scopes: string | string[]): Record<string, unknown> {
    return {
      name,
      cluster: {
        server: api.url,
        'certificate-authority': api.caPath,
        extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { 'oidc-issuer-url': idp.issuer, 'oidc-client-id': 'kubectl', 'oidc-extra-scope': scopes } }],
      },
    };
  }

  it('takes issuer, client id and scopes from each cluster, keeping one cache entry per provider', async () => {
    const kubeconfig = join(temp.path, 'config');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [cluster('a', apiA, idpA, 'email groups'), cluster('b', apiB, idpB, ['email', 'groups'])],
        users: [
          {
            name: 'oidc',
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: 'kubectl-oidc_login',
                args: ['get-token', `--browser-command=${FAKE_BROWSER}`, '--listen-address=127.0.0.1:0'],
                interactiveMode: 'Never',
                provideClusterInfo: true,
              },
            },
          },
        ],
        contexts: [
          { name: 'a', context: { cluster: 'a', user: 'oidc' } },
          { name: 'b', context: { cluster: 'b', user: 'oidc' } },
        ],
        'current-context': 'a',
      }),
      { mode: 0o600 },
    );
    const cacheRoot = join(temp.path, 'kube-cache');
    const whoami = async (context: string): Promise<{ username: string; groups: string[] }> => {
      const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, '--context', context, 'auth', 'whoami', '-o', 'json'], {
        env: { ...process.env, PATH: `${dirname(PLUGIN_BIN)}:${process.env['PATH'] ?? ''}`, HOME: temp.path, KUBECACHEDIR: cacheRoot },
        timeout: 60_000,
      });
      return (JSON.parse(stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    };

    expect(await whoami('a')).toEqual({ username: 'alice@a.example', groups: ['a:dev', 'a:ops', 'system:authenticated'] });
    expect(await whoami('b')).toEqual({ username: 'alice@b.example', groups: ['b:dev', 'b:ops', 'system:authenticated'] });
    expect(idpA.counts.authorizations).toBe(1);
    expect(idpB.counts.authorizations).toBe(1);
    expect(readdirSync(join(cacheRoot, 'oidc-login')).filter((name) => /^[0-9a-f]{32}$/.test(name))).toHaveLength(2);

    // Both served from their own cache entries afterwards.
    idpA.resetCounts();
    idpB.resetCounts();
    expect((await whoami('b')).username).toBe('alice@b.example');
    expect((await whoami('a')).username).toBe('alice@a.example');
    expect(idpA.counts.requests + idpB.counts.requests).toBe(0);
  });
});
