/**
 * setup (first version): log in without the cache, show the token's claims, and print the kubeconfig
 * user entry as a ready `kubectl config set-credentials` command. All on stderr, like kubelogin.
 */
import type { LoginSettings } from '../core/config.js';
import { EXEC_API_V1 } from '../core/exec-credential.js';

export interface SetupReport {
  claims: Record<string, unknown>;
  /** The get-token arguments for the kubeconfig, secrets replaced unless showSecrets. */
  execArgs: string[];
  setCredentialsCommand: string;
}

/** Flags whose values are secrets: shown only with --show-secrets. */
const SECRET_FLAGS = new Set(['oidc-client-secret', 'password']);
/** Flags that only matter to this run of setup, not to the kubeconfig. */
const SETUP_ONLY_FLAGS = new Set(['v', 'show-secrets']);

/**
 * explicitFlags: the flags the user gave, in definition order, as [name, values]. Scopes are passed as one
 * space-separated value because `kubectl config set-credentials --exec-arg` splits values on commas.
 */
export function buildSetupReport(settings: LoginSettings, explicitFlags: ReadonlyArray<[string, string[] | true]>, claims: Record<string, unknown>, showSecrets: boolean): SetupReport {
  const execArgs = ['oidc-login', 'get-token'];
  for (const [name, value] of explicitFlags) {
    if (SETUP_ONLY_FLAGS.has(name)) continue;
    if (name === 'oidc-extra-scope') {
      execArgs.push(`--oidc-extra-scope=${settings.provider.extraScopes.join(' ')}`);
    } else if (value === true) {
      execArgs.push(`--${name}`);
    } else {
      for (const item of value) execArgs.push(`--${name}=${SECRET_FLAGS.has(name) && !showSecrets ? 'REDACTED' : item}`);
    }
  }
  const lines = [
    'kubectl config set-credentials oidc',
    `--exec-api-version=${EXEC_API_V1}`,
    '--exec-interactive-mode=Never',
    '--exec-command=kubectl',
    ...execArgs.map((arg) => `--exec-arg=${shellQuote(arg)}`),
  ];
  return { claims, execArgs, setCredentialsCommand: lines.join(' \\\n  ') };
}

export function formatSetupReport(report: SetupReport, secretsRedacted: boolean): string {
  const note = secretsRedacted ? '\nSecrets are shown as REDACTED: run setup with --show-secrets to include them.\n' : '';
  return [
    '## Authenticated with the OpenID Connect Provider',
    '',
    'You got the token with the following claims:',
    '',
    '```',
    JSON.stringify(report.claims, null, 2),
    '```',
    '',
    '## Set up the kubeconfig',
    '',
    'You can run the following command to set up the kubeconfig:',
    '',
    '```',
    report.setCredentialsCommand,
    '```',
    note,
  ].join('\n');
}

/** POSIX shell quoting: bare when safe, else single quotes (with ' written as '\''). */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
