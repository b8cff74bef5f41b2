/**
 * Self-managed clusters: the kube-apiserver --oidc-* flags and the equivalent structured
 * AuthenticationConfiguration (kubernetes.md §2.1, §2.3).
 */
import { Document, parse } from 'yaml';
import { effectiveGroupsPrefix, effectiveUsernamePrefix, type ClaimMapping } from '../cluster-auth.js';
import { isRecord, issuerProblems, mappingProblems, unknownKeys, usesDefaultSigningAlg, YAML_OPTIONS, type Artifact, type WiringInput } from './common.js';

export function buildApiServerFlags(mapping: ClaimMapping): Artifact & { flags: string[] } {
  const flags = [`--oidc-issuer-url=${mapping.issuerUrl}`, `--oidc-client-id=${mapping.clientId}`, `--oidc-username-claim=${mapping.usernameClaim}`];
  // An empty prefix is the flag's default: printing `--oidc-username-prefix=` would change nothing.
  if (mapping.usernamePrefix !== undefined && mapping.usernamePrefix !== '') flags.push(`--oidc-username-prefix=${mapping.usernamePrefix}`);
  if (mapping.groupsClaim !== undefined) {
    flags.push(`--oidc-groups-claim=${mapping.groupsClaim}`);
    if (mapping.groupsPrefix !== undefined && mapping.groupsPrefix !== '') flags.push(`--oidc-groups-prefix=${mapping.groupsPrefix}`);
  }
  for (const [key, value] of mapping.requiredClaims) flags.push(`--oidc-required-claim=${key}=${value}`);
  if (!usesDefaultSigningAlg(mapping)) flags.push(`--oidc-signing-algs=${mapping.signingAlgs.join(',')}`);

  const problems = mappingProblems(mapping);
  for (const [key] of mapping.requiredClaims) {
    // The flag value is split at the first '=' into key and value.
    if (key.includes('=')) problems.push(`required claim name ${key} contains '=': --oidc-required-claim cannot express it`);
  }
  for (const flag of flags) {
    if (/[\r\n]/.test(flag)) problems.push(`${JSON.stringify(flag)} contains a line break`);
  }
  return { text: flags.join('\n'), problems, flags };
}

export const AUTHN_CONFIG_V1 = 'apiserver.config.k8s.io/v1';
export const AUTHN_CONFIG_V1BETA1 = 'apiserver.config.k8s.io/v1beta1';

/** v1 from 1.34 (GA); v1beta1 from 1.30; v1beta1 when the version is unknown (accepted by every release with the feature on). */
export function authenticationConfigurationVersion(version: WiringInput['kubernetesVersion']): string {
  if (version !== undefined && (version.major > 1 || (version.major === 1 && version.minor >= 34))) return AUTHN_CONFIG_V1;
  return AUTHN_CONFIG_V1BETA1;
}

/** The `jwt[]` entry equivalent to the flags: the flag defaults made explicit, as the file format has none. */
export function jwtAuthenticator(mapping: ClaimMapping): Record<string, unknown> {
  const claimMappings: Record<string, unknown> = {
    username: { claim: mapping.usernameClaim, prefix: effectiveUsernamePrefix(mapping) },
  };
  if (mapping.groupsClaim !== undefined) claimMappings['groups'] = { claim: mapping.groupsClaim, prefix: effectiveGroupsPrefix(mapping) };
  const jwt: Record<string, unknown> = { issuer: { url: mapping.issuerUrl, audiences: [mapping.clientId] }, claimMappings };
  if (mapping.requiredClaims.length > 0) {
    jwt['claimValidationRules'] = mapping.requiredClaims.map(([claim, requiredValue]) => ({ claim, requiredValue }));
  }
  return jwt;
}

