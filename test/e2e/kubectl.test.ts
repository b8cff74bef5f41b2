/**
 * The real kubectl on PATH drives the plugin against a local HTTPS API server that validates tokens as
 * kube-apiserver does. Logins are counted at the provider: the Cloud SDK kubectl dispatcher may run the
 * plugin more than once per command.
 */
import { execFile } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type TestApiServer } from '../support/api-server.js';
import { startIdentityProvider, type TestIdp } from '../support/identity-provider.js';
import { writeKubeconfig, type ExecUserConfig } from '../support/kubeconfig.js';
import { FAKE_BROWSER, PLUGIN_BIN, makeTempDir } from '../support/plugin.js';
import { dirname } from 'node:path';

const run = promisify(execFile);

let idp: TestIdp;
let api: TestApiServer;
let temp: { path: string; remove(): void };

beforeAll(async () => {
  idp = await startIdentityProvider();
  api = await startApiServer({ issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:' });
});
afterAll(async () => {
  await api.close();
  await idp.close();
});
beforeEach(() => {
  temp = makeTempDir();
  idp.resetCounts();
  return () => temp.remove();
});

/** The arguments exactly as oidc-setup-guide.md and kubelogin write them, plus the test's browser and port. */
function kubeloginArgs(): string[] {
  return [
    'oidc-login',
    'get-token',
    `--oidc-issuer-url=${idp.issuer}`,
    `--oidc-client-id=${idp.clientId}`,
    '--oidc-extra-scope=openid profile email groups offline_access',
    `--browser-command=${FAKE_BROWSER}`,
    '--listen-address=127.0.0.1:0',
  ];
}

async function whoami(exec: ExecUserConfig, pathPrefix: string = dirname(PLUGIN_BIN)): Promise<{ username: string; groups: string[] }> {
  const kubeconfig = join(temp.path, 'kubeconfig');
  await writeKubeconfig(kubeconfig, { server: api.url, caPath: api.caPath, user: { exec } });
  const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'json'], {
    env: { ...process.env, PATH: `${pathPrefix}:${process.env['PATH'] ?? ''}`, HOME: temp.path, KUBECACHEDIR: join(temp.path, 'kube-cache') },
    timeout: 60_000,
  });
  const review = JSON.parse(stdout) as { status: { userInfo: { username: string; groups: string[] } } };
  return review.status.userInfo;
}

describe('kubectl with the plugin', () => {
  it('runs a kubeconfig written for kubelogin (command: kubectl, args: oidc-login get-token …) unchanged', async () => {
    const exec: ExecUserConfig = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'kubectl', args: kubeloginArgs() };
    const user = await whoami(exec);
    expect(user).toEqual({ username: 'alice@example.com', groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    expect(idp.counts.authorizations).toBe(1);
    // The next command is served from the cache: no new login, no request at all to the provider.
    idp.resetCounts();
    expect((await whoami(exec)).username).toBe('alice@example.com');
    expect(idp.counts.requests).toBe(0);
  });

  it('works with exec apiVersion v1, interactiveMode Never and the plugin as the command, also through a symlink', async () => {
    const link = join(temp.path, 'bin', 'kubectl-oidc_login');
    (await import('node:fs')).mkdirSync(dirname(link));
    symlinkSync(PLUGIN_BIN, link);
    const exec: ExecUserConfig = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: link,
      args: kubeloginArgs().slice(1),
      interactiveMode: 'Never',
    };
    expect(await whoami(exec, '/nonexistent')).toEqual({ username: 'alice@example.com', groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    expect(idp.counts.authorizations).toBe(1);
    const authenticated = api.requests.filter((request) => request.authenticated);
    expect(authenticated.length).toBeGreaterThan(0);
  });
});
