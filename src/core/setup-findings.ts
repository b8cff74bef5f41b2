/**
 * What `setup` checks in a fresh login before anyone writes RBAC: the mistakes that make kube-apiserver
 * reject tokens or map the wrong identity (kubernetes.md §2, §4). Pure: every fact comes in as a value.
 * Each finding has a stable code (for scripts reading --output json), a severity and one concrete fix.
 */
import { APISERVER_SIGNING_ALGS, DEFAULT_SIGNING_ALG, distributedClaimSource, type ApiServerView, type ClaimMapping } from './cluster-auth.js';
import type { IdpPreset } from './idp-presets.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  code: string;
  severity: Severity;
  message: string;
  fix: string;
}

export type PkceCheck = { result: 'enforced' } | { result: 'not-enforced' } | { result: 'inconclusive'; reason: string };

export interface FindingInput {
  preset: IdpPreset;
  /** --oidc-issuer-url as given. */
  flagIssuer: string;
  /** The `issuer` of the discovery document: what the tokens carry and the API server must be given. */
  discoveredIssuer: string;
  mapping: ClaimMapping;
  claims: Record<string, unknown>;
  /** The `alg` of the token's JWS header. */
  tokenAlg: string | undefined;
  view: ApiServerView;
  refreshTokenReceived: boolean;
  /** The scopes requested besides openid. */
  scopes: string[];
  /** discovery `code_challenge_methods_supported`. */
  pkceMethodsAdvertised: readonly string[] | undefined;
  pkceCheck: PkceCheck | undefined;
}

const MIN_LIFETIME_SEC = 5 * 60;
const MAX_LIFETIME_SEC = 24 * 60 * 60;
const NAMESPACED_GROUPS = /^https?:\/\/.+\/(?:groups|roles)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OKTA_GROUPS_LIMIT = 100;
/** Findings that already explain why apiServerView rejects the token. */
const CLAIM_REJECTIONS = new Set(['USERNAME_CLAIM_MISSING', 'USERNAME_CLAIM_NOT_STRING', 'EMAIL_NOT_VERIFIED', 'EMAIL_VERIFIED_NOT_BOOLEAN', 'GROUPS_CLAIM_NOT_STRINGS', 'ENTRA_GROUPS_OVERAGE']);

