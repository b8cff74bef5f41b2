/**
 * The client side: the kubeconfig user entry (as YAML and as a `kubectl config set-credentials` command).
 */
import { parse, stringify } from 'yaml';
import { EXEC_API_V1 } from '../exec-credential.js';
import { isRecord, jsonEqual, redactArgs, YAML_OPTIONS, type Artifact, type WiringInput } from './common.js';
import { csvQuote, readCsvRecord, shellQuote } from './quoting.js';

/** The plugin binary itself: `kubectl oidc-login` would start one more process on every kubectl call. */
export const PLUGIN_COMMAND = 'kubectl-oidc_login';

export interface KubeconfigUserEntry {
  name: string;
  user: { exec: Record<string, unknown> };
}

function userEntry(name: string, args: string[]): KubeconfigUserEntry {
  return { name, user: { exec: { apiVersion: EXEC_API_V1, command: PLUGIN_COMMAND, args, interactiveMode: 'Never' } } };
}

export function buildKubeconfigUser(input: WiringInput): Artifact & { entry: KubeconfigUserEntry } {
  const entry = userEntry(input.kubeconfigUserName, [...input.execArgs]);
  const shown = userEntry(input.kubeconfigUserName, printedArgs(input));
  const text = stringify({ users: [shown] }, YAML_OPTIONS);

  const problems: string[] = [];
  if (input.kubeconfigUserName === '') problems.push('the kubeconfig user name is empty');
  const parsed: unknown = parse(text);
  const users = isRecord(parsed) ? parsed['users'] : undefined;
  if (!Array.isArray(users) || users.length !== 1 || !jsonEqual(users[0], shown)) {
    problems.push('internal error: the kubeconfig YAML does not read back as the user entry');
  }
  return { text, problems, entry };
}

function printedArgs(input: WiringInput): string[] {
  return input.showSecrets ? [...input.execArgs] : redactArgs(input.execArgs, input.secretFlags);
}

/**
 * `kubectl config set-credentials` writing the same entry. Needs kubectl 1.30+ for
 * --exec-interactive-mode (the caller prints that note). Each arg is CSV-quoted, then shell-quoted:
 * --exec-arg is a StringSlice, so `--exec-arg=--listen-address=a,b` would otherwise store two args.
 */
export function buildSetCredentials(input: WiringInput): Artifact {
  const args = printedArgs(input);
  const lines = [
    `kubectl config set-credentials ${shellQuote(input.kubeconfigUserName)}`,
    `--exec-api-version=${EXEC_API_V1}`,
    '--exec-interactive-mode=Never',
    `--exec-command=${PLUGIN_COMMAND}`,
    ...args.map((arg) => `--exec-arg=${shellQuote(csvQuote(arg))}`),
  ];
  const problems: string[] = [];
  if (input.kubeconfigUserName === '') problems.push('the kubeconfig user name is empty');
  input.execArgs.forEach((arg, i) => {
    // Go's CSV reader turns \r\n into \n even inside quotes: such an arg cannot survive set-credentials.
    const back = readCsvRecord(csvQuote(arg));
    if (arg.includes('\r') || back === undefined || back.length !== 1 || back[0] !== arg) {
      problems.push(`the exec arg ${JSON.stringify(args[i])} cannot be passed through kubectl config set-credentials; write the kubeconfig YAML instead`);
    }
  });
  return { text: lines.join(' \\\n  '), problems };
}
