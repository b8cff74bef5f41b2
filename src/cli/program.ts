/**
 * The commander tree: flags declared once in flag-spec.ts, kubelogin's command names. Each action loads
 * its command module lazily.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { CLEAN_FLAGS, GET_TOKEN_FLAGS, LOG_FLAGS, LOGIN_FLAGS, SETUP_FLAGS, STATUS_FLAGS, type FlagSpec, type RawFlags } from './flag-spec.js';

export interface ParsedCommand {
  name: 'get-token' | 'setup' | 'status' | 'clean' | 'version';
  raw: RawFlags;
  /** The flags given on the command line, in definition order, for setup's echo. */
  explicit: Array<[string, string[] | true]>;
}

const VERSION_TEXT = 'kubectl-oidc_login';

function parseBoolean(value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new InvalidArgumentError('use true or false');
}

function addFlags(command: Command, flags: readonly FlagSpec[], names: Map<string, string>): void {
  for (const flag of flags) {
    const long = `--${flag.name}`;
    const short = flag.short !== undefined ? `-${flag.short}, ` : '';
    let option: Option;
    if (flag.kind === 'boolean') {
      // pflag takes --flag and --flag=true|false; commander's optional value gives the same.
      option = new Option(`${short}${long} [bool]`, flag.description).argParser(parseBoolean);
    } else if (flag.kind === 'string') {
      option = new Option(`${short}${long} <value>`, flag.description);
    } else if (flag.kind === 'optional') {
      option = new Option(`${short}${long} [value]`, flag.description);
    } else {
      const repeatable = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
      option = new Option(`${short}${long} <value>`, flag.description).argParser(repeatable);
    }
    if (flag.choices !== undefined) option.choices(flag.choices);
    // Shown in the description: commander prints a default only when it also applies it as the value, and
    // the real defaults are applied in flags.ts (an unset flag must stay distinguishable from its default).
    if (flag.defaultText !== undefined) option.description = `${flag.description} (default: ${flag.defaultText})`;
    if (flag.hidden === true) option.hideHelp();
    names.set(flag.name, option.attributeName());
    command.addOption(option);
  }
}

function collect(command: Command, flags: readonly FlagSpec[], names: Map<string, string>): Pick<ParsedCommand, 'raw' | 'explicit'> {
  const options = command.opts<Record<string, string | boolean | string[] | undefined>>();
  const raw: RawFlags = {};
  const explicit: Array<[string, string[] | true]> = [];
  for (const flag of flags) {
    const attribute = names.get(flag.name) ?? flag.name;
    const value = options[attribute];
    if (value === undefined) continue;
    raw[flag.name] = value;
    if (command.getOptionValueSource(attribute) === 'cli' && value !== false) {
      explicit.push([flag.name, value === true ? true : Array.isArray(value) ? value : [String(value)]]);
    }
  }
  return { raw, explicit };
}

/** A subcommand whose flags come from the table; its action hands the parsed values to onCommand. */
function addCommand(program: Command, name: 'get-token' | 'setup' | 'status' | 'clean', description: string, flags: readonly FlagSpec[], onCommand: (parsed: ParsedCommand) => Promise<void>): Command {
  const command = program.command(name).description(description).allowExcessArguments(false);
  const names = new Map<string, string>();
  addFlags(command, flags, names);
  command.action(async () => onCommand({ name, ...collect(command, flags, names) }));
  return command;
}

export interface ProgramIo {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** Builds the program; `onCommand` receives the parsed command (the action runs it). */
export function buildProgram(version: string, io: ProgramIo, onCommand: (parsed: ParsedCommand) => Promise<void>): Command {
  const program = new Command('kubectl-oidc_login')
    .usage('<command> [flags]')
    .description('Log in to Kubernetes clusters with OpenID Connect: a kubectl credential plugin, drop-in compatible with int128/kubelogin.')
    .version(`${VERSION_TEXT} version ${version}`, '--version', 'Print the version')
    .helpOption('-h, --help', 'Show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr, outputError: () => {} })
    .addHelpText('after', '\nkubectl runs "kubectl oidc-login get-token ..." from the kubeconfig; run "kubectl oidc-login setup --help" to create that entry.');

  const getToken = addCommand(program, 'get-token', 'Print an ExecCredential with a valid token on stdout: from the cache, by refresh, or by a browser login (run by kubectl)', GET_TOKEN_FLAGS, onCommand);
  getToken.addHelpText(
    'after',
    '\nOutput: one line of ExecCredential JSON on stdout; messages and the login URL go to stderr.\n' +
      'The token cache is locked per provider setting; concurrent invocations share one login.\nExit code: 0 on success, 1 on any error.',
  );
  const setup = addCommand(
    program,
    'setup',
    'Log in once (without the cache), check the token the way kube-apiserver will, and print the kubeconfig entry, API-server settings and RBAC bindings',
    [...LOGIN_FLAGS, ...SETUP_FLAGS, ...LOG_FLAGS],
    onCommand,
  );
  setup.addHelpText(
    'after',
    '\nPrints the token claims, the username and groups the API server will see, findings with fixes, and ready wiring:\n' +
      'the kubeconfig user (YAML and kubectl config set-credentials), kube-apiserver flags and AuthenticationConfiguration,\n' +
      'EKS, GKE and AKS settings, and RBAC bindings. The report goes to stderr; --output=json prints one object on stdout.\n' +
      'Without --oidc-issuer-url and --oidc-client-id it prints this help, as kubelogin does.',
  );
  const status = addCommand(program, 'status', 'List the cached tokens: provider, user, expiry, refresh token (no request to any provider)', STATUS_FLAGS, onCommand);
  status.addHelpText(
    'after',
    '\nReads the token cache only: nothing is sent to a provider and nothing is written. For each entry it shows the\n' +
      'issuer, client ID, extra scopes, subject and email (read from the cached token, not verified), when the token\n' +
      'kubectl gets expires (relative, and RFC 3339 UTC), whether a refresh token is held, and the cache file.\n' +
      'Files that get-token would not use are listed as unreadable, with the reason. Token values are never printed.\n' +
      'Entries in the system keyring (--token-cache-storage=keyring) are listed too, as storage "keyring".\n' +
      'Output on stdout; --output=json prints one object {cacheDir, entries, unreadable}. Exit code 0 unless the\n' +
      'directory cannot be read.',
  );
  const clean = addCommand(program, 'clean', 'Delete the token cache, or only the entries of one provider; optionally revoke the refresh tokens first', CLEAN_FLAGS, onCommand);
  clean.addHelpText(
    'after',
    '\nWithout filters it deletes the files kubectl-oidc_login wrote in the cache directory (entries, provider metadata,\n' +
      'locks), as kubelogin does, but leaves any other file alone. With --oidc-issuer-url and/or --oidc-client-id it\n' +
      'deletes only the matching entries (and their lock files) and keeps the rest. Entries in the system keyring\n' +
      '(--token-cache-storage=keyring, service kubectl-oidc-login) are deleted the same way.\n' +
      'With --revoke, each refresh token is revoked at its provider first (RFC 7009), which ends the session there;\n' +
      'a provider without a revocation endpoint is named and its entries are deleted anyway. When a revocation fails,\n' +
      'that entry is kept (run the command again later) and the exit code is 1. Each entry is handled under its lock,\n' +
      'so a concurrent get-token cannot write it back half-way. Messages go to stderr; token values are never printed.',
  );

  program
    .command('version')
    .description('Print the version on stderr')
    .action(async () => onCommand({ name: 'version', raw: {}, explicit: [] }));
  return program;
}
