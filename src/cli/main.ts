/**
 * The full CLI (bundled to dist/cli.cjs, loaded by the entry on a cache miss): the composition root.
 * Only this file and entry.ts touch argv, stdout and the exit code.
 */
import { writeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { isatty } from 'node:tty';
import { CommanderError } from 'commander';
import { cleanCache } from '../commands/clean.js';
import { PluginError } from '../core/errors.js';
import { formatExecCredential, parseExecInfo } from '../core/exec-credential.js';
import { withCacheLock } from '../system/file-lock.js';
import { keyringStatusListing, openSystemKeyring } from '../system/keyring-store.js';
import { createLogger } from '../system/log.js';
import { listCacheEntries } from '../system/token-store.js';
import { parseCleanFlags, parseSetupFlags, parseStatusFlags, withClusterConfig } from './flags.js';
import type { KubeconfigWrite } from '../commands/setup.js';
import { buildProgram, type ParsedCommand } from './program.js';
import { renderError } from './render-error.js';
import { loadIdentityProvider, runGetToken } from './run-get-token.js';

declare const __PLUGIN_VERSION__: string;
const VERSION = typeof __PLUGIN_VERSION__ === 'string' ? __PLUGIN_VERSION__ : '0.0.0-dev';
/** clean waits this long for an entry's lock (a get-token may be waiting for a browser login), then keeps it. */
const CLEAN_LOCK_WAIT_MS = 30_000;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
  signal: AbortSignal;
}

export async function main(): Promise<void> {
  // Node's fetch parses HTTP with a WebAssembly module that V8 recompiles in the background (TurboFan);
  // a short-lived process then waits ~50 ms at exit for that recompile, after the token is already printed
  // and while kubectl still waits (measured by npm run bench). Baseline-compiled code is plenty for a few
  // small responses. Process-wide, so set here and never in the programmatic API.
  setFlagsFromString('--liftoff-only');
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(1);
    interrupted = true;
    controller.abort(new PluginError('ERR_INTERRUPTED', `interrupted by ${signal}`));
    // The login unwinds (lock released, port closed) within moments; never linger longer than a second (the lock
    // is then removed at exit: cache-lock.ts), and say why.
    setTimeout(() => {
      process.stderr.write(renderError(controller.signal.reason, 0));
      process.exit(1);
    }, 1000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await run(process.argv.slice(2), {
    env: process.env,
    stdout: (text) => writeSync(1, text),
    stderr: (text) => process.stderr.write(text),
    signal: controller.signal,
  });
  // Exit now: keep-alive sockets or an unref'd browser process must not hold kubectl up.
  process.exit(code);
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let verbosity = 0;
  // A command that reported its own failures (clean: an entry it could not revoke) returns 1.
  let exitCode = 0;
  const program = buildProgram(VERSION, { writeOut: io.stdout, writeErr: io.stderr }, async (parsed) => {
    verbosity = Number(parsed.raw['v'] ?? 0) || 0;
    exitCode = (await runCommand(parsed, io, program.commands.find((command) => command.name() === parsed.name)?.helpInformation() ?? '')) ?? 0;
  });
  try {
    if (argv.length === 0) {
      io.stderr(program.helpInformation());
      throw new PluginError('ERR_USAGE', 'no command given (kubelogin\'s standalone mode, which reads the auth-provider section of the kubeconfig, is not supported)', {
        hint: 'use "kubectl oidc-login get-token" in an exec section; "kubectl oidc-login setup" prints one',
      });
    }
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      // One line: commander puts its "(Did you mean …?)" suggestion on a line of its own.
      const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      const command = error.code !== 'commander.unknownCommand' && argv[0] && !argv[0].startsWith('-') ? `${argv[0]} ` : '';
      io.stderr(`error: ${message}\nhint: run "kubectl oidc-login ${command}--help" for the usage\n`);
      return 1;
    }
    io.stderr(renderError(error, verbosity));
    return 1;
  }
}