export function findSetupProblems(input: FindingInput): Finding[] {
  const findings: Finding[] = [];
  const add = (code: string, severity: Severity, message: string, fix: string): void => {
    findings.push({ code, severity, message, fix });
  };
  const { mapping, claims, preset } = input;

  checkIssuer(input, add);

  // The username.
  const username = claims[mapping.usernameClaim];
  if (username === undefined) {
    const stringClaims = Object.keys(claims).filter((name) => typeof claims[name] === 'string' && !['iss', 'aud', 'nonce', 'at_hash', 'c_hash', 'sid', 'jti', 'azp'].includes(name));
    const scopeHint = mapping.usernameClaim === 'email' && !input.scopes.includes('email') ? 'request the email scope (--oidc-extra-scope=email)' : `make the provider include "${mapping.usernameClaim}"`;
    add(
      'USERNAME_CLAIM_MISSING',
      'error',
      `the token has no "${mapping.usernameClaim}" claim, so the API server rejects it`,
      `${scopeHint}, or pick a claim the token has with --username-claim (${stringClaims.join(', ') || 'none'})`,
    );
  } else if (typeof username !== 'string') {
    add('USERNAME_CLAIM_NOT_STRING', 'error', `the "${mapping.usernameClaim}" claim is not a string, so the API server rejects the token`, 'pick a string claim with --username-claim');
  } else if (mapping.usernameClaim === 'email') {
    const verified = claims['email_verified'];
    if (verified === false) {
      add(
        'EMAIL_NOT_VERIFIED',
        'error',
        'email_verified is false: kube-apiserver rejects the token ("oidc: email not verified")',
        preset.name === 'keycloak'
          ? 'set "Email verified" on the Keycloak user (or let users verify their address), or use --username-claim=sub'
          : 'have the user verify the address at the provider, or use another username claim such as --username-claim=sub',
      );
    } else if (verified === undefined) {
      add(
        'EMAIL_VERIFIED_MISSING',
        'warning',
        'the token has an email but no email_verified claim: the API server then accepts any address the provider puts there',
        preset.name === 'entra'
          ? 'Entra ID lets administrators set any email and sends no email_verified: use --username-claim=oid (stable) or preferred_username'
          : 'make sure the provider only issues addresses the user owns, or use a stable claim such as --username-claim=sub',
      );
    } else if (typeof verified !== 'boolean') {
      add('EMAIL_VERIFIED_NOT_BOOLEAN', 'error', 'email_verified is not a JSON boolean: the API server rejects the token', 'fix the claim mapping at the provider so that email_verified is true or false');
    }
  }
  if (mapping.usernameClaim === 'preferred_username' || mapping.usernameClaim === 'name') {
    add(
      'USERNAME_CLAIM_MUTABLE',
      'info',
      `"${mapping.usernameClaim}" can be changed by users or administrators, so a renamed account could inherit someone else's RBAC bindings`,
      preset.name === 'entra' ? 'prefer --username-claim=oid (stable per tenant) for bindings that matter' : 'prefer a stable claim such as --username-claim=sub for bindings that matter',
    );
  }
  for (const [name, prefix] of [
    ['--username-prefix', mapping.usernamePrefix],
    ['--groups-prefix', mapping.groupsPrefix],
  ] as const) {
    if (prefix !== undefined && prefix.includes('system:')) {
      add('PREFIX_SYSTEM', 'error', `${name} contains "system:", which is reserved for Kubernetes' own users and groups`, `choose another prefix, e.g. ${name}=oidc:`);
    }
  }

  checkGroups(input, add);

  // Required claims and anything else the API server would reject, stated in its own words.
  if (!input.view.authenticated && !findings.some((finding) => CLAIM_REJECTIONS.has(finding.code))) {
    const required = /required claim/.test(input.view.error);
    add(
      required ? 'REQUIRED_CLAIM_MISMATCH' : 'APISERVER_REJECTS',
      'error',
      `the API server would reject this token: ${input.view.error}`,
      required ? 'check the --required-claim values against the claims above' : 'fix the claim mapping',
    );
  }

  // Signature algorithm.
  if (input.tokenAlg !== undefined && input.tokenAlg !== DEFAULT_SIGNING_ALG) {
    const supported = (APISERVER_SIGNING_ALGS as readonly string[]).includes(input.tokenAlg);
    add(
      supported ? 'SIGNING_ALG_NOT_RS256' : 'SIGNING_ALG_UNSUPPORTED',
      supported ? 'warning' : 'error',
      `the provider signs tokens with ${input.tokenAlg}; kube-apiserver's --oidc-signing-algs defaults to RS256 and rejects them otherwise`,
      supported
        ? `the generated flags include --oidc-signing-algs=${input.tokenAlg} (AuthenticationConfiguration accepts ${input.tokenAlg} as is)`
        : `kube-apiserver supports ${APISERVER_SIGNING_ALGS.join(', ')}: configure the provider to sign ID tokens with one of them`,
    );
  }

  // Refresh tokens.
  if (!input.refreshTokenReceived) {
    const asked = input.scopes.includes('offline_access') && preset.name !== 'google';
    add(
      'NO_REFRESH_TOKEN',
      'warning',
      `the provider returned no refresh token: users log in with the browser again whenever the token expires${asked ? ' (offline_access was requested)' : ''}`,
      asked ? 'allow the refresh-token grant for this client at the provider' : preset.refreshTokenFix,
    );
  }

  // PKCE.
  const advertised = input.pkceMethodsAdvertised;
  if (advertised === undefined || advertised.length === 0) {
    add(
      'PKCE_NOT_ADVERTISED',
      'info',
      'the discovery document does not advertise PKCE (code_challenge_methods_supported); the plugin sends S256 anyway',
      input.pkceCheck === undefined ? 'run setup with --check-pkce to see whether the provider enforces it' : 'see the PKCE check result',
    );
  } else if (!advertised.includes('S256')) {
    add('PKCE_S256_NOT_SUPPORTED', 'warning', `the provider advertises PKCE methods ${advertised.join(', ')} but not S256`, 'enable S256 PKCE at the provider; plain PKCE protects nothing');
  }
  if (input.pkceCheck?.result === 'not-enforced') {
    add(
      'PKCE_NOT_ENFORCED',
      'warning',
      'the provider issued tokens for a wrong code_verifier: it does not enforce PKCE, so an intercepted authorization code can be redeemed',
      preset.name === 'okta' ? 'tick "Require PKCE as additional verification" in the Okta app' : 'require PKCE (S256) for this client at the provider',
    );
  } else if (input.pkceCheck?.result === 'inconclusive') {
    add('PKCE_CHECK_INCONCLUSIVE', 'info', `the PKCE check was inconclusive: ${input.pkceCheck.reason}`, 'run setup --check-pkce again, or check by hand (oidc-setup-guide.md)');
  }

  checkLifetime(claims, add);
  if (preset.name === 'google' && typeof claims['hd'] === 'string' && !mapping.requiredClaims.some(([claim]) => claim === 'hd')) {
    add('GOOGLE_DOMAIN_NOT_PINNED', 'info', `any Google account can get a token for this client; this one is from the Workspace domain ${claims['hd']}`, `pin the domain with --required-claim=hd=${claims['hd']}`);
  }
  return findings;
}

type Add = (code: string, severity: Severity, message: string, fix: string) => void;

