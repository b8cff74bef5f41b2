/** The pure parts of setup: kube-apiserver's claim rules, the findings, and the --idp presets. */
import { describe, expect, it } from 'vitest';
import { parseSetupFlags } from '../../src/cli/flags.js';
import { apiServerView, effectiveUsernamePrefix, type ClaimMapping } from '../../src/core/cluster-auth.js';
import { IDP_PRESETS } from '../../src/core/idp-presets.js';
import { findSetupProblems, type FindingInput } from '../../src/core/setup-findings.js';
import { claimMapping } from '../support/claim-mapping.js';

const ISSUER = 'https://idp.example.com';
const mapping = (change: Partial<ClaimMapping> = {}): ClaimMapping => claimMapping({ issuerUrl: ISSUER, ...change });
const CLAIMS = { iss: ISSUER, sub: 'u1', email: 'jane@example.com', email_verified: true, groups: ['dev'], iat: 1000, exp: 4600 };

describe('apiServerView (kube-apiserver claim mapping)', () => {
  it('prefixes the username with issuer# unless the claim is email or the prefix is "-"', () => {
    expect(effectiveUsernamePrefix(mapping({ usernameClaim: 'sub' }))).toBe(`${ISSUER}#`);
    expect(effectiveUsernamePrefix(mapping({ usernameClaim: 'sub', usernamePrefix: '' }))).toBe(`${ISSUER}#`);
    expect(effectiveUsernamePrefix(mapping({ usernameClaim: 'sub', usernamePrefix: '-' }))).toBe('');
    expect(effectiveUsernamePrefix(mapping())).toBe('');
    expect(apiServerView(mapping({ usernameClaim: 'sub', groupsPrefix: 'g:' }), CLAIMS)).toEqual({ authenticated: true, username: `${ISSUER}#u1`, groups: ['g:dev', 'system:authenticated'] });
  });

  it('takes groups as a string or a list; null or absent means none', () => {
    expect(apiServerView(mapping(), { ...CLAIMS, groups: 'solo' })).toMatchObject({ groups: ['solo', 'system:authenticated'] });
    expect(apiServerView(mapping(), { ...CLAIMS, groups: null })).toMatchObject({ groups: ['system:authenticated'] });
    expect(apiServerView(mapping(), Object.fromEntries(Object.entries(CLAIMS).filter(([name]) => name !== 'groups')))).toMatchObject({ groups: ['system:authenticated'] });
    expect(apiServerView(mapping(), { ...CLAIMS, groups: [1] })).toMatchObject({ authenticated: false });
  });

  it('rejects as the API server does: unverified email, missing username, unmet required claims, distributed groups', () => {
    expect(apiServerView(mapping(), { ...CLAIMS, email_verified: false })).toEqual({ authenticated: false, error: 'oidc: email not verified' });
    expect(apiServerView(mapping(), { ...CLAIMS, email_verified: 'true' })).toMatchObject({ authenticated: false });
    expect(apiServerView(mapping({ usernameClaim: 'upn' }), CLAIMS)).toEqual({ authenticated: false, error: 'oidc: parse username claims "upn": claim not present' });
    expect(apiServerView(mapping({ requiredClaims: [['hd', 'x']] }), { ...CLAIMS, hd: 'y' })).toMatchObject({ authenticated: false });
    expect(apiServerView(mapping({ requiredClaims: [['hd', 'x']] }), { ...CLAIMS, hd: 'x' })).toMatchObject({ authenticated: true });
    const overage = { ...Object.fromEntries(Object.entries(CLAIMS).filter(([name]) => name !== 'groups')), _claim_names: { groups: 's' }, _claim_sources: { s: { endpoint: 'https://graph' } } };
    expect(apiServerView(mapping(), overage)).toMatchObject({ authenticated: false });
    // email_verified matters only when the username claim is email.
    expect(apiServerView(mapping({ usernameClaim: 'sub', usernamePrefix: '-' }), { ...CLAIMS, email_verified: false })).toMatchObject({ authenticated: true, username: 'u1' });
  });
});

