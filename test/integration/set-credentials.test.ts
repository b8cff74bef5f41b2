/**
 * The printed `kubectl config set-credentials` command, run by a real shell and the real kubectl, writes
 * exactly the entry that setup would write itself (the comma trap and shell quoting included).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWiring, type WiringInput } from '../../src/core/wiring.js';
import { useTempDir } from '../support/fixtures.js';
import { claimMapping } from '../support/claim-mapping.js';

const temp = useTempDir();

const ARGS = [
  'get-token',
  '--oidc-issuer-url=https://issuer.example.com/realms/main',
  '--oidc-client-id=kubectl',
  '--oidc-extra-scope=email,groups,offline_access',
  '--oidc-client-secret=s3cret',
  '--listen-address=127.0.0.1:8000,127.0.0.1:18000',
  '--auth-request-extra-params=prompt="consent",x=$HOME',
  `--token-cache-dir=/tmp/it's a dir`,
  '--empty=',
  '',
  'multi\nline',
];

function input(showSecrets: boolean, userName = 'oidc'): WiringInput {
  return {
    mapping: claimMapping({ issuerUrl: 'https://issuer.example.com/realms/main' }),
    kubeconfigUserName: userName,
    execArgs: ARGS,
    secretFlags: ['oidc-client-secret'],
    showSecrets,
    kubernetesVersion: undefined,
    identity: undefined,
    rbac: { clusterRole: 'view', namespace: undefined },
    gke: { redirectUri: 'http://localhost:8000', scopes: [], clientSecret: undefined, extraParams: {} },
  };
}

interface KubeconfigView {
  users: Array<{ name: string; user: { exec?: Record<string, unknown> } }>;
}

function runAndView(command: string): KubeconfigView {
  const env = { ...process.env, KUBECONFIG: join(temp.path, 'config'), HOME: temp.path };
  execFileSync('sh', ['-c', command], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(execFileSync('kubectl', ['config', 'view', '--raw', '-o', 'json'], { env, encoding: 'utf8' })) as KubeconfigView;
}

describe('kubectl config set-credentials as printed', () => {
  it('stores exactly the generated exec entry (real kubectl)', () => {
    const wiring = buildWiring(input(true, 'oidc user'));
    expect(wiring.setCredentials.problems).toEqual([]);
    const view = runAndView(wiring.setCredentials.text);
    const user = view.users.find((candidate) => candidate.name === 'oidc user');
    expect(user?.user.exec).toBeDefined();
    const exec = user?.user.exec ?? {};
    expect(exec['args']).toEqual(ARGS);
    const expected = wiring.kubeconfigUser.entry.user.exec;
    for (const [key, value] of Object.entries(expected)) expect(exec[key], key).toEqual(value);
  });

  it('without showSecrets the stored secret is REDACTED and every other arg is intact', () => {
    const view = runAndView(buildWiring(input(false)).setCredentials.text);
    const args = view.users.find((candidate) => candidate.name === 'oidc')?.user.exec?.['args'];
    expect(args).toEqual(ARGS.map((arg) => (arg === '--oidc-client-secret=s3cret' ? '--oidc-client-secret=REDACTED' : arg)));
  });

  it('the comma trap is real: an unquoted --exec-arg with a comma becomes two args', () => {
    const view = runAndView('kubectl config set-credentials trap --exec-api-version=client.authentication.k8s.io/v1 --exec-interactive-mode=Never --exec-command=x --exec-arg=--a=1,2');
    expect(view.users.find((candidate) => candidate.name === 'trap')?.user.exec?.['args']).toEqual(['--a=1', '2']);
  });
});
