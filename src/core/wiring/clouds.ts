/**
 * Managed clusters (kubernetes.md §3): EKS (AWS CLI and eksctl), GKE Identity Service (ClientConfig
 * patch), AKS structured authentication (JWT authenticator with CEL expressions). Placeholders are
 * CLUSTER_NAME, REGION, RESOURCE_GROUP: bare shell words, unlike `<name>`, which the shell would read
 * as a redirection.
 */
import { Document, parse } from 'yaml';
import { effectiveGroupsPrefix, effectiveUsernamePrefix, type ClaimMapping } from '../cluster-auth.js';
import { validateJwtAuthenticator } from './apiserver.js';
import { isRecord, jsonEqual, mappingProblems, REDACTED, requiredClaimsObject, usesDefaultSigningAlg, YAML_OPTIONS, type Artifact, type WiringInput } from './common.js';
import { celClaim, celString, shellQuote } from './quoting.js';

/** The name of the identity provider entry on every cloud (EKS config name, GKE authentication name, AKS authenticator). */
export const PROVIDER_NAME = 'oidc';

// ---------------------------------------------------------------- EKS

/** The EKS `--oidc` structure (OidcIdentityProviderConfigRequest); the same fields as eksctl's identityProviders[]. */
function eksOidc(mapping: ClaimMapping): Record<string, unknown> {
  const oidc: Record<string, unknown> = {
    identityProviderConfigName: PROVIDER_NAME,
    issuerUrl: mapping.issuerUrl,
    clientId: mapping.clientId,
    usernameClaim: mapping.usernameClaim,
  };
  // EKS mirrors the apiserver flag: unset → `<issuer>#` unless the claim is email, `-` → none.
  if (mapping.usernamePrefix !== undefined && mapping.usernamePrefix !== '') oidc['usernamePrefix'] = mapping.usernamePrefix;
  if (mapping.groupsClaim !== undefined) {
    oidc['groupsClaim'] = mapping.groupsClaim;
    if (effectiveGroupsPrefix(mapping) !== '') oidc['groupsPrefix'] = effectiveGroupsPrefix(mapping);
  }
  if (mapping.requiredClaims.length > 0) oidc['requiredClaims'] = requiredClaimsObject(mapping);
  return oidc;
}

/** EKS's own limits (EKS API reference / user guide), checked on the structure as printed. */
function eksProblems(oidc: unknown): string[] {
  if (!isRecord(oidc)) return ['the EKS identity provider configuration is not an object'];
  const problems: string[] = [];
  const issuer = oidc['issuerUrl'];
  if (typeof issuer !== 'string' || !issuer.startsWith('https://')) problems.push('EKS needs an https:// issuer URL');
  else if (issuer.includes('?')) problems.push('EKS does not accept an issuer URL with a query');
  if (typeof oidc['clientId'] !== 'string' || oidc['clientId'] === '') problems.push('EKS needs a client ID');
  for (const field of ['usernamePrefix', 'groupsPrefix']) {
    const value = oidc[field];
    if (typeof value === 'string' && value.includes('system:')) problems.push(`EKS does not accept a ${field} containing "system:" (${value})`);
  }
  const required = oidc['requiredClaims'];
  if (isRecord(required)) {
    for (const [key, value] of Object.entries(required)) {
      const keyLength = [...key].length;
      const valueLength = typeof value === 'string' ? [...value].length : 0;
      if (keyLength < 1 || keyLength > 63) problems.push(`EKS needs required claim names of 1 to 63 characters (${key})`);
      if (valueLength < 1 || valueLength > 253) problems.push(`EKS needs required claim values of 1 to 253 characters (${key})`);
    }
  }
  return problems;
}

/**
 * EKS has no signing-algorithm parameter. Whether it accepts anything but RS256 is not documented
 * (kubernetes.md §3.1: not verified), so a non-RS256 provider gets a note in the text, not a problem:
 * blocking a configuration that may well work would be worse than asking the user to check whoami.
 */