function input(change: Partial<FindingInput> = {}): FindingInput {
  const base: FindingInput = {
    preset: IDP_PRESETS.generic,
    flagIssuer: ISSUER,
    discoveredIssuer: ISSUER,
    mapping: mapping(),
    claims: CLAIMS,
    tokenAlg: 'RS256',
    view: apiServerView(mapping(), CLAIMS),
    refreshTokenReceived: true,
    scopes: ['email', 'groups'],
    pkceMethodsAdvertised: ['S256'],
    pkceCheck: undefined,
  };
  const merged = { ...base, ...change };
  return { ...merged, view: change.view ?? apiServerView(merged.mapping, merged.claims) };
}
const codes = (change: Partial<FindingInput> = {}): string[] => findSetupProblems(input(change)).map((finding) => finding.code);

describe('findSetupProblems', () => {
  it('finds nothing in a good setup', () => {
    expect(findSetupProblems(input())).toEqual([]);
  });

  it('every finding has a severity, a message and a fix', () => {
    const all = findSetupProblems(input({ flagIssuer: `${ISSUER}/`, tokenAlg: 'HS256', refreshTokenReceived: false, pkceMethodsAdvertised: undefined, claims: { ...CLAIMS, email_verified: false, iat: 0, exp: 60 } }));
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const finding of all) {
      expect(['error', 'warning', 'info']).toContain(finding.severity);
      expect(finding.message).not.toBe('');
      expect(finding.fix).not.toBe('');
    }
  });

  it('issuer problems: a mismatch, not https, an Entra multi-tenant template', () => {
    expect(codes({ flagIssuer: `${ISSUER}/` })).toEqual(['ISSUER_MISMATCH']);
    expect(codes({ discoveredIssuer: 'http://127.0.0.1:5556', flagIssuer: 'http://127.0.0.1:5556', mapping: mapping({ issuerUrl: 'http://127.0.0.1:5556' }) })).toContain('ISSUER_NOT_HTTPS');
    const template = 'https://login.microsoftonline.com/{tenantid}/v2.0';
    expect(codes({ preset: IDP_PRESETS.entra, discoveredIssuer: template, flagIssuer: template, mapping: mapping({ usernameClaim: 'email' }) })).toContain('ENTRA_MULTI_TENANT_ISSUER');
  });

  it('signing algorithms: one the API server supports only with a flag, and one it never accepts', () => {
    const es = findSetupProblems(input({ tokenAlg: 'ES384' })).find((finding) => finding.code === 'SIGNING_ALG_NOT_RS256');
    expect(es?.fix).toContain('--oidc-signing-algs=ES384');
    expect(codes({ tokenAlg: 'EdDSA' })).toEqual(['SIGNING_ALG_UNSUPPORTED']);
  });

  it('groups: ids, truncation at Okta, strings only', () => {
    expect(codes({ claims: { ...CLAIMS, groups: ['0b3f6f2c-8f5e-4c39-9a4e-2f4b1f0c9d11'] } })).toEqual(['GROUPS_ARE_IDS']);
    const hundred = Array.from({ length: 100 }, (_, index) => `k8s-${index}`);
    expect(codes({ preset: IDP_PRESETS.okta, claims: { ...CLAIMS, groups: hundred } })).toEqual(['OKTA_GROUPS_TRUNCATED']);
    expect(codes({ claims: { ...CLAIMS, groups: { a: 1 } } })).toEqual(['GROUPS_CLAIM_NOT_STRINGS']);
  });

  it('prefixes with system: are refused; Google Workspace domains can be pinned', () => {
    expect(codes({ mapping: mapping({ usernamePrefix: 'system:oidc:' }) })).toContain('PREFIX_SYSTEM');
    const google = findSetupProblems(input({ preset: IDP_PRESETS.google, mapping: mapping({ groupsClaim: undefined }), claims: { ...CLAIMS, hd: 'example.com' } }));
    expect(google.map((finding) => finding.fix)).toContain('pin the domain with --required-claim=hd=example.com');
  });

  it('a refresh token that did not come although offline_access was asked for: the grant is the problem', () => {
    const [finding] = findSetupProblems(input({ refreshTokenReceived: false, scopes: ['email', 'offline_access'] }));
    expect(finding?.fix).toBe('allow the refresh-token grant for this client at the provider');
  });

  it('a required-claim mismatch is reported in the API server\'s words', () => {
    const [finding] = findSetupProblems(input({ mapping: mapping({ requiredClaims: [['hd', 'corp.example']] }) }));
    expect(finding).toMatchObject({ code: 'REQUIRED_CLAIM_MISMATCH', severity: 'error', message: 'the API server would reject this token: oidc: required claim hd not present' });
  });
});

