/** Running the built plugin as a real child process, the way kubectl does. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, TEST_BUILD_DIR } from './build-tools.js';

export const PLUGIN_BIN = join(REPO_ROOT, 'bin', 'kubectl-oidc_login');
export const FAKE_BROWSER = join(TEST_BUILD_DIR, 'fake-browser.cjs');

export interface PluginRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Called with the child's pid once it is spawned (e.g. to kill it). */
  onSpawn?: (pid: number) => void;
  /** 'pipe' leaves stdin an open pipe that is never written or closed, as @kubernetes/client-node does. */
  stdin?: 'ignore' | 'pipe';
  /** Called with each chunk of stderr as it arrives. */
  onStderr?: (chunk: string) => void;
}

/**
 * A session bus address that connects nowhere: status and clean read the keyring, and clean deletes its items, so a
 * test must never reach the keyring of the desktop it runs on (test/integration/keyring.test.ts brings its own).
 */
const NO_SESSION_BUS = 'unix:path=/nonexistent/kubectl-oidc-login-tests/bus';

/** Runs `kubectl-oidc_login args…` with a clean environment: no KUBERNETES_EXEC_INFO unless given, and no session bus. */
export function runPlugin(args: readonly string[], options: RunOptions = {}): Promise<PluginRun> {
  const env: Record<string, string | undefined> = { ...process.env, KUBERNETES_EXEC_INFO: undefined, DBUS_SESSION_BUS_ADDRESS: NO_SESSION_BUS, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(PLUGIN_BIN, [...args], { env: env as NodeJS.ProcessEnv, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (child.stdout === null || child.stderr === null) throw new Error('spawned without stdout/stderr pipes');
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(chunk.toString());
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started });
    });
  });
}

/** Parses stdout as exactly one line of ExecCredential JSON; fails the test otherwise. */
export function parseCredential(run: PluginRun): { apiVersion: string; kind: string; spec: { interactive: boolean }; status: { token: string; expirationTimestamp: string } } {
  const lines = run.stdout.split('\n');
  if (lines.length !== 2 || lines[1] !== '') throw new Error(`stdout is not one line: ${JSON.stringify(run.stdout)}\nstderr: ${run.stderr}`);
  return JSON.parse(lines[0] ?? '') as ReturnType<typeof parseCredential>;
}

export function makeTempDir(prefix = 'oidc-login-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function readBrowserLog(path: string): Array<Record<string, unknown>> {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  } catch {
    return [];
  }
}

export function decodePayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}