function eksAlgNote(mapping: ClaimMapping): string[] {
  if (usesDefaultSigningAlg(mapping)) return [];
  return [
    `note: the provider signs tokens with ${mapping.signingAlgs.join(', ')}; EKS has no signing-algorithm setting and may accept only RS256`,
    '(not documented): check with `kubectl auth whoami` after the association.',
  ];
}

export function buildEks(mapping: ClaimMapping): { associate: Artifact; eksctl: Artifact } {
  const oidc = eksOidc(mapping);
  const common = mappingProblems(mapping);

  const json = JSON.stringify(oidc);
  const associateLines = [
    ...eksAlgNote(mapping).map((line) => `# ${line}`),
    // Association updates the cluster: it takes minutes (status UPDATING).
    'aws eks associate-identity-provider-config \\',
    '  --cluster-name CLUSTER_NAME \\',
    `  --oidc ${shellQuote(json)}`,
  ];
  const associateProblems = [...common, ...eksProblems(JSON.parse(json))];
  if (!jsonEqual(JSON.parse(json), oidc)) associateProblems.push('internal error: the EKS JSON does not read back');

  const { identityProviderConfigName: _, ...fields } = oidc;
  const provider = { name: PROVIDER_NAME, type: 'oidc', ...fields };
  const config = { apiVersion: 'eksctl.io/v1alpha5', kind: 'ClusterConfig', metadata: { name: 'CLUSTER_NAME', region: 'REGION' }, identityProviders: [provider] };
  const doc = new Document(config);
  doc.commentBefore = [' Save as cluster.yaml, then run:', ' eksctl associate identityprovider -f cluster.yaml', ...eksAlgNote(mapping).map((line) => ` ${line}`)].join('\n');
  const yamlText = doc.toString(YAML_OPTIONS);
  const parsed: unknown = parse(yamlText);
  const parsedProvider = isRecord(parsed) && Array.isArray(parsed['identityProviders']) ? (parsed['identityProviders'][0] as unknown) : undefined;
  const eksctlProblems = [...common, ...eksProblems(parsedProvider)];
  if (!jsonEqual(parsed, config)) eksctlProblems.push('internal error: the eksctl YAML does not read back');

  return { associate: { text: associateLines.join('\n'), problems: associateProblems }, eksctl: { text: yamlText, problems: eksctlProblems } };
}

// ---------------------------------------------------------------- GKE

export const GKE_CONSOLE_REDIRECT_URI = 'https://console.cloud.google.com/kubernetes/oidc';

function gkeOidc(input: WiringInput, clientSecret: string | undefined): Record<string, unknown> {
  const { mapping, gke } = input;
  const oidc: Record<string, unknown> = { clientID: mapping.clientId };
  if (clientSecret !== undefined) oidc['clientSecret'] = clientSecret;
  oidc['issuerURI'] = mapping.issuerUrl;
  oidc['kubectlRedirectURI'] = gke.redirectUri;
  oidc['cloudConsoleRedirectURI'] = GKE_CONSOLE_REDIRECT_URI;
  const extraParams = Object.entries(gke.extraParams).map(([key, value]) => `${key}=${value}`);
  if (extraParams.length > 0) oidc['extraParams'] = extraParams.join(',');
  oidc['scopes'] = ['openid', ...gke.scopes.filter((scope) => scope !== 'openid')].join(',');
  oidc['userClaim'] = mapping.usernameClaim;
  if (mapping.groupsClaim !== undefined) oidc['groupsClaim'] = mapping.groupsClaim;
  // The effective prefix, spelled out: a literal prefix means the same on every implementation, while
  // Identity Service's handling of `-` is not documented. `-` is left only where it is needed.
  const userPrefix = effectiveUsernamePrefix(mapping);
  if (userPrefix !== '') oidc['userPrefix'] = userPrefix;
  else if (mapping.usernameClaim !== 'email') oidc['userPrefix'] = '-';
  if (mapping.groupsClaim !== undefined && effectiveGroupsPrefix(mapping) !== '') oidc['groupPrefix'] = effectiveGroupsPrefix(mapping);
  return oidc;
}