describe('parseSetupFlags presets', () => {
  const env = { HOME: '/home/jane' };
  const raw = { 'oidc-issuer-url': ISSUER, 'oidc-client-id': 'kubectl' };

  it('fills what the user did not give, and never overrides what they did', () => {
    const okta = parseSetupFlags({ ...raw, idp: 'okta' }, new Set(['idp']), env);
    expect(okta.provider.extraScopes).toEqual(['profile', 'email', 'groups', 'offline_access']);
    expect(okta.cluster).toMatchObject({ usernameClaim: 'email', usernamePrefix: 'okta:', groupsClaim: 'groups', groupsPrefix: 'okta:' });
    expect(okta.presetArgs).toEqual(['--oidc-extra-scope=profile email groups offline_access']);

    const given = new Set(['idp', 'oidc-extra-scope', 'username-prefix', 'groups-claim']);
    const custom = parseSetupFlags({ ...raw, idp: 'okta', 'oidc-extra-scope': ['email'], 'username-prefix': '-', 'groups-claim': '' }, given, env);
    expect(custom.provider.extraScopes).toEqual(['email']);
    expect(custom.cluster).toMatchObject({ usernamePrefix: '-', groupsClaim: undefined, groupsPrefix: undefined });
    expect(custom.presetArgs).toEqual([]);
  });

  it('entra forces PKCE and maps preferred_username; google has no groups and needs the secret', () => {
    const entra = parseSetupFlags({ ...raw, idp: 'entra' }, new Set(['idp']), env);
    expect(entra.provider.pkceMethod).toBe('S256');
    expect(entra.cluster.usernameClaim).toBe('preferred_username');
    expect(entra.presetArgs).toContain('--oidc-pkce-method=S256');
    expect(() => parseSetupFlags({ ...raw, idp: 'google' }, new Set(['idp']), env)).toThrow(/--idp=google needs --oidc-client-secret/);
    const google = parseSetupFlags({ ...raw, idp: 'google', 'oidc-client-secret': 's' }, new Set(['idp', 'oidc-client-secret']), env);
    expect(google.cluster.groupsClaim).toBeUndefined();
    expect(google.provider.extraScopes).not.toContain('offline_access');
  });

  it('generic adds nothing: the kubeconfig gets exactly the flags given', () => {
    const generic = parseSetupFlags(raw, new Set(), env);
    expect(generic.provider.extraScopes).toEqual([]);
    expect(generic.presetArgs).toEqual([]);
    expect(generic.cluster).toMatchObject({ usernameClaim: 'email', usernamePrefix: undefined, groupsClaim: 'groups' });
    expect(generic.kubeconfig).toEqual({ writePath: undefined, context: undefined, userName: 'oidc' });
    expect(parseSetupFlags({ ...raw, 'write-kubeconfig': true }, new Set(['write-kubeconfig']), env).kubeconfig.writePath).toBe('');
    expect(parseSetupFlags({ ...raw, 'kubernetes-version': 'v1.34.2' }, new Set(), env).kubernetesVersion).toEqual({ major: 1, minor: 34 });
  });
});
