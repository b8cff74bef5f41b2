/**
 * The cluster side of OIDC: how kube-apiserver turns a verified token into a username and groups
 * (kubernetes.md §2.1–2.2, the JWT authenticator that the --oidc-* flags and AuthenticationConfiguration
 * share). Pure: `setup` uses it to predict what `kubectl auth whoami` will show, and every generated
 * artifact (flags, AuthenticationConfiguration, EKS, GKE, AKS, RBAC) is built from one ClaimMapping.
 */

/** The algorithms kube-apiserver accepts in --oidc-signing-algs (all of them with --authentication-config). */
export const APISERVER_SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
/** kube-apiserver's --oidc-signing-algs default. */
export const DEFAULT_SIGNING_ALG = 'RS256';

export interface ClaimMapping {
  /** Byte-identical to the provider's discovery `issuer` (and the tokens' `iss`): the API server compares exactly. */
  issuerUrl: string;
  /** The client id: the audience the API server accepts. */
  clientId: string;
  usernameClaim: string;
  /**
   * As --oidc-username-prefix: undefined when not set (then the API server prefixes `<issuer>#` unless the
   * claim is `email`), `-` for no prefix, anything else literally.
   */
  usernamePrefix: string | undefined;
  /** undefined: no groups are mapped. */
  groupsClaim: string | undefined;
  /** As --oidc-groups-prefix: undefined or '' for none. */
  groupsPrefix: string | undefined;
  /** --oidc-required-claim key=value, in the order given. */
  requiredClaims: Array<[string, string]>;
  /** --oidc-signing-algs: the algorithms the tokens are signed with (RS256 unless the provider uses another). */
  signingAlgs: string[];
}

/** The username prefix the API server applies (the flag rules made explicit, as AuthenticationConfiguration needs it). */
export function effectiveUsernamePrefix(mapping: Pick<ClaimMapping, 'issuerUrl' | 'usernameClaim' | 'usernamePrefix'>): string {
  const prefix = mapping.usernamePrefix;
  if (prefix === '-') return '';
  if (prefix === undefined || prefix === '') return mapping.usernameClaim === 'email' ? '' : `${mapping.issuerUrl}#`;
  return prefix;
}

export function effectiveGroupsPrefix(mapping: Pick<ClaimMapping, 'groupsPrefix'>): string {
  return mapping.groupsPrefix ?? '';
}

/** The group every authenticated user gets; never bind RBAC to it by accident. */
export const AUTHENTICATED_GROUP = 'system:authenticated';

export type ApiServerView =
  | { authenticated: true; username: string; groups: string[] }
  | { authenticated: false; error: string };

/**
 * What kube-apiserver makes of the claims of a token it has already verified (signature, iss, aud, exp):
 * steps 6–12 of kubernetes.md §2.2, with the API server's own error texts. `groups` ends with
 * system:authenticated, as `kubectl auth whoami` shows it.
 */
export function apiServerView(mapping: ClaimMapping, claims: Record<string, unknown>): ApiServerView {
  const fail = (error: string): ApiServerView => ({ authenticated: false, error });

  // Distributed claims: with a groups claim mapping and no groups claim, the API server fetches the
  // `_claim_sources` endpoint and fails the whole authentication when it cannot (Entra ID overage).
  if (mapping.groupsClaim !== undefined && !(mapping.groupsClaim in claims) && distributedClaimSource(claims, mapping.groupsClaim) !== undefined) {
    return fail(`oidc: could not expand distributed claims: the "${mapping.groupsClaim}" claim is distributed (_claim_names) and must be fetched from ${distributedClaimSource(claims, mapping.groupsClaim)}`);
  }

  const rawUsername = claims[mapping.usernameClaim];
  if (rawUsername === undefined) return fail(`oidc: parse username claims "${mapping.usernameClaim}": claim not present`);
  if (typeof rawUsername !== 'string') return fail(`oidc: parse username claims "${mapping.usernameClaim}": not a string`);
  if (mapping.usernameClaim === 'email' && 'email_verified' in claims) {
    const verified = claims['email_verified'];
    if (typeof verified !== 'boolean') return fail('oidc: parse "email_verified" claim: not a boolean');
    if (!verified) return fail('oidc: email not verified');
  }
  const username = effectiveUsernamePrefix(mapping) + rawUsername;

  const groups: string[] = [];
  // JSON null unmarshals to an empty list in Go: no groups, no error.
  if (mapping.groupsClaim !== undefined && mapping.groupsClaim in claims && claims[mapping.groupsClaim] !== null) {
    const rawGroups = claims[mapping.groupsClaim];
    const values = typeof rawGroups === 'string' ? [rawGroups] : rawGroups;
    if (!Array.isArray(values) || !values.every((value): value is string => typeof value === 'string')) {
      return fail(`oidc: parse groups claim "${mapping.groupsClaim}": not a string or string array`);
    }
    for (const group of values) groups.push(effectiveGroupsPrefix(mapping) + group);
  }

  for (const [claim, requiredValue] of mapping.requiredClaims) {
    const value = claims[claim];
    if (value === undefined) return fail(`oidc: required claim ${claim} not present`);
    if (typeof value !== 'string') return fail(`oidc: required claim ${claim} is not a string`);
    if (value !== requiredValue) return fail(`oidc: required claim ${claim} value does not match. Got = ${value}, want = ${requiredValue}`);
  }
  return { authenticated: true, username, groups: [...groups, AUTHENTICATED_GROUP] };
}

/** The endpoint a distributed claim points to, when the token carries one for `claim`. */
export function distributedClaimSource(claims: Record<string, unknown>, claim: string): string | undefined {
  const names = claims['_claim_names'];
  const sources = claims['_claim_sources'];
  if (!isObject(names) || !isObject(sources)) return undefined;
  const sourceName = names[claim];
  if (typeof sourceName !== 'string') return undefined;
  const source = sources[sourceName];
  if (!isObject(source)) return '(no endpoint)';
  return typeof source['endpoint'] === 'string' ? source['endpoint'] : '(no endpoint)';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