function gkeProblems(input: WiringInput, oidc: unknown): string[] {
  const problems = mappingProblems(input.mapping);
  for (const scope of input.gke.scopes) {
    if (scope === '' || /[\s,]/.test(scope)) problems.push(`GKE takes the scopes as one comma-separated list: the scope ${JSON.stringify(scope)} cannot be part of it`);
  }
  for (const [key, value] of Object.entries(input.gke.extraParams)) {
    if (key === '' || /[=,]/.test(key) || value.includes(',')) problems.push(`GKE takes extraParams as k=v,…: the parameter ${JSON.stringify(`${key}=${value}`)} cannot be part of it`);
  }
  if (!URL.canParse(input.gke.redirectUri)) problems.push(`the kubectl redirect URI ${JSON.stringify(input.gke.redirectUri)} is not a URL`);
  if (!isRecord(oidc) || typeof oidc['issuerURI'] !== 'string' || typeof oidc['clientID'] !== 'string' || typeof oidc['userClaim'] !== 'string') {
    problems.push('internal error: the GKE patch does not read back');
  } else if (!String(oidc['scopes']).startsWith('openid')) {
    problems.push('internal error: the GKE scopes do not start with openid');
  }
  return problems;
}

export function buildGke(input: WiringInput): Artifact {
  const secret = input.gke.clientSecret === undefined ? undefined : input.showSecrets ? input.gke.clientSecret : REDACTED;
  const patch = [{ op: 'add', path: '/spec/authentication/-', value: { name: PROVIDER_NAME, oidc: gkeOidc(input, secret) } }];
  const json = JSON.stringify(patch);
  const lines = [
    '# Identity Service for GKE is deprecated by Google ("not recommended"; it recommends Workforce Identity Federation).',
    '# If kubectl reports a missing path, the ClientConfig has no authentication list yet: use the path',
    '# /spec/authentication and put the value in a list ([...]).',
    'kubectl patch clientconfig default -n kube-public --type=json \\',
    `  -p ${shellQuote(json)}`,
  ];
  const parsed: unknown = JSON.parse(json);
  const first = Array.isArray(parsed) ? (parsed[0] as unknown) : undefined;
  const value = isRecord(first) && isRecord(first['value']) ? first['value']['oidc'] : undefined;
  const problems = gkeProblems(input, value);
  if (!jsonEqual(parsed, patch)) problems.push('internal error: the GKE patch does not read back');
  return { text: lines.join('\n'), problems };
}

// ---------------------------------------------------------------- AKS

/** AKS JWT authenticator names (ARM resource name pattern). */
export const AKS_NAME_PATTERN = /^[a-z][a-z0-9]{0,23}$/;
export const AKS_CONFIG_FILE = 'jwt-authenticator.json';

/**
 * The AKS JWT authenticator: the structured-authentication entry in expression form only (AKS accepts
 * no claim/prefix form). The expressions reproduce exactly what the --oidc-* flags give (apiServerView):
 * the same effective prefixes, so one set of RBAC bindings serves every cluster; a groups claim that is
 * absent gives no groups, a string one group, a list each element; and the email_verified check that
 * the claim form does implicitly. One deliberate difference: expressions never fetch distributed claims
 * (Entra ID group overage), where the flags fail the whole login.
 */