export function buildAuthenticationConfiguration(input: WiringInput): Artifact & { apiVersion: string } {
  const { mapping, kubernetesVersion } = input;
  const apiVersion = authenticationConfigurationVersion(kubernetesVersion);
  const doc = new Document({ apiVersion, kind: 'AuthenticationConfiguration', jwt: [jwtAuthenticator(mapping)] });
  doc.commentBefore =
    ' kube-apiserver --authentication-config=FILE (replaces all --oidc-* flags: the two cannot be combined).\n' +
    ` ${apiVersion === AUTHN_CONFIG_V1 ? 'v1 needs Kubernetes 1.34 or later' : 'v1beta1 needs Kubernetes 1.30 or later; use v1 from 1.34'}.`;
  const text = doc.toString(YAML_OPTIONS);

  const problems = mappingProblems(mapping);
  if (kubernetesVersion !== undefined && kubernetesVersion.major === 1 && kubernetesVersion.minor < 30) {
    problems.push('structured authentication configuration needs Kubernetes 1.30 or later; use the flags');
  }
  // Validate what a reader of the text gets, not the object it was made from.
  for (const problem of validateAuthenticationConfiguration(parse(text))) {
    if (!problems.includes(problem)) problems.push(problem);
  }
  return { text, problems, apiVersion };
}

const ISSUER_FIELDS = ['url', 'discoveryURL', 'certificateAuthority', 'audiences', 'audienceMatchPolicy', 'egressSelectorType'];

/**
 * The API server's own checks on an AuthenticationConfiguration (apiserver validation.go, as summarised
 * in kubernetes.md §2.3), for JWT authenticators in claim/prefix form or expression form. Strict like the
 * server's decoder: unknown fields are errors.
 */
export function validateAuthenticationConfiguration(config: unknown): string[] {
  if (!isRecord(config)) return ['the configuration is not a YAML mapping'];
  const problems = unknownKeys(config, ['apiVersion', 'kind', 'jwt', 'anonymous'], 'AuthenticationConfiguration');
  if (config['apiVersion'] !== AUTHN_CONFIG_V1 && config['apiVersion'] !== AUTHN_CONFIG_V1BETA1) problems.push(`apiVersion ${String(config['apiVersion'])} is not ${AUTHN_CONFIG_V1} or ${AUTHN_CONFIG_V1BETA1}`);
  if (config['kind'] !== 'AuthenticationConfiguration') problems.push('kind must be AuthenticationConfiguration');
  const jwts = config['jwt'];
  if (!Array.isArray(jwts) || jwts.length === 0) return [...problems, 'jwt: at least one authenticator is required'];
  if (jwts.length > 64) problems.push('jwt: at most 64 authenticators');
  const urls = new Set<string>();
  jwts.forEach((jwt: unknown, i) => {
    const where = `jwt[${i}]`;
    problems.push(...validateJwtAuthenticator(jwt, where));
    if (isRecord(jwt) && isRecord(jwt['issuer']) && typeof jwt['issuer']['url'] === 'string') {
      if (urls.has(jwt['issuer']['url'])) problems.push(`${where}.issuer.url: duplicate issuer URL`);
      urls.add(jwt['issuer']['url']);
    }
  });
  return problems;
}

