/**
 * Writes a one-cluster kubeconfig for tests: cluster `test`, user `oidc`, context `test` (current).
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export interface ExecUserConfig {
  apiVersion: string;
  command: string;
  args: string[];
  /** `[{name, value}]` as in kubeconfig, or a plain record. */
  env?: Array<{ name: string; value: string }> | Record<string, string>;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
  provideClusterInfo?: boolean;
  installHint?: string;
}

export interface KubeconfigOptions {
  server: string;
  /** `certificate-authority` path. */
  caPath?: string;
  /** Embed the CA as `certificate-authority-data` instead (PEM, base64-encoded here). */
  caPem?: string;
  /** The cluster extension `client.authentication.k8s.io/exec` (surfaces as spec.cluster.config). */
  execClusterConfig?: unknown;
  user: { exec: ExecUserConfig } | { token: string };
}

/** Builds the kubeconfig object (exported for tests that want to tweak it). */
export function buildKubeconfig(options: KubeconfigOptions): Record<string, unknown> {
  const cluster: Record<string, unknown> = { server: options.server };
  if (options.caPath) cluster['certificate-authority'] = options.caPath;
  if (options.caPem) cluster['certificate-authority-data'] = Buffer.from(options.caPem).toString('base64');
  if (options.execClusterConfig !== undefined) {
    cluster.extensions = [{ name: 'client.authentication.k8s.io/exec', extension: options.execClusterConfig }];
  }

  let user: Record<string, unknown>;
  if ('token' in options.user) {
    user = { token: options.user.token };
  } else {
    const e = options.user.exec;
    const exec: Record<string, unknown> = { apiVersion: e.apiVersion, command: e.command, args: e.args };
    if (e.env !== undefined) {
      exec.env = Array.isArray(e.env) ? e.env : Object.entries(e.env).map(([name, value]) => ({ name, value }));
    }
    if (e.interactiveMode !== undefined) exec.interactiveMode = e.interactiveMode;
    if (e.provideClusterInfo !== undefined) exec.provideClusterInfo = e.provideClusterInfo;
    if (e.installHint !== undefined) exec.installHint = e.installHint;
    user = { exec };
  }

  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster }],
    users: [{ name: 'oidc', user }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'oidc' } }],
    'current-context': 'test',
    preferences: {},
  };
}

/** Writes the kubeconfig YAML to `path` (mode 0600). */
export async function writeKubeconfig(path: string, options: KubeconfigOptions): Promise<void> {
  await writeFile(path, stringify(buildKubeconfig(options)), { mode: 0o600 });
}
