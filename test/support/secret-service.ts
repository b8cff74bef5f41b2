/**
 * A private Secret Service for tests of --token-cache-storage=keyring on Linux: a D-Bus session bus of its own
 * (dbus-daemon with a config that activates nothing, so that no other service is started behind the test's back)
 * and gnome-keyring-daemon on it, with a new login keyring unlocked by a password on stdin, in a temporary HOME.
 * Every process is started here and killed by its pid in stop(); every wait is bounded.
 *
 * Debian packages: dbus (dbus-daemon) and gnome-keyring; .ci/run installs them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from './build-tools.js';

export interface SessionBus {
  /** DBUS_SESSION_BUS_ADDRESS of the bus. */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

export interface SecretService {
  bus: SessionBus;
  /** The keyring daemon's HOME (its keyrings live under it). */
  home: string;
  /** The environment for processes that use this keyring: DBUS_SESSION_BUS_ADDRESS and HOME. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The path of command on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Fails (never skips) when a program is missing: CI installs them, and a keyring test that did not run proves nothing. */
export function requirePrograms(...commands: string[]): void {
  const missing = commands.filter((command) => findOnPath(command) === undefined);
  if (missing.length > 0) {
    throw new Error(`${missing.join(' and ')} not found on PATH: the keyring tests need a real Secret Service; install the Debian packages dbus and gnome-keyring (.ci/run does)`);
  }
}

/** Starts a session bus listening in dir, on which nothing is activated. */
export async function startSessionBus(dir: string): Promise<SessionBus> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'bus.conf');
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${dir}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const child = spawn('dbus-daemon', [`--config-file=${config}`, '--print-address=1', '--nofork'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = stopper(child);
  try {
    const address = await firstLine(child, 10_000, 'dbus-daemon');
    return { address, pid: child.pid ?? -1, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Starts a bus and gnome-keyring-daemon (secrets component) on it, and waits until the keyring answers. */
export async function startSecretService(dir: string): Promise<SecretService> {
  const bus = await startSessionBus(join(dir, 'bus'));
  const home = join(dir, 'home');
  const runtime = join(dir, 'run');
  mkdirSync(home, { recursive: true });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const env = { DBUS_SESSION_BUS_ADDRESS: bus.address, HOME: home };
  const daemon = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env, XDG_DATA_HOME: join(home, '.local', 'share'), XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: runtime },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let daemonOutput = '';
  daemon.stdout?.on('data', (chunk: Buffer) => (daemonOutput += chunk.toString()));
  daemon.stderr?.on('data', (chunk: Buffer) => (daemonOutput += chunk.toString()));
  // --unlock reads the login keyring's password from stdin (a new keyring is created with it).
  daemon.stdin?.end('test-keyring-password');
  const stopDaemon = stopper(daemon);
  const stop = async (): Promise<void> => {
    await stopDaemon();
    await bus.stop();
  };
  // Ready when the collection answers: a read of a missing item returns nothing instead of failing.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = keyringCall(env, { op: 'get', service: 'kubectl-oidc-login-test-probe', account: 'probe' });
    if (probe.ok) break;
    if (daemon.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`gnome-keyring-daemon did not start a usable Secret Service: ${probe.error}\n${daemonOutput}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { bus, home, env, stop };
}

export type KeyringRequest =
  | { op: 'get'; service: string; account: string }
  | { op: 'set'; service: string; account: string; secret: string }
  | { op: 'delete'; service: string; account: string }
  | { op: 'list'; service: string };

export type KeyringAnswer = { ok: true; value: unknown } | { ok: false; error: string };

const SCRIPT = `
const keyring = require(${JSON.stringify(join(REPO_ROOT, 'node_modules', '@napi-rs', 'keyring'))});
const request = JSON.parse(process.argv[1]);
const options = { linux: { store: 'secret-service' } };
try {
  let value;
  if (request.op === 'get') value = new keyring.Entry(request.service, request.account, options).getPassword();
  else if (request.op === 'set') value = new keyring.Entry(request.service, request.account, options).setPassword(request.secret);
  else if (request.op === 'delete') value = new keyring.Entry(request.service, request.account, options).deleteCredential();
  else value = keyring.findCredentials(request.service).map(({ account, password }) => ({ account, secret: password }));
  process.stdout.write(JSON.stringify({ ok: true, value: value === undefined ? null : value }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error && error.message) }));
}
`;

/** One keyring operation with @napi-rs/keyring in a process of its own, on the bus of env (the test's own env is left alone). */
export function keyringCall(env: Record<string, string>, request: KeyringRequest): KeyringAnswer {
  const run = spawnSync(process.execPath, ['-e', SCRIPT, JSON.stringify(request)], { env: { PATH: process.env['PATH'] ?? '', ...env }, encoding: 'utf8', timeout: 10_000 });
  if (run.status !== 0 || run.stdout === '') return { ok: false, error: `helper exited ${run.status ?? run.signal}: ${run.stderr}${run.error?.message ?? ''}` };
  return JSON.parse(run.stdout) as KeyringAnswer;
}

/** The items of service on the bus of env, by account; throws when the keyring cannot be read. */
export function keyringItems(env: Record<string, string>, service: string): Map<string, string> {
  const answer = keyringCall(env, { op: 'list', service });
  if (!answer.ok) throw new Error(`cannot list the keyring: ${answer.error}`);
  return new Map((answer.value as Array<{ account: string; secret: string }>).map(({ account, secret }) => [account, secret]));
}

function firstLine(child: ChildProcess, timeoutMs: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name} printed no address within ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, newline).trim());
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}): ${err}`));
    });
  });
}

/** Kills child by its pid (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 3_000);
    await exited;
    clearTimeout(timer);
  };
}