/** One `jwt[]` entry; also the shape of an AKS JWT authenticator's config file. */
export function validateJwtAuthenticator(jwt: unknown, where: string): string[] {
  if (!isRecord(jwt)) return [`${where}: not a mapping`];
  const problems = unknownKeys(jwt, ['issuer', 'claimValidationRules', 'claimMappings', 'userValidationRules'], where);
  const issuer = jwt['issuer'];
  if (!isRecord(issuer)) {
    problems.push(`${where}.issuer: required`);
  } else {
    problems.push(...unknownKeys(issuer, ISSUER_FIELDS, `${where}.issuer`));
    if (typeof issuer['url'] !== 'string' || issuer['url'] === '') problems.push(`${where}.issuer.url: required`);
    else problems.push(...issuerProblems(issuer['url']));
    const audiences = issuer['audiences'];
    if (!Array.isArray(audiences) || audiences.length === 0) {
      problems.push(`${where}.issuer.audiences: at least one audience is required`);
    } else {
      if (audiences.some((audience) => typeof audience !== 'string' || audience === '')) problems.push(`${where}.issuer.audiences: audiences must be non-empty strings`);
      if (new Set(audiences).size !== audiences.length) problems.push(`${where}.issuer.audiences: duplicate audience`);
      if (audiences.length > 1 && issuer['audienceMatchPolicy'] !== 'MatchAny') problems.push(`${where}.issuer.audienceMatchPolicy: must be MatchAny with more than one audience`);
    }
  }

  const mappings = jwt['claimMappings'];
  if (!isRecord(mappings)) {
    problems.push(`${where}.claimMappings: required`);
  } else {
    problems.push(...unknownKeys(mappings, ['username', 'groups', 'uid', 'extra'], `${where}.claimMappings`));
    problems.push(...validateClaimOrExpression(mappings['username'], `${where}.claimMappings.username`, true, true));
    if (mappings['groups'] !== undefined) problems.push(...validateClaimOrExpression(mappings['groups'], `${where}.claimMappings.groups`, false, true));
    if (mappings['uid'] !== undefined) problems.push(...validateClaimOrExpression(mappings['uid'], `${where}.claimMappings.uid`, false, false));
  }

  const rules = jwt['claimValidationRules'];
  if (rules !== undefined) {
    if (!Array.isArray(rules)) {
      problems.push(`${where}.claimValidationRules: must be a list`);
    } else {
      const claims = new Set<string>();
      rules.forEach((rule: unknown, i) => {
        const at = `${where}.claimValidationRules[${i}]`;
        if (!isRecord(rule)) {
          problems.push(`${at}: not a mapping`);
          return;
        }
        problems.push(...unknownKeys(rule, ['claim', 'requiredValue', 'expression', 'message'], at));
        const hasClaim = rule['claim'] !== undefined && rule['claim'] !== '';
        const hasExpression = rule['expression'] !== undefined && rule['expression'] !== '';
        if (hasClaim === hasExpression) problems.push(`${at}: exactly one of claim or expression is required`);
        if (hasClaim) {
          if (typeof rule['claim'] !== 'string') problems.push(`${at}.claim: must be a string`);
          else if (claims.has(rule['claim'])) problems.push(`${at}.claim: duplicate claim ${rule['claim']}`);
          else claims.add(rule['claim']);
          if (rule['requiredValue'] !== undefined && typeof rule['requiredValue'] !== 'string') problems.push(`${at}.requiredValue: must be a string`);
          if (rule['message'] !== undefined) problems.push(`${at}.message: not allowed with claim`);
        }
        if (hasExpression) {
          if (typeof rule['expression'] !== 'string') problems.push(`${at}.expression: must be a string`);
          if (rule['requiredValue'] !== undefined) problems.push(`${at}.requiredValue: not allowed with expression`);
        }
      });
    }
  }

  // The server refuses a username expression that reads claims.email unless claims.email_verified is
  // referenced too (otherwise unverified addresses would be accepted silently).
  const usernameExpression = isRecord(mappings) && isRecord(mappings['username']) ? mappings['username']['expression'] : undefined;
  if (typeof usernameExpression === 'string' && /\bclaims\s*\.\s*email\b(?!_)/.test(usernameExpression)) {
    const texts = [usernameExpression, ...(Array.isArray(rules) ? rules.map((rule: unknown) => (isRecord(rule) ? String(rule['expression'] ?? '') : '')) : [])];
    if (!texts.some((text) => /\bclaims\s*\.\s*\??\s*email_verified\b/.test(text))) {
      problems.push(`${where}.claimMappings.username.expression: claims.email_verified must be used in claimMappings.username.expression or claimValidationRules when claims.email is used`);
    }
  }
  return problems;
}

/** `{claim, prefix}` or `{expression}`: exactly one; with a claim, the prefix must be given (may be ""). */
function validateClaimOrExpression(value: unknown, where: string, required: boolean, hasPrefix: boolean): string[] {
  if (value === undefined) return required ? [`${where}: required`] : [];
  if (!isRecord(value)) return [`${where}: not a mapping`];
  const problems = unknownKeys(value, hasPrefix ? ['claim', 'prefix', 'expression'] : ['claim', 'expression'], where);
  const hasClaim = typeof value['claim'] === 'string' && value['claim'] !== '';
  const hasExpression = typeof value['expression'] === 'string' && value['expression'] !== '';
  if (hasClaim === hasExpression) problems.push(`${where}: exactly one of claim or expression is required`);
  if (hasPrefix && hasClaim && typeof value['prefix'] !== 'string') problems.push(`${where}.prefix: required when claim is set (may be "")`);
  if (hasExpression && value['prefix'] !== undefined) problems.push(`${where}.prefix: not allowed with expression`);
  return problems;
}
