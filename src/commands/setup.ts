/**
 * setup: log in once without the cache, then check the token the way kube-apiserver will and print all the
 * wiring a cluster needs. kubelogin prints only the claims and a set-credentials command; we also predict
 * the username and groups, report what would go wrong with a fix for each, and generate the kubeconfig
 * entry, API-server settings (flags and AuthenticationConfiguration), EKS/GKE/AKS settings and RBAC.
 */
import { DEFAULT_SIGNING_ALG, APISERVER_SIGNING_ALGS, apiServerView, type ApiServerView, type ClaimMapping } from '../core/cluster-auth.js';
import type { ProviderConfig, SetupConfig } from '../core/config.js';
import { IDP_PRESETS } from '../core/idp-presets.js';
import { findSetupProblems, type Finding, type PkceCheck } from '../core/setup-findings.js';
import { buildWiring, type Artifact, type Wiring } from '../core/wiring.js';
import type { Logger } from '../system/log.js';

/** What setup needs from the OIDC layer (src/oidc), injected so that this module stays testable. */
export interface SetupProvider {
  login(): Promise<{ claims: Record<string, unknown>; signingAlg: string | undefined; refreshToken: string | undefined }>;
  checkPkce(): Promise<PkceCheck>;
  metadata(): Promise<Record<string, unknown>>;
}

export interface SetupDeps {
  /** The discovery document as kube-apiserver fetches it (exact issuer). */
  probeDiscovery(issuerUrl: string, headers: Record<string, string>): Promise<{ issuer: string; metadata: Record<string, unknown> }>;
  openProvider(provider: ProviderConfig): Promise<SetupProvider>;
  log: Logger;
}

export interface SetupResult {
  issuer: { given: string; discovered: string };
  claims: Record<string, unknown>;
  signingAlg: string | undefined;
  refreshTokenReceived: boolean;
  mapping: ClaimMapping;
  apiServer: ApiServerView;
  findings: Finding[];
  pkceCheck: PkceCheck | undefined;
  rbac: SetupConfig['rbac'];
  wiring: Wiring;
}

/** Flags that only steer this run of setup: never copied into the kubeconfig entry. */
const NOT_FOR_KUBECONFIG = new Set([
  'idp', 'username-claim', 'username-prefix', 'groups-claim', 'groups-prefix', 'required-claim', 'kubernetes-version', 'check-pkce',
  'output', 'show-secrets', 'write-kubeconfig', 'context', 'user', 'rbac-role', 'rbac-namespace',
  'v', 'vmodule', 'log_dir', 'log_file', 'log_file_max_size', 'stderrthreshold', 'log_backtrace_at',
  'logtostderr', 'alsologtostderr', 'skip_headers', 'skip_log_headers', 'add_dir_header', 'one_output',
]);
const SECRET_FLAGS = ['oidc-client-secret', 'password'] as const;

export async function runSetup(config: SetupConfig, explicit: ReadonlyArray<[string, string[] | true]>, deps: SetupDeps): Promise<SetupResult> {
  const { log } = deps;
  const preset = IDP_PRESETS[config.idp];
  const given = config.provider.issuerUrl;
  const probe = await deps.probeDiscovery(given, config.provider.requestHeaders);
  if (probe.issuer !== given) log.warn(`the provider's issuer is ${probe.issuer}, not ${given}: using ${probe.issuer}`);
  const provider: ProviderConfig = { ...config.provider, issuerUrl: probe.issuer };

  const idp = await deps.openProvider(provider);
  log.info('Authentication in progress...');
  const tokens = await idp.login();
  let pkceCheck: PkceCheck | undefined;
  if (config.checkPkce) {
    log.info('Checking that the provider enforces PKCE: log in once more (a second authorization is redeemed with a wrong code_verifier)...');
    pkceCheck = await idp.checkPkce();
  }
  const metadata = await idp.metadata().catch(() => probe.metadata);

  const tokenAlg = tokens.signingAlg;
  const algSupported = tokenAlg !== undefined && (APISERVER_SIGNING_ALGS as readonly string[]).includes(tokenAlg);
  const mapping: ClaimMapping = {
    issuerUrl: probe.issuer,
    clientId: audienceFor(config, tokens.claims),
    usernameClaim: config.cluster.usernameClaim,
    usernamePrefix: config.cluster.usernamePrefix,
    groupsClaim: config.cluster.groupsClaim,
    groupsPrefix: config.cluster.groupsPrefix,
    requiredClaims: config.cluster.requiredClaims,
    signingAlgs: algSupported && tokenAlg !== DEFAULT_SIGNING_ALG ? [tokenAlg] : [DEFAULT_SIGNING_ALG],
  };
  const view = apiServerView(mapping, tokens.claims);
  const advertised = metadata['code_challenge_methods_supported'];
  const findings = findSetupProblems({
    preset,
    flagIssuer: given,
    discoveredIssuer: probe.issuer,
    mapping,
    claims: tokens.claims,
    tokenAlg,
    view,
    refreshTokenReceived: tokens.refreshToken !== undefined,
    scopes: provider.extraScopes,
    pkceMethodsAdvertised: Array.isArray(advertised) ? advertised.filter((method): method is string => typeof method === 'string') : undefined,
    pkceCheck,
  });

  const firstPort = config.login.listenAddresses[0]?.port || 8000;
  const wiring = buildWiring({
    mapping,
    kubeconfigUserName: config.kubeconfig.userName,
    execArgs: kubeconfigArgs(explicit, provider, config.presetArgs),
    secretFlags: SECRET_FLAGS,
    showSecrets: config.showSecrets,
    kubernetesVersion: config.kubernetesVersion,
    identity: view.authenticated ? { username: view.username, groups: view.groups } : undefined,
    rbac: config.rbac,
    gke: {
      redirectUri: provider.redirectUrl ?? `http://localhost:${firstPort}`,
      scopes: ['openid', ...provider.extraScopes],
      clientSecret: provider.clientSecret,
      extraParams: provider.authRequestExtraParams,
    },
  });
  return {
    issuer: { given, discovered: probe.issuer },
    claims: tokens.claims,
    signingAlg: tokenAlg,
    refreshTokenReceived: tokens.refreshToken !== undefined,
    mapping,
    apiServer: view,
    findings,
    pkceCheck,
    rbac: config.rbac,
    wiring,
  };
}

