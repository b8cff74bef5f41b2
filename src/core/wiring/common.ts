/**
 * Shared pieces of the wiring: the types, YAML output options, secret redaction, and the checks every
 * cluster-side artifact makes on the claim mapping.
 */
import type { ToStringOptions } from 'yaml';
import { APISERVER_SIGNING_ALGS, type ClaimMapping } from '../cluster-auth.js';

export interface WiringInput {
  mapping: ClaimMapping;
  /** The kubeconfig user name (the caller's default: 'oidc'). */
  kubeconfigUserName: string;
  /** The exec entry's args after the command, with the real secret values. */
  execArgs: string[];
  /** Flag names (without dashes) whose values are secrets, e.g. 'oidc-client-secret'. */
  secretFlags: readonly string[];
  /** false: printed texts show REDACTED for secrets. `kubeconfigUser.entry` always has the real values. */
  showSecrets: boolean;
  kubernetesVersion: { major: number; minor: number } | undefined;
  /** The identity the API server will see (groups may include system:authenticated); undefined if it would reject the token. */
  identity: { username: string; groups: string[] } | undefined;
  rbac: { clusterRole: string; namespace: string | undefined };
  gke: { redirectUri: string; scopes: string[]; clientSecret: string | undefined; extraParams: Record<string, string> };
}

/** One printable piece of wiring. problems non-empty → print the problems instead of the text. */
export interface Artifact {
  text: string;
  problems: string[];
}

export const REDACTED = 'REDACTED';

/** kubectl's YAML style: sequences not indented under their key; no line folding of long values. */
export const YAML_OPTIONS: ToStringOptions = { indentSeq: false, lineWidth: 0 };

/** The args with every secret flag value replaced (`--flag=value` and `--flag value` forms). */
export function redactArgs(args: readonly string[], secretFlags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const previous = i > 0 ? args[i - 1] : undefined;
    if (previous !== undefined && secretFlags.some((flag) => previous === `--${flag}`)) {
      out.push(REDACTED);
      continue;
    }
    const flag = secretFlags.find((name) => arg.startsWith(`--${name}=`));
    out.push(flag === undefined ? arg : `--${flag}=${REDACTED}`);
  }
  return out;
}

/**
 * kube-apiserver's issuer URL rules (validation.go): https, no userinfo, query or fragment. The URL is
 * never normalised: it must stay byte-identical to the provider's discovery issuer.
 */
export function issuerProblems(issuerUrl: string): string[] {
  let url: URL;
  try {
    url = new URL(issuerUrl);
  } catch {
    return [`issuer URL ${JSON.stringify(issuerUrl)} is not a valid URL`];
  }
  const problems: string[] = [];
  if (url.protocol !== 'https:') problems.push(`issuer URL ${issuerUrl} must use https (kube-apiserver accepts no other scheme)`);
  if (url.username !== '' || url.password !== '') problems.push(`issuer URL ${issuerUrl} must not contain a username or password`);
  if (issuerUrl.includes('?')) problems.push(`issuer URL ${issuerUrl} must not contain a query`);
  if (issuerUrl.includes('#')) problems.push(`issuer URL ${issuerUrl} must not contain a fragment`);
  return problems;
}

/** The checks every cluster-side artifact shares: what no API server could be configured with. */
export function mappingProblems(mapping: ClaimMapping): string[] {
  const problems = issuerProblems(mapping.issuerUrl);
  if (mapping.clientId === '') problems.push('the client ID (audience) is empty');
  if (mapping.usernameClaim === '') problems.push('the username claim is empty');
  if (mapping.groupsClaim === '') problems.push('the groups claim is empty (leave it unset for no groups)');
  const seen = new Set<string>();
  for (const [key] of mapping.requiredClaims) {
    if (key === '') problems.push('a required claim has an empty name');
    else if (seen.has(key)) problems.push(`required claim ${key} is given twice (the API server keeps only one value)`);
    seen.add(key);
  }
  const allowed: readonly string[] = APISERVER_SIGNING_ALGS;
  const unsupported = mapping.signingAlgs.filter((alg) => !allowed.includes(alg));
  if (unsupported.length > 0) {
    problems.push(`kube-apiserver cannot verify tokens signed with ${unsupported.join(', ')} (it accepts ${APISERVER_SIGNING_ALGS.join(', ')})`);
  }
  return problems;
}

/** True when the tokens are signed with kube-apiserver's default algorithm only (no --oidc-signing-algs needed). */
export function usesDefaultSigningAlg(mapping: ClaimMapping): boolean {
  return mapping.signingAlgs.length === 0 || (mapping.signingAlgs.length === 1 && mapping.signingAlgs[0] === 'RS256');
}

/** The required claims as an object, for the formats that take a map (EKS, eksctl). */
export function requiredClaimsObject(mapping: ClaimMapping): Record<string, string> {
  return Object.fromEntries(mapping.requiredClaims);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys of `value` outside `allowed`, as problems (the API server decodes its config strictly). */
export function unknownKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): string[] {
  return Object.keys(value)
    .filter((key) => !allowed.includes(key))
    .map((key) => `${where}: unknown field ${JSON.stringify(key)}`);
}

/** Deep equality for JSON-like values (what a YAML/JSON round trip must preserve). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && jsonEqual(a[key], b[key]));
  }
  return false;
}
