/**
 * The commander tree: flags declared once in flag-spec.ts, kubelogin's command names. Each action loads
 * its command module lazily.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { CACHE_FLAGS, GET_TOKEN_FLAGS, LOG_FLAGS, LOGIN_FLAGS, type FlagSpec, type RawFlags } from './flag-spec.js';

export interface ParsedCommand {
  name: 'get-token' | 'setup' | 'clean' | 'version';
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
    } else {
      const repeatable = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
      option = new Option(`${short}${long} <value>`, flag.description).argParser(repeatable);
    }
    if (flag.choices !== undefined) option.choices(flag.choices);
    if (flag.defaultText !== undefined) option.defaultValueDescription = flag.defaultText;
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
function addCommand(program: Command, name: 'get-token' | 'setup' | 'clean', description: string, flags: readonly FlagSpec[], onCommand: (parsed: ParsedCommand) => Promise<void>): Command {
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
  const showSecrets: FlagSpec = { name: 'show-secrets', kind: 'boolean', description: 'Show secrets (the client secret) in the printed command' };
  addCommand(program, 'setup', 'Log in once (without the cache), show the token claims, and print the kubeconfig user entry', [...LOGIN_FLAGS, showSecrets, ...LOG_FLAGS], onCommand);
  addCommand(program, 'clean', 'Delete the token cache', [...CACHE_FLAGS.filter((flag) => flag.name === 'token-cache-dir'), ...LOG_FLAGS], onCommand);

  program
    .command('version')
    .description('Print the version on stderr')
    .action(async () => onCommand({ name: 'version', raw: {}, explicit: [] }));
  return program;
}