/** The API server's audience: the client id, or with --oidc-use-access-token the access token's audience. */
function audienceFor(config: SetupConfig, claims: Record<string, unknown>): string {
  if (!config.provider.useAccessToken) return config.provider.clientId;
  const aud = claims['aud'];
  if (typeof aud === 'string') return aud;
  if (Array.isArray(aud) && typeof aud[0] === 'string') return aud[0];
  return config.provider.clientId;
}

/**
 * The get-token arguments of the kubeconfig entry: every login flag given to setup, in definition order
 * (as kubelogin), with the issuer exactly as discovered, scopes as one space-separated value (a comma would
 * be split by `kubectl config set-credentials --exec-arg`), and what the --idp preset filled in.
 */
export function kubeconfigArgs(explicit: ReadonlyArray<[string, string[] | true]>, provider: ProviderConfig, presetArgs: readonly string[]): string[] {
  const args = ['get-token'];
  for (const [name, value] of explicit) {
    if (NOT_FOR_KUBECONFIG.has(name)) continue;
    if (name === 'oidc-issuer-url') args.push(`--oidc-issuer-url=${provider.issuerUrl}`);
    else if (name === 'oidc-extra-scope') args.push(`--oidc-extra-scope=${provider.extraScopes.join(' ')}`);
    else if (value === true) args.push(`--${name}`);
    else for (const item of value) args.push(`--${name}=${item}`);
  }
  return [...args, ...presetArgs];
}

export interface KubeconfigWrite {
  path: string;
  backupPath: string | undefined;
  userAction: string;
  contextAction: string | undefined;
  context: string | undefined;
}

