/**
 * npm run demo [-- --browser]
 *
 * A real login against an embedded OpenID provider (oidc-provider on 127.0.0.1), then a real
 * `kubectl auth whoami` through the plugin against a local HTTPS API server that validates the token as
 * kube-apiserver does. The kubeconfig is written exactly as for int128/kubelogin (`command: kubectl`,
 * `args: [oidc-login, get-token, …]`). By default the login page is filled in by an HTTP-client browser;
 * with --browser your own browser opens and you log in as alice / alice-pw.
 * Nothing outside a temporary directory is touched: HOME and KUBECACHEDIR point into it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startApiServer } from '../test/support/api-server.js';
import { REPO_ROOT, buildTestTools } from '../test/support/build-tools.js';
import { DEFAULT_LOGIN, DEFAULT_PASSWORD, startIdentityProvider } from '../test/support/identity-provider.js';
import { buildKubeconfig, writeKubeconfig, type ExecUserConfig } from '../test/support/kubeconfig.js';

const useRealBrowser = process.argv.includes('--browser');
const step = (text: string): void => void process.stdout.write(`\n\x1b[1m==> ${text}\x1b[0m\n`);

function kubectl(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, ms: performance.now() - started });
    });
  });
}

async function main(): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'oidc-login-demo-'));
  const { fakeBrowser } = await buildTestTools();
  const idp = await startIdentityProvider();
  const api = await startApiServer({ issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:' });
  try {
    step(`OpenID provider at ${idp.issuer} (user ${DEFAULT_LOGIN} / ${DEFAULT_PASSWORD}); API server at ${api.url}`);
    process.stdout.write('The API server validates tokens as kube-apiserver with --oidc-issuer-url, --oidc-client-id=kubectl,\n--oidc-username-claim=email, --oidc-groups-claim=groups, --oidc-groups-prefix=oidc:\n');

    const exec: ExecUserConfig = {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: 'kubectl',
      args: [
        'oidc-login',
        'get-token',
        `--oidc-issuer-url=${idp.issuer}`,
        `--oidc-client-id=${idp.clientId}`,
        '--oidc-extra-scope=openid profile email groups offline_access',
        ...(useRealBrowser ? [] : [`--browser-command=${fakeBrowser}`]),
      ],
    };
    const kubeconfig = join(home, 'kubeconfig');
    await writeKubeconfig(kubeconfig, { server: api.url, caPath: api.caPath, user: { exec } });
    step(`kubeconfig written as for int128/kubelogin (${kubeconfig}), user section:`);
    process.stdout.write(stringify({ users: (buildKubeconfig({ server: api.url, user: { exec } }) as { users: unknown }).users }));

    // kubectl finds `kubectl oidc-login` as bin/kubectl-oidc_login on PATH, as after `npm install -g`.
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(REPO_ROOT, 'bin')}:${process.env['PATH'] ?? ''}`, HOME: home, KUBECACHEDIR: join(home, '.kube', 'cache') };
    step(useRealBrowser ? 'kubectl auth whoami: log in as alice / alice-pw in the browser window that opens' : 'kubectl auth whoami (first call: the plugin logs in through the browser command)');
    const first = await kubectl(['--kubeconfig', kubeconfig, 'auth', 'whoami'], env);
    if (first.code !== 0) throw new Error(`kubectl exited with code ${first.code}`);
    step('kubectl auth whoami again (the token now comes from the cache: no request to the provider)');
    const loginsBefore = idp.counts.authorizations;
    const requestsBefore = idp.counts.requests;
    const second = await kubectl(['--kubeconfig', kubeconfig, 'auth', 'whoami'], env);
    if (second.code !== 0) throw new Error(`kubectl exited with code ${second.code}`);
    step('Done');
    process.stdout.write(
      `logins at the provider: ${loginsBefore}; requests to the provider during the second command: ${idp.counts.requests - requestsBefore}\n` +
        `first kubectl call ${first.ms.toFixed(0)} ms (with login), second ${second.ms.toFixed(0)} ms (cache hit)\n`,
    );
    return 0;
  } finally {
    await api.close();
    await idp.close();
    rmSync(home, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