async function runCommand(parsed: ParsedCommand, io: CliIo, help: string): Promise<number | void> {
  switch (parsed.name) {
    case 'get-token': {
      const execInfo = parseExecInfo(io.env['KUBERNETES_EXEC_INFO']);
      const { credential } = await runGetToken(withClusterConfig(parsed.raw, execInfo.cluster), {
        env: io.env,
        execInfo,
        write: io.stderr,
        signal: io.signal,
        interactive: mayPrompt(io.env['KUBERNETES_EXEC_INFO'], execInfo.interactive),
      });
      io.stdout(formatExecCredential(credential));
      return;
    }
    case 'setup': {
      if (!parsed.raw['oidc-issuer-url'] || !parsed.raw['oidc-client-id']) {
        // kubelogin prints the setup help and exits 0 when the provider is not given.
        io.stdout(help);
        return;
      }
      const config = parseSetupFlags(parsed.raw, new Set(parsed.explicit.map(([name]) => name)), io.env);
      const log = createLogger(config.verbosity, io.stderr);
      for (const warning of config.warnings) log.warn(warning);
      const { runSetup, formatSetupText, setupJson } = await import('../commands/setup.js');
      const { discoveryProber } = await import('../oidc/discovery-probe.js');
      const result = await runSetup(config, parsed.explicit, {
        probeDiscovery: discoveryProber(config.provider, io.env, log),
        openProvider: (provider) => loadIdentityProvider(provider, config.login, undefined, log, io.signal, mayPrompt(undefined, false)),
        log,
      });
      let written: KubeconfigWrite | undefined;
      if (config.kubeconfig.writePath !== undefined) {
        const entry = result.wiring.kubeconfigUser;
        if (entry.problems.length > 0) throw new PluginError('ERR_USAGE', `the kubeconfig entry was not written: ${entry.problems.join('; ')}`);
        const { defaultKubeconfigPath, mergeKubeconfig } = await import('../system/kubeconfig-file.js');
        const path = config.kubeconfig.writePath || defaultKubeconfigPath(io.env);
        const context = config.kubeconfig.context;
        const merged = await mergeKubeconfig({ path, user: entry.entry, ...(context !== undefined ? { context: { name: context } } : {}) });
        written = { path: merged.path, backupPath: merged.backupPath, userAction: merged.userAction, contextAction: merged.contextAction, context };
      }
      if (config.output === 'json') io.stdout(`${JSON.stringify(setupJson(result, written), null, 2)}\n`);
      else io.stderr(formatSetupText(result, { showSecrets: config.showSecrets, written }));
      return;
    }
    case 'status': {
      const config = parseStatusFlags(parsed.raw, io.env);
      const { buildStatusReport, formatStatusJson, formatStatusText } = await import('../commands/status.js');
      const files = listCacheEntries(config.dir);
      // The keyring's items too (--token-cache-storage=keyring), when it can be read: system/keyring-store.ts.
      const keyring = await keyringStatusListing(config.dir, openSystemKeyring, createLogger(config.verbosity, io.stderr));
      const listing = { entries: [...files.entries, ...keyring.entries.map((listed) => ({ ...listed, storage: 'keyring' as const }))], unreadable: [...files.unreadable, ...keyring.unreadable] };
      const nowMs = Date.now();
      const report = buildStatusReport(listing, { cacheDir: config.dir, filter: config.filter, nowMs });
      io.stdout(config.output === 'json' ? formatStatusJson(report) : formatStatusText(report, nowMs));
      return;
    }
    case 'clean': {
      const config = parseCleanFlags(parsed.raw, io.env);
      const log = createLogger(config.verbosity, io.stderr);
      const outcome = await cleanCache(config, {
        log,
        withLock: (key, work) => withCacheLock(config.dir, key, { log, maxWaitMs: CLEAN_LOCK_WAIT_MS, purpose: 'cleaning the token cache' }, work),
        revoker: async () => {
          const { revokeRefreshToken } = await import('../oidc/revoke.js');
          return { revoke: (request, refreshToken) => revokeRefreshToken({ ...request, tls: config.tls }, refreshToken, { metadataCacheDir: config.dir, log, env: io.env }) };
        },
        reportError: (error) => io.stderr(renderError(error, config.verbosity)),
        openKeyring: openSystemKeyring,
      });
      return outcome.failed > 0 ? 1 : 0;
    }
    case 'version':
      io.stderr(`kubectl-oidc_login version ${VERSION} (node ${process.version} ${process.platform}_${process.arch})\n`);
      return;
  }
}

/**
 * Whether the password and authcode-keyboard grants may prompt on the terminal: stdin must be one, and kubectl
 * must have said so (spec.interactive, true only with interactiveMode IfAvailable/Always and a terminal). Without
 * KUBERNETES_EXEC_INFO (run by hand, setup, @kubernetes/client-node) the terminal alone decides; client-node's
 * stdin is a pipe that never closes, which is never read.
 */
function mayPrompt(rawExecInfo: string | undefined, specInteractive: boolean): boolean {
  if (!isatty(0)) return false;
  return rawExecInfo === undefined || rawExecInfo.trim() === '' ? true : specInteractive;
}