/** The object printed by --output=json: everything a script needs, secrets redacted unless --show-secrets. */
export function setupJson(result: SetupResult, written: KubeconfigWrite | undefined): Record<string, unknown> {
  const { wiring } = result;
  const artifact = (item: Artifact): Record<string, unknown> => ({ text: item.text, problems: item.problems });
  return {
    issuer: result.issuer,
    claims: result.claims,
    signingAlg: result.signingAlg ?? null,
    refreshTokenReceived: result.refreshTokenReceived,
    apiServer: result.apiServer.authenticated
      ? { authenticated: true, username: result.apiServer.username, groups: result.apiServer.groups }
      : { authenticated: false, error: result.apiServer.error },
    mapping: result.mapping,
    findings: result.findings,
    pkceCheck: result.pkceCheck ?? null,
    artifacts: {
      kubeconfigUser: artifact(wiring.kubeconfigUser),
      setCredentials: artifact(wiring.setCredentials),
      apiServerFlags: { ...artifact(wiring.apiServerFlags), flags: wiring.apiServerFlags.flags },
      authenticationConfiguration: { ...artifact(wiring.authenticationConfiguration), apiVersion: wiring.authenticationConfiguration.apiVersion },
      eks: { associate: artifact(wiring.eks.associate), eksctl: artifact(wiring.eks.eksctl) },
      gke: artifact(wiring.gke),
      aks: { json: artifact(wiring.aks.json), command: artifact(wiring.aks.command) },
      rbac: artifact(wiring.rbac),
    },
    kubeconfig: written ?? null,
  };
}

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** The human report (stderr). It starts like kubelogin's, then adds what kubelogin leaves to the user. */
export function formatSetupText(result: SetupResult, options: { showSecrets: boolean; written: KubeconfigWrite | undefined }): string {
  const { wiring } = result;
  const out: string[] = [];
  const block = (text: string, language = ''): void => {
    out.push('```' + language, text.replace(/\n+$/, ''), '```', '');
  };
  const artifact = (item: Artifact, language = ''): void => {
    if (item.problems.length === 0) block(item.text, language);
    else out.push(...item.problems.map((problem) => `Not generated: ${problem}`), '');
  };

  out.push('## Authenticated with the OpenID Connect Provider', '', 'You got the token with the following claims:', '');
  block(JSON.stringify(result.claims, null, 2));

  out.push('## What the API server will see', '');
  if (result.apiServer.authenticated) {
    out.push(`Username: ${result.apiServer.username}`, `Groups:   ${result.apiServer.groups.join(', ')}`, '');
  } else {
    out.push(`The API server would REJECT this token: ${result.apiServer.error}`, '');
  }

  out.push('## Findings', '');
  if (result.pkceCheck !== undefined) {
    const text = { enforced: 'the provider enforces PKCE (a wrong code_verifier was refused with invalid_grant)', 'not-enforced': 'the provider does NOT enforce PKCE', inconclusive: 'inconclusive' }[result.pkceCheck.result];
    out.push(`PKCE check: ${text}`, '');
  }
  if (result.findings.length === 0) out.push('No problems found.', '');
  for (const finding of [...result.findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity])) {
    out.push(`${finding.severity.toUpperCase()} ${finding.code}: ${finding.message}`, `  fix: ${finding.fix}`, '');
  }

  out.push('## Set up the kubeconfig', '');
  if (options.written !== undefined) {
    const { written } = options;
    out.push(`Wrote the user "${wiring.kubeconfigUser.entry.name}" (${written.userAction}) to ${written.path}${written.backupPath ? ` (backup: ${written.backupPath})` : ''}.`);
    if (written.context !== undefined) out.push(`The context "${written.context}" uses it (${written.contextAction}): kubectl config use-context ${written.context}`);
    out.push('');
  }
  out.push(
    'The entry runs kubectl-oidc_login directly (command: kubectl-oidc_login), not through "kubectl oidc-login":',
    'kubectl runs it on every command, and the indirection would start a second kubectl process each time.',
    'It needs kubectl-oidc_login on the PATH that kubectl sees.',
    '',
  );
  out.push('You can run the following command to set up the kubeconfig (kubectl 1.30 or later):', '');
  artifact(wiring.setCredentials);
  out.push('or add this user to the kubeconfig (any kubectl version):', '');
  artifact(wiring.kubeconfigUser, 'yaml');

  out.push('## Configure the API server', '', 'kube-apiserver flags:', '');
  artifact(wiring.apiServerFlags);
  out.push(`or the equivalent AuthenticationConfiguration (${wiring.authenticationConfiguration.apiVersion}; kube-apiserver --authentication-config=FILE, Kubernetes 1.30 or later):`, '');
  artifact(wiring.authenticationConfiguration, 'yaml');

  out.push('## Managed Kubernetes', '', 'Amazon EKS:', '');
  artifact(wiring.eks.associate);
  out.push('or with eksctl:', '');
  artifact(wiring.eks.eksctl, 'yaml');
  out.push('Google GKE (Identity Service for GKE):', '');
  artifact(wiring.gke);
  out.push('Azure AKS (structured authentication, preview):', '');
  artifact(wiring.aks.command);
  out.push('jwt-authenticator.json:', '');
  artifact(wiring.aks.json, 'json');

  const scope = result.rbac.namespace === undefined ? 'cluster-wide' : `in the namespace ${result.rbac.namespace}`;
  out.push('## RBAC', '', `Bindings of the ClusterRole ${result.rbac.clusterRole} (${scope}) for the user and each group, with the exact names the API server will see:`, '');
  artifact(wiring.rbac, 'yaml');

  if (!options.showSecrets && hasSecret(wiring)) {
    out.push('Secrets are shown as REDACTED: run setup with --show-secrets to print them (--write-kubeconfig always writes them).', '');
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

function hasSecret(wiring: Wiring): boolean {
  const args = wiring.kubeconfigUser.entry.user.exec['args'];
  return Array.isArray(args) && args.some((arg) => typeof arg === 'string' && SECRET_FLAGS.some((flag) => arg.startsWith(`--${flag}=`)));
}