function checkIssuer(input: FindingInput, add: Add): void {
  if (input.flagIssuer !== input.discoveredIssuer) {
    add(
      'ISSUER_MISMATCH',
      'error',
      `--oidc-issuer-url ${input.flagIssuer} differs from the issuer in the provider's discovery document, ${input.discoveredIssuer}; kube-apiserver compares them byte for byte and would never accept a token`,
      `use ${input.discoveredIssuer} exactly (the generated kubeconfig and cluster settings already do)`,
    );
  }
  let url: URL | undefined;
  try {
    url = new URL(input.discoveredIssuer);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:') {
    add('ISSUER_NOT_HTTPS', 'error', `kube-apiserver accepts only https:// issuers, not ${input.discoveredIssuer}`, 'serve the provider over https');
  }
  if (input.preset.name === 'entra' && /\/(?:common|organizations|consumers)\/|\{tenantid\}/i.test(input.discoveredIssuer)) {
    add('ENTRA_MULTI_TENANT_ISSUER', 'error', `${input.discoveredIssuer} is a multi-tenant endpoint whose issuer is a template`, 'use https://login.microsoftonline.com/<tenant id>/v2.0');
  }
}

function checkGroups(input: FindingInput, add: Add): void {
  const { mapping, claims, preset } = input;
  const namespaced = Object.keys(claims).filter((name) => NAMESPACED_GROUPS.test(name) && name !== mapping.groupsClaim);
  if (mapping.groupsClaim === undefined) {
    if (namespaced.length > 0) {
      add('NAMESPACED_GROUPS_CLAIM', 'info', `no groups are mapped, but the token has the namespaced claim ${namespaced.join(', ')}`, `map it with --groups-claim=${namespaced[0]}`);
    }
    return;
  }
  const claim = mapping.groupsClaim;
  const source = distributedClaimSource(claims, claim);
  if (!(claim in claims) && source !== undefined) {
    add(
      'ENTRA_GROUPS_OVERAGE',
      'error',
      `the token has no "${claim}" claim but a link to it (_claim_names, ${source}): the user is in more groups than fit in a token (Entra ID: 200), and kube-apiserver then fails the whole login`,
      'in the Entra app manifest set "groupMembershipClaims": "ApplicationGroup" and assign only the groups the cluster needs, or use app roles (--groups-claim=roles)',
    );
    return;
  }
  if (!(claim in claims) || claims[claim] === null) {
    if (namespaced.length > 0) {
      add('NAMESPACED_GROUPS_CLAIM', 'warning', `the token has no "${claim}" claim but the namespaced claim ${namespaced.join(', ')}`, `map it with --groups-claim=${namespaced[0]}`);
    } else {
      add('GROUPS_CLAIM_MISSING', 'warning', `the token has no "${claim}" claim: the API server will see no groups for this user`, preset.groupsFix);
    }
    return;
  }
  const value = claims[claim];
  const groups = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  if (groups === undefined || !groups.every((group): group is string => typeof group === 'string')) {
    add('GROUPS_CLAIM_NOT_STRINGS', 'error', `the "${claim}" claim is not a string or a list of strings, so the API server rejects the token`, 'map the groups to a list of names at the provider, or pick another --groups-claim');
    return;
  }
  if (groups.some((group) => group.startsWith('/'))) {
    add(
      'KEYCLOAK_GROUP_PATHS',
      'warning',
      `the groups are full paths (${groups.find((group) => group.startsWith('/'))}): RoleBindings must name them with the leading slash`,
      'turn off "Full group path" in the Keycloak Group Membership mapper, or bind the groups with their paths as generated below',
    );
  }
  if (groups.length > 0 && groups.every((group) => GUID.test(group))) {
    add('GROUPS_ARE_IDS', 'info', 'the groups are object IDs (GUIDs), not names: RoleBindings must name the IDs', 'bind the IDs as generated below; for names, emit cloud-only group names or use app roles');
  }
  if (preset.name === 'okta' && groups.length >= OKTA_GROUPS_LIMIT) {
    add('OKTA_GROUPS_TRUNCATED', 'warning', `the token has ${groups.length} groups: Okta silently truncates the groups claim at ${OKTA_GROUPS_LIMIT}`, 'filter the groups claim (e.g. "Starts with k8s-") so that only the cluster\'s groups are sent');
  }
}

function checkLifetime(claims: Record<string, unknown>, add: Add): void {
  const iat = claims['iat'];
  const exp = claims['exp'];
  if (typeof iat !== 'number' || typeof exp !== 'number') return;
  const lifetime = exp - iat;
  if (lifetime < MIN_LIFETIME_SEC) {
    add(
      'TOKEN_LIFETIME_SHORT',
      'warning',
      `the token is valid for ${formatSeconds(lifetime)} only: kubectl will refresh or log in very often`,
      'raise the ID token lifetime at the provider to at least 5 minutes (15–60 minutes is common)',
    );
  } else if (lifetime > MAX_LIFETIME_SEC) {
    add(
      'TOKEN_LIFETIME_LONG',
      'warning',
      `the token is valid for ${formatSeconds(lifetime)}: the API server cannot revoke it, so a leaked token works that long`,
      'lower the ID token lifetime to at most 24 hours (an hour is common) and rely on refresh tokens',
    );
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}