export function aksAuthenticator(mapping: ClaimMapping): Record<string, unknown> {
  const usernamePrefix = effectiveUsernamePrefix(mapping);
  const usernameClaim = celClaim(mapping.usernameClaim);
  const claimMappings: Record<string, unknown> = {
    username: { expression: usernamePrefix === '' ? usernameClaim : `${celString(usernamePrefix)} + ${usernameClaim}` },
  };
  if (mapping.groupsClaim !== undefined) {
    const groups = celClaim(mapping.groupsClaim);
    // `prefix + g` also fails on a non-string element (even with an empty prefix), as the claim form does.
    claimMappings['groups'] = {
      expression: `${celString(mapping.groupsClaim)} in claims && ${groups} != null ? (type(${groups}) == string ? [${groups}] : ${groups}).map(g, ${celString(effectiveGroupsPrefix(mapping))} + g) : []`,
    };
  }
  const rules: Array<{ expression: string; message: string }> = [];
  if (mapping.usernameClaim === 'email') {
    // What the claim form does for `email` (and the server insists on when an expression reads claims.email).
    rules.push({ expression: 'claims.?email_verified.orValue(true) == true', message: 'email not verified' });
  }
  for (const [claim, value] of mapping.requiredClaims) {
    rules.push({ expression: `${celString(claim)} in claims && ${celClaim(claim)} == ${celString(value)}`, message: `required claim ${claim} must be ${value}` });
  }
  const authenticator: Record<string, unknown> = { issuer: { url: mapping.issuerUrl, audiences: [mapping.clientId] } };
  if (rules.length > 0) authenticator['claimValidationRules'] = rules;
  authenticator['claimMappings'] = claimMappings;
  return authenticator;
}

function aksProblems(config: unknown): string[] {
  const problems = validateJwtAuthenticator(config, AKS_CONFIG_FILE);
  if (!AKS_NAME_PATTERN.test(PROVIDER_NAME)) problems.push(`AKS JWT authenticator name ${PROVIDER_NAME} does not match ${AKS_NAME_PATTERN.source}`);
  if (isRecord(config)) {
    const mappings = config['claimMappings'];
    if (isRecord(mappings)) {
      for (const [key, value] of Object.entries(mappings)) {
        if (isRecord(value) && value['claim'] !== undefined) problems.push(`AKS takes expressions only: claimMappings.${key} has a claim`);
      }
    }
    const rules = config['claimValidationRules'];
    if (Array.isArray(rules) && rules.some((rule: unknown) => isRecord(rule) && rule['claim'] !== undefined)) problems.push('AKS takes expressions only: a claim validation rule has a claim');
  }
  return problems;
}

export function buildAks(mapping: ClaimMapping): { json: Artifact; command: Artifact } {
  const config = aksAuthenticator(mapping);
  const json = JSON.stringify(config, null, 2);
  const parsed: unknown = JSON.parse(json);
  const common = mappingProblems(mapping);
  const jsonProblems = [...common, ...aksProblems(parsed).filter((problem) => !common.includes(problem))];
  if (!jsonEqual(parsed, config)) jsonProblems.push('internal error: the AKS JSON does not read back');

  const lines = [
    '# AKS structured authentication (preview): AKS 1.30+, Azure CLI 2.77+ with the aks-preview extension 18.0.0b41+.',
    `# Save the JSON configuration as ${AKS_CONFIG_FILE}, then run:`,
    `az aks jwtauthenticator add --resource-group RESOURCE_GROUP --cluster-name CLUSTER_NAME --name ${PROVIDER_NAME} --config-file ${AKS_CONFIG_FILE}`,
    "# AKS's examples prefix users and groups with 'aks:jwt:'; the expressions here use the same prefixes as the",
    '# kube-apiserver flags instead, so one set of RBAC bindings works on every cluster.',
  ];
  const commandProblems = AKS_NAME_PATTERN.test(PROVIDER_NAME) ? [] : [`AKS JWT authenticator name ${PROVIDER_NAME} does not match ${AKS_NAME_PATTERN.source}`];
  return { json: { text: json, problems: jsonProblems }, command: { text: lines.join('\n'), problems: commandProblems } };
}
