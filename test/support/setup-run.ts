/**
 * Running `setup` against an HTTPS test provider (kube-apiserver accepts only https:// issuers, so the
 * generated wiring is only complete for one), and turning its generated API-server settings back into
 * options for the API-server emulator.
 */
import { parse } from 'yaml';
import type { ApiServerOptions } from './api-server.js';
import { startIdentityProvider, type IdpOptions, type TestIdp } from './identity-provider.js';
import { FAKE_BROWSER, runPlugin, type PluginRun } from './plugin.js';
import { makeTestTls, type TestTls } from './tls.js';

let tlsPromise: Promise<TestTls> | undefined;
/** One test CA and server certificate (127.0.0.1) per test process. */
export function testTls(): Promise<TestTls> {
  tlsPromise ??= makeTestTls();
  return tlsPromise;
}

export async function startHttpsIdp(options: IdpOptions = {}): Promise<TestIdp> {
  const tls = await testTls();
  return startIdentityProvider({ ...options, https: { certPem: tls.certPem, keyPem: tls.keyPem } });
}

/** The environment the plugin and the fake browser need to trust the test CA. */
export async function tlsEnv(): Promise<Record<string, string>> {
  const tls = await testTls();
  return { NODE_EXTRA_CA_CERTS: tls.caPath, FAKE_BROWSER_CA: tls.caPath };
}

/** The login flags of a setup run against `idp` (issuer, client, the fake browser, a free port). */
export function loginFlags(idp: TestIdp, issuer: string = idp.issuer): string[] {
  return [`--oidc-issuer-url=${issuer}`, `--oidc-client-id=${idp.clientId}`, `--browser-command=${FAKE_BROWSER}`, '--listen-address=127.0.0.1:0'];
}

export interface SetupJson {
  issuer: { given: string; discovered: string };
  claims: Record<string, unknown>;
  signingAlg: string | null;
  refreshTokenReceived: boolean;
  apiServer: { authenticated: true; username: string; groups: string[] } | { authenticated: false; error: string };
  findings: Array<{ code: string; severity: 'error' | 'warning' | 'info'; message: string; fix: string }>;
  pkceCheck: { result: string; reason?: string } | null;
  artifacts: {
    kubeconfigUser: { text: string; problems: string[] };
    setCredentials: { text: string; problems: string[] };
    apiServerFlags: { text: string; problems: string[]; flags: string[] };
    authenticationConfiguration: { text: string; problems: string[]; apiVersion: string };
    eks: { associate: { text: string; problems: string[] }; eksctl: { text: string; problems: string[] } };
    gke: { text: string; problems: string[] };
    aks: { json: { text: string; problems: string[] }; command: { text: string; problems: string[] } };
    rbac: { text: string; problems: string[] };
  };
  kubeconfig: { path: string; backupPath?: string; userAction: string; contextAction?: string; context?: string } | null;
}

export async function runSetup(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<PluginRun> {
  return runPlugin(['setup', ...args], { env: { ...(await tlsEnv()), ...env }, timeoutMs: 60_000 });
}

/** Runs setup with --output=json and parses stdout; fails with setup's stderr when it did not succeed. */
export async function runSetupJson(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<{ run: PluginRun; json: SetupJson }> {
  const run = await runSetup([...args, '--output=json'], env);
  if (run.code !== 0) throw new Error(`setup exited ${String(run.code)}:\n${run.stderr}`);
  return { run, json: JSON.parse(run.stdout) as SetupJson };
}

export function findingCodes(json: SetupJson): string[] {
  return json.findings.map((finding) => finding.code);
}

/** kube-apiserver --oidc-* flags (as setup prints them) → emulator options. */
export function apiServerOptionsFromFlags(flags: readonly string[], issuerCaPem: string): ApiServerOptions {
  const values = new Map<string, string[]>();
  for (const flag of flags) {
    const match = /^--(oidc-[a-z-]+)=(.*)$/s.exec(flag);
    if (!match) throw new Error(`not an --oidc-* flag: ${flag}`);
    values.set(match[1] ?? '', [...(values.get(match[1] ?? '') ?? []), match[2] ?? '']);
  }
  const one = (name: string): string | undefined => values.get(name)?.at(-1);
  const issuer = one('oidc-issuer-url');
  const clientId = one('oidc-client-id');
  if (issuer === undefined || clientId === undefined) throw new Error('the flags lack the issuer or the client id');
  const options: ApiServerOptions = { issuer, audiences: [clientId], issuerCaPem, usernameClaim: one('oidc-username-claim') ?? 'sub' };
  const usernamePrefix = one('oidc-username-prefix');
  if (usernamePrefix !== undefined) options.usernamePrefix = usernamePrefix;
  const groupsClaim = one('oidc-groups-claim');
  if (groupsClaim !== undefined) options.groupsClaim = groupsClaim;
  const groupsPrefix = one('oidc-groups-prefix');
  if (groupsPrefix !== undefined) options.groupsPrefix = groupsPrefix;
  const required = values.get('oidc-required-claim');
  if (required !== undefined) {
    options.requiredClaims = Object.fromEntries(required.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  }
  const algs = one('oidc-signing-algs');
  if (algs !== undefined) options.signingAlgs = algs.split(',');
  return options;
}

/**
 * An AuthenticationConfiguration with one jwt authenticator in claim mode → emulator options. All nine
 * algorithms are allowed with --authentication-config (kubernetes.md §2.1).
 */
export function apiServerOptionsFromAuthenticationConfiguration(yamlText: string, issuerCaPem: string): ApiServerOptions {
  const config = parse(yamlText) as {
    kind: string;
    jwt: Array<{
      issuer: { url: string; audiences: string[] };
      claimMappings: { username: { claim: string; prefix: string }; groups?: { claim: string; prefix: string } };
      claimValidationRules?: Array<{ claim: string; requiredValue: string }>;
    }>;
  };
  if (config.kind !== 'AuthenticationConfiguration' || config.jwt.length !== 1) throw new Error('expected one jwt authenticator');
  const jwt = config.jwt[0];
  if (jwt === undefined) throw new Error('no jwt authenticator');
  const options: ApiServerOptions = {
    issuer: jwt.issuer.url,
    audiences: jwt.issuer.audiences,
    issuerCaPem,
    usernameClaim: jwt.claimMappings.username.claim,
    // The file states the prefix explicitly; "" means none (the emulator's '-').
    usernamePrefix: jwt.claimMappings.username.prefix === '' ? '-' : jwt.claimMappings.username.prefix,
    signingAlgs: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'],
  };
  if (jwt.claimMappings.groups) {
    options.groupsClaim = jwt.claimMappings.groups.claim;
    options.groupsPrefix = jwt.claimMappings.groups.prefix;
  }
  if (jwt.claimValidationRules) options.requiredClaims = Object.fromEntries(jwt.claimValidationRules.map((rule) => [rule.claim, rule.requiredValue]));
  return options;
}
