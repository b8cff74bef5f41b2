/** Helpers for the tests of the distributed forms (npm package, standalone executable): kubectl with a chosen PATH. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { TestApiServer } from './api-server.js';
import { writeKubeconfig, type ExecUserConfig } from './kubeconfig.js';

const run = promisify(execFile);

/** The absolute path of an executable found on this process's PATH, or undefined. */
export function findOnPath(name: string, path: string = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * This process's environment without what `npm test` adds (npm_config_*, npm_package_*, npm_lifecycle_*):
 * an npm started from a test must behave as one started by a user. KUBERNETES_EXEC_INFO is dropped too.
 */
export function userEnvironment(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || name === 'KUBERNETES_EXEC_INFO' || name === 'INIT_CWD') continue;
    env[name] = value;
  }
  return { ...env, ...overrides };
}

export interface WhoamiOptions {
  api: TestApiServer;
  exec: ExecUserConfig;
  /** Where the kubeconfig is written; also HOME, with the token cache under it (KUBECACHEDIR). */
  home: string;
  /** The whole PATH kubectl (and so the plugin) runs with. */
  path: string;
  /** The kubectl executable (absolute: PATH may not hold it). */
  kubectl: string;
}

/** `kubectl auth whoami -o json` with a kubeconfig whose user runs `exec`; the user the API server saw. */
export async function kubectlWhoami(options: WhoamiOptions): Promise<{ username: string; groups: string[] }> {
  const kubeconfig = join(options.home, 'kubeconfig');
  await writeKubeconfig(kubeconfig, { server: options.api.url, caPath: options.api.caPath, user: { exec: options.exec } });
  try {
    const { stdout } = await run(options.kubectl, ['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'json'], {
      env: userEnvironment({ PATH: options.path, HOME: options.home, KUBECACHEDIR: join(options.home, 'kube-cache') }),
      timeout: 60_000,
    });
    return (JSON.parse(stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`kubectl auth whoami failed: ${failed.message}\n${failed.stderr ?? ''}`, { cause: error });
  }
}
