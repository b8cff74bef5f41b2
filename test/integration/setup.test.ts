/**
 * setup against the real oidc-provider (over https, as kube-apiserver requires) configured to reproduce
 * each mistake setup must catch: every finding is detected and its fix suggested, and the report
 * predicts what the API server will see.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, defaultAccounts, type IdpOptions, type TestIdp } from '../support/identity-provider.js';
import { makeTempDir } from '../support/plugin.js';
import { findingCodes, loginFlags, runSetup, runSetupJson, startHttpsIdp, type SetupJson } from '../support/setup-run.js';

const started: TestIdp[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((idp) => idp.close()));
});

async function idpWith(options: IdpOptions = {}): Promise<TestIdp> {
  const idp = await startHttpsIdp(options);
  started.push(idp);
  return idp;
}

function aliceWith(claims: Record<string, unknown>): IdpOptions['accounts'] {
  const accounts = defaultAccounts();
  const alice = accounts['alice'];
  if (alice === undefined) throw new Error('no alice');
  alice.claims = { ...alice.claims, ...claims };
  for (const [name, value] of Object.entries(alice.claims)) if (value === undefined) delete alice.claims[name];
  return accounts;
}

function finding(json: SetupJson, code: string): SetupJson['findings'][number] {
  const found = json.findings.find((item) => item.code === code);
  if (found === undefined) throw new Error(`no ${code} finding in ${JSON.stringify(json.findings, null, 2)}`);
  return found;
}

const SCOPES = '--oidc-extra-scope=email,groups,profile';

describe('setup reports what the API server will see', () => {
  it('predicts the username and groups, finds nothing wrong with a well-configured provider, and logs in once without caching', async () => {
    const idp = await idpWith();
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES]);
    expect(json.claims).toMatchObject({ iss: idp.issuer, sub: 'alice', email: 'alice@example.com', email_verified: true, groups: ['dev', 'ops'] });
    expect(json.apiServer).toEqual({ authenticated: true, username: 'alice@example.com', groups: ['dev', 'ops', 'system:authenticated'] });
    expect(json.findings).toEqual([]);
    expect(json.signingAlg).toBe('RS256');
    expect(json.refreshTokenReceived).toBe(true);
    expect(idp.counts.authorizations).toBe(1);
    expect(json.artifacts.apiServerFlags.flags).toEqual([
      `--oidc-issuer-url=${idp.issuer}`,
      '--oidc-client-id=kubectl',
      '--oidc-username-claim=email',
      '--oidc-groups-claim=groups',
    ]);
  });

  it('prints the human report on stderr only, kubelogin headings first, with the kubeconfig command', async () => {
    const idp = await idpWith();
    const run = await runSetup([...loginFlags(idp), SCOPES]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('## Authenticated with the OpenID Connect Provider\n\nYou got the token with the following claims:');
    expect(run.stderr).toContain('Username: alice@example.com\nGroups:   dev, ops, system:authenticated');
    expect(run.stderr).toContain('No problems found.');
    expect(run.stderr).toContain('kubectl config set-credentials oidc');
    expect(run.stderr).toContain('--exec-command=kubectl-oidc_login');
    expect(run.stderr).toContain('The entry runs kubectl-oidc_login directly (command: kubectl-oidc_login), not through "kubectl oidc-login"');
    expect(run.stderr).toContain('## RBAC');
  });

  it('applies the presets: claims, scopes and prefixes, and forces PKCE for Entra ID', async () => {
    const idp = await idpWith();
    const { json } = await runSetupJson([...loginFlags(idp), '--idp=okta']);
    expect(json.apiServer).toEqual({ authenticated: true, username: 'okta:alice@example.com', groups: ['okta:dev', 'okta:ops', 'system:authenticated'] });
    const entry = parse(json.artifacts.kubeconfigUser.text) as { users: Array<{ user: { exec: { args: string[] } } }> };
    expect(entry.users[0]?.user.exec.args).toContain('--oidc-extra-scope=profile email groups offline_access');

    const entra = await runSetupJson([...loginFlags(idp), '--idp=entra']);
    expect(entra.json.apiServer).toMatchObject({ authenticated: true, username: 'ms:alice' });
    expect(entra.json.artifacts.kubeconfigUser.text).toContain('--oidc-pkce-method=S256');
    expect(findingCodes(entra.json)).toContain('USERNAME_CLAIM_MUTABLE');
  });

  it('uses the issuer#sub username the API server makes when the claim is not email and no prefix is set', async () => {
    const idp = await idpWith();
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES, '--username-claim=sub', '--groups-prefix=oidc:']);
    expect(json.apiServer).toEqual({ authenticated: true, username: `${idp.issuer}#alice`, groups: ['oidc:dev', 'oidc:ops', 'system:authenticated'] });
    const none = await runSetupJson([...loginFlags(idp), SCOPES, '--username-claim=sub', '--username-prefix=-']);
    expect(none.json.apiServer).toMatchObject({ username: 'alice' });
  });
});

describe('setup findings', () => {
  it('an unverified email: the API server rejects the token; fix: verify it or use another claim', async () => {
    const idp = await idpWith({ accounts: aliceWith({ email_verified: false }) });
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES]);
    expect(json.apiServer).toEqual({ authenticated: false, error: 'oidc: email not verified' });
    const found = finding(json, 'EMAIL_NOT_VERIFIED');
    expect(found.severity).toBe('error');
    expect(found.fix).toContain('--username-claim=sub');
    // No RBAC for a user who cannot log in.
    expect(json.artifacts.rbac.problems).not.toEqual([]);
  });

  it('an email without email_verified: accepted, with a warning', async () => {
    const idp = await idpWith({ accounts: aliceWith({ email_verified: undefined }) });
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES]);
    expect(json.apiServer).toMatchObject({ authenticated: true, username: 'alice@example.com' });
    expect(finding(json, 'EMAIL_VERIFIED_MISSING').severity).toBe('warning');
  });

  it('a missing username claim: names the scope to request', async () => {
    const idp = await idpWith();
    const { json } = await runSetupJson([...loginFlags(idp), '--oidc-extra-scope=groups']);
    expect(json.apiServer).toEqual({ authenticated: false, error: 'oidc: parse username claims "email": claim not present' });
    expect(finding(json, 'USERNAME_CLAIM_MISSING').fix).toContain('--oidc-extra-scope=email');
  });

  it('a missing groups claim: the provider-specific fix', async () => {
    const idp = await idpWith();
    const { json } = await runSetupJson([...loginFlags(idp), '--oidc-extra-scope=email', '--idp=keycloak']);
    expect(json.apiServer).toMatchObject({ authenticated: true, groups: ['system:authenticated'] });
    expect(finding(json, 'GROUPS_CLAIM_MISSING').fix).toContain('Group Membership');
  });

  it('Entra ID groups overage (_claim_names instead of 201 groups): the whole login would fail', async () => {
    const idp = await idpWith({
      accounts: aliceWith({
        groups: undefined,
        _claim_names: { groups: 'src1' },
        _claim_sources: { src1: { endpoint: 'https://graph.windows.net/tenant/users/alice/getMemberObjects' } },
      }),
    });
    // Entra ID sends groups without a scope; the test provider releases them (and the link) for the groups scope.
    const { json } = await runSetupJson([...loginFlags(idp), '--idp=entra', '--oidc-extra-scope=profile email groups offline_access']);
    expect(json.claims['_claim_names']).toEqual({ groups: 'src1' });
    expect(json.apiServer.authenticated).toBe(false);
    const found = finding(json, 'ENTRA_GROUPS_OVERAGE');
    expect(found.severity).toBe('error');
    expect(found.fix).toContain('ApplicationGroup');
  });

  it('Keycloak full group paths', async () => {
    const idp = await idpWith({ accounts: aliceWith({ groups: ['/devs', '/ops/oncall'] }) });
    const { json } = await runSetupJson([...loginFlags(idp), '--idp=keycloak', SCOPES]);
    expect(json.apiServer).toMatchObject({ groups: ['keycloak:/devs', 'keycloak:/ops/oncall', 'system:authenticated'] });
    expect(finding(json, 'KEYCLOAK_GROUP_PATHS').fix).toContain('Full group path');
  });

  it('Auth0-style namespaced groups claim: points the groups claim at it', async () => {
    const idp = await idpWith({ accounts: aliceWith({ groups: undefined, 'https://example.com/groups': ['admins'] }) });
    const { json } = await runSetupJson([...loginFlags(idp), '--idp=auth0']);
    expect(finding(json, 'NAMESPACED_GROUPS_CLAIM').fix).toBe('map it with --groups-claim=https://example.com/groups');
    const fixed = await runSetupJson([...loginFlags(idp), '--idp=auth0', '--groups-claim=https://example.com/groups']);
    expect(fixed.json.apiServer).toMatchObject({ groups: ['auth0:admins', 'system:authenticated'] });
    expect(findingCodes(fixed.json)).not.toContain('NAMESPACED_GROUPS_CLAIM');
  });

  it('ES256 tokens: warns about the RS256 default and generates --oidc-signing-algs', async () => {
    const idp = await idpWith({ signingAlg: 'ES256' });
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES]);
    expect(json.signingAlg).toBe('ES256');
    expect(finding(json, 'SIGNING_ALG_NOT_RS256').severity).toBe('warning');
    expect(json.artifacts.apiServerFlags.flags).toContain('--oidc-signing-algs=ES256');
  });

  it('an issuer given without the trailing slash the provider publishes: uses the exact one everywhere', async () => {
    const idp = await idpWith({ issuerTrailingSlash: true });
    const withoutSlash = idp.issuer.replace(/\/$/, '');
    const { json, run } = await runSetupJson([...loginFlags(idp, withoutSlash), SCOPES]);
    expect(json.issuer).toEqual({ given: withoutSlash, discovered: idp.issuer });
    expect(finding(json, 'ISSUER_MISMATCH').fix).toContain(idp.issuer);
    expect(json.artifacts.apiServerFlags.flags).toContain(`--oidc-issuer-url=${idp.issuer}`);
    expect(json.artifacts.kubeconfigUser.text).toContain(`--oidc-issuer-url=${idp.issuer}`);
    expect(run.stderr).toContain(`warning: the provider's issuer is ${idp.issuer}`);
  });

  it('no refresh token: the fix for the provider (Google: prompt=consent, never offline_access)', async () => {
    const idp = await idpWith({ refreshTokens: false });
    const generic = await runSetupJson([...loginFlags(idp), SCOPES]);
    expect(generic.json.refreshTokenReceived).toBe(false);
    expect(finding(generic.json, 'NO_REFRESH_TOKEN').fix).toContain('offline_access');

    const google = await runSetupJson([
      `--oidc-issuer-url=${idp.issuer}`,
      `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`,
      `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`,
      ...loginFlags(idp).slice(2),
      '--idp=google',
    ]);
    expect(finding(google.json, 'NO_REFRESH_TOKEN').fix).toContain('prompt=consent');
    expect(google.json.apiServer).toMatchObject({ username: 'google:alice@example.com', groups: ['system:authenticated'] });
  });

  it('PKCE not advertised: sent anyway, and --check-pkce shows the provider enforces it', async () => {
    const idp = await idpWith({ advertisePkce: false });
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES, '--check-pkce']);
    expect(finding(json, 'PKCE_NOT_ADVERTISED').severity).toBe('info');
    expect(json.pkceCheck).toEqual({ result: 'enforced' });
    expect(idp.counts.authorizations).toBe(2);
    expect(idp.counts.tokenErrors).toEqual({ invalid_grant: 1 });
  });

  it('--check-pkce against a provider that ignores PKCE: PKCE_NOT_ENFORCED', async () => {
    const idp = await idpWith({ pkceEnforced: false });
    const { json } = await runSetupJson([...loginFlags(idp), SCOPES, '--check-pkce']);
    expect(json.pkceCheck).toEqual({ result: 'not-enforced' });
    expect(finding(json, 'PKCE_NOT_ENFORCED').severity).toBe('warning');
  });

  it('token lifetimes under 5 minutes or over 24 hours', async () => {
    const short = await idpWith({ idTokenTtlSec: 120 });
    expect(findingCodes((await runSetupJson([...loginFlags(short), SCOPES])).json)).toContain('TOKEN_LIFETIME_SHORT');
    const long = await idpWith({ idTokenTtlSec: 2 * 86_400 });
    expect(findingCodes((await runSetupJson([...loginFlags(long), SCOPES])).json)).toContain('TOKEN_LIFETIME_LONG');
  });

  it('a required claim the token does not satisfy', async () => {
    const idp = await idpWith({ accounts: aliceWith({ hd: 'example.com' }) });
    const ok = await runSetupJson([...loginFlags(idp), SCOPES, '--required-claim=hd=example.com']);
    expect(ok.json.apiServer.authenticated).toBe(true);
    expect(ok.json.artifacts.apiServerFlags.flags).toContain('--oidc-required-claim=hd=example.com');
    const wrong = await runSetupJson([...loginFlags(idp), SCOPES, '--required-claim=hd=other.example']);
    expect(wrong.json.apiServer).toEqual({ authenticated: false, error: 'oidc: required claim hd value does not match. Got = example.com, want = other.example' });
    expect(finding(wrong.json, 'REQUIRED_CLAIM_MISMATCH').severity).toBe('error');
  });
});

describe('setup input and secrets', () => {
  it('redacts the client secret unless --show-secrets', async () => {
    const idp = await idpWith();
    const secretFlags = [`--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`, `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`, ...loginFlags(idp).slice(2), SCOPES];
    const redacted = await runSetup(secretFlags);
    expect(redacted.code, redacted.stderr).toBe(0);
    expect(redacted.stderr).not.toContain(CONFIDENTIAL_CLIENT_SECRET);
    expect(redacted.stderr).toContain('--oidc-client-secret=REDACTED');
    expect(redacted.stderr).toContain('--show-secrets');
    const shown = await runSetup([...secretFlags, '--show-secrets']);
    expect(shown.stderr).toContain(`--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`);
  });

  it('a Google client secret is redacted in the report but written into the kubeconfig', async () => {
    const idp = await idpWith();
    const dir = makeTempDir();
    try {
      const kubeconfig = join(dir.path, 'kube', 'config');
      const flags = [`--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`, `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`, ...loginFlags(idp).slice(2), '--idp=google'];
      const run = await runSetup([...flags, `--write-kubeconfig=${kubeconfig}`]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toContain(CONFIDENTIAL_CLIENT_SECRET);
      expect(run.stderr).toContain(`Wrote the user "oidc" (added) to ${kubeconfig}`);
      const written = parse(readFileSync(kubeconfig, 'utf8')) as { users: Array<{ name: string; user: { exec: { command: string; args: string[] } } }> };
      expect(written.users[0]?.user.exec.args).toContain(`--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`);
      expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    } finally {
      dir.remove();
    }
  });

  it('--idp=google without a client secret fails before any login', async () => {
    const idp = await idpWith();
    const run = await runSetup([...loginFlags(idp), '--idp=google']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: --idp=google needs --oidc-client-secret: .*\nhint: /);
    expect(idp.counts.requests).toBe(0);
  });

  it('bad values are one-line errors; no provider prints the help and exits 0 as kubelogin', async () => {
    const idp = await idpWith();
    for (const bad of ['--idp=nope', '--required-claim=novalue', '--kubernetes-version=latest', '--output=yaml', '--context=x']) {
      const run = await runSetup([...loginFlags(idp), bad]);
      expect(run.code, bad).toBe(1);
      expect(run.stderr.split('\n').filter((line) => line !== ''), bad).toHaveLength(2);
    }
    expect(idp.counts.requests).toBe(0);
    const help = await runSetup([]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--username-claim');
  });
});
