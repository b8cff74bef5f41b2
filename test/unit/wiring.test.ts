import { execFileSync } from 'node:child_process';
import { Environment } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { apiServerView, type ClaimMapping } from '../../src/core/cluster-auth.js';
import {
  bindingName,
  buildWiring,
  celClaim,
  celString,
  csvQuote,
  isDnsSubdomain,
  readCsvRecord,
  shellQuote,
  validateAuthenticationConfiguration,
  type WiringInput,
} from '../../src/core/wiring.js';
import { claimMapping } from '../support/claim-mapping.js';

const ISSUER = 'https://issuer.example.com/realms/main';

function mapping(overrides: Partial<ClaimMapping> = {}): ClaimMapping {
  return claimMapping({ issuerUrl: ISSUER, ...overrides });
}

const EXEC_ARGS = [
  'get-token',
  `--oidc-issuer-url=${ISSUER}`,
  '--oidc-client-id=kubectl',
  '--oidc-extra-scope=email groups offline_access',
  '--oidc-client-secret=s3cret',
  '--listen-address=127.0.0.1:8000,127.0.0.1:18000',
];

function input(overrides: Partial<WiringInput> = {}): WiringInput {
  return {
    mapping: mapping(),
    kubeconfigUserName: 'oidc',
    execArgs: EXEC_ARGS,
    secretFlags: ['oidc-client-secret'],
    showSecrets: false,
    kubernetesVersion: { major: 1, minor: 32 },
    identity: { username: 'jane@example.com', groups: ['devs', 'system:authenticated'] },
    rbac: { clusterRole: 'view', namespace: undefined },
    gke: { redirectUri: 'http://localhost:8000', scopes: ['email', 'groups', 'openid'], clientSecret: 'g-secret', extraParams: { prompt: 'consent' } },
    ...overrides,
  };
}

/** The words a POSIX shell passes to the commands in `text` (kubectl, aws, az replaced by printers). */
function shellWords(text: string): string[] {
  const printer = (name: string): string => `${name}() { printf '%s\\0' "$@"; }\n`;
  const out = execFileSync('sh', ['-c', printer('kubectl') + printer('aws') + printer('az') + text], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

/** The value of `--name VALUE` or `-name VALUE` in a word list. */
function valueAfter(words: string[], flag: string): string {
  const index = words.indexOf(flag);
  expect(index, flag).toBeGreaterThanOrEqual(0);
  return words[index + 1] ?? '';
}

function asRecord(value: unknown): Record<string, unknown> {
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

describe('quoting', () => {
  it('shell-quotes like POSIX sh reads it back', () => {
    const tricky = ['plain', 'a,b', 'has space', `it's`, 'a"b', '$HOME', '`id`', 'back\\slash', 'new\nline', '', '*', 'ünïcode'];
    const words = shellWords(`kubectl ${tricky.map(shellQuote).join(' ')}`);
    expect(words).toEqual(tricky);
    expect(shellQuote('--oidc-client-id=kubectl')).toBe('--oidc-client-id=kubectl');
  });

  it('CSV-quotes exactly what kubectl would split or reject (the comma trap)', () => {
    expect(readCsvRecord('--oidc-extra-scope=a,b')).toEqual(['--oidc-extra-scope=a', 'b']);
    expect(readCsvRecord('a"b')).toBeUndefined(); // Go: bare " in non-quoted field
    expect(readCsvRecord('')).toEqual([]); // pflag drops an empty value
    for (const value of ['a,b', 'a"b', '"', '', 'plain', 'x,"y",z', 'multi\nline', ' lead', 'tail ']) {
      expect(readCsvRecord(csvQuote(value)), value).toEqual([value]);
    }
    expect(csvQuote('plain value')).toBe('plain value');
    expect(csvQuote('a,b')).toBe('"a,b"');
    expect(csvQuote('say "hi"')).toBe('"say ""hi"""');
  });

  it('writes CEL string literals and claim accesses', () => {
    const env = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true, homogeneousAggregateLiterals: false });
    for (const value of [`it's`, 'back\\slash', 'a"b', 'tab\there', 'nl\nx', '\u0001', 'ünï', 'https://x#']) {
      expect(env.evaluate(celString(value), {})).toBe(value);
    }
    expect(celClaim('email')).toBe('claims.email');
    expect(celClaim('preferred_username')).toBe('claims.preferred_username');
    expect(celClaim('https://example.com/groups')).toBe(`claims['https://example.com/groups']`);
    expect(celClaim('in')).toBe(`claims['in']`);
    expect(celClaim('null')).toBe(`claims['null']`);
    expect(celClaim('cognito:groups')).toBe(`claims['cognito:groups']`);
  });
});

describe('the kubeconfig user', () => {
  it('runs the plugin binary directly, v1, interactiveMode Never; the entry keeps the real secret', () => {
    const wiring = buildWiring(input());
    expect(wiring.kubeconfigUser.problems).toEqual([]);
    expect(wiring.kubeconfigUser.entry).toEqual({
      name: 'oidc',
      user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl-oidc_login', args: EXEC_ARGS, interactiveMode: 'Never' } },
    });
  });

  it('prints a users: snippet in kubectl style with the secret redacted', () => {
    const { text } = buildWiring(input()).kubeconfigUser;
    expect(text).toMatch(/^users:\n- name: oidc\n {2}user:\n {4}exec:\n/);
    expect(text).toContain('      args:\n      - get-token\n');
    expect(text).not.toContain('s3cret');
    const users = asRecord(parse(text))['users'] as unknown[];
    const exec = asRecord(asRecord(asRecord(users[0])['user'])['exec']);
    expect(exec['args']).toEqual(EXEC_ARGS.map((arg) => (arg.startsWith('--oidc-client-secret=') ? '--oidc-client-secret=REDACTED' : arg)));
  });

  it('shows the secret with showSecrets, and redacts the two-word form too', () => {
    expect(buildWiring(input({ showSecrets: true })).kubeconfigUser.text).toContain('--oidc-client-secret=s3cret');
    const wiring = buildWiring(input({ execArgs: ['get-token', '--oidc-client-secret', 's3cret', '--password=pw'], secretFlags: ['oidc-client-secret', 'password'] }));
    expect(wiring.kubeconfigUser.text).not.toMatch(/s3cret|pw\n/);
    expect(wiring.setCredentials.text).not.toMatch(/s3cret|=pw/);
    expect(wiring.kubeconfigUser.entry.user.exec['args']).toEqual(['get-token', '--oidc-client-secret', 's3cret', '--password=pw']);
  });
});

describe('kubectl config set-credentials', () => {
  const tricky = [
    'get-token',
    '--oidc-extra-scope=email,groups',
    '--listen-address=127.0.0.1:8000,127.0.0.1:18000',
    '--auth-request-extra-params=a="b"',
    '--token-cache-dir=$HOME/.kube cache',
    `--x=it's`,
    '--empty=',
    '',
  ];

  it('passes every arg through the shell and kubectl CSV parsing unchanged', () => {
    const wiring = buildWiring(input({ execArgs: tricky, showSecrets: true, kubeconfigUserName: 'my user' }));
    expect(wiring.setCredentials.problems).toEqual([]);
    const words = shellWords(wiring.setCredentials.text);
    expect(words.slice(0, 7)).toEqual([
      'config',
      'set-credentials',
      'my user',
      '--exec-api-version=client.authentication.k8s.io/v1',
      '--exec-interactive-mode=Never',
      '--exec-command=kubectl-oidc_login',
      '--exec-arg=get-token',
    ]);
    const args = words.filter((word) => word.startsWith('--exec-arg=')).flatMap((word) => readCsvRecord(word.slice('--exec-arg='.length)) ?? ['<csv error>']);
    expect(args).toEqual(tricky);
  });

  it('one line per flag, and the secret redacted unless showSecrets', () => {
    const { text } = buildWiring(input()).setCredentials;
    expect(text.split(' \\\n  ')).toHaveLength(4 + EXEC_ARGS.length);
    expect(text).toContain(`--exec-arg='"--listen-address=127.0.0.1:8000,127.0.0.1:18000"'`);
    expect(text).toContain('--exec-arg=--oidc-client-secret=REDACTED');
    expect(text).not.toContain('s3cret');
    expect(buildWiring(input({ showSecrets: true })).setCredentials.text).toContain('--exec-arg=--oidc-client-secret=s3cret');
  });

  it('reports an arg that kubectl cannot store (carriage return)', () => {
    expect(buildWiring(input({ execArgs: ['get-token', '--x=a\r\nb'] })).setCredentials.problems).toEqual([
      'the exec arg "--x=a\\r\\nb" cannot be passed through kubectl config set-credentials; write the kubeconfig YAML instead',
    ]);
  });
});

describe('kube-apiserver flags', () => {
  it('the minimum: issuer, client, explicit username claim, groups claim', () => {
    const wiring = buildWiring(input());
    expect(wiring.apiServerFlags.flags).toEqual([`--oidc-issuer-url=${ISSUER}`, '--oidc-client-id=kubectl', '--oidc-username-claim=email', '--oidc-groups-claim=groups']);
    expect(wiring.apiServerFlags.text).toBe(wiring.apiServerFlags.flags.join('\n'));
    expect(wiring.apiServerFlags.problems).toEqual([]);
  });

  it('prefixes as given (incl. -), required claims, signing algorithms', () => {
    const m = mapping({ usernameClaim: 'sub', usernamePrefix: '-', groupsPrefix: 'oidc:', requiredClaims: [['hd', 'example.com'], ['tid', 'a=b']], signingAlgs: ['ES256', 'RS256'] });
    expect(buildWiring(input({ mapping: m })).apiServerFlags.flags).toEqual([
      `--oidc-issuer-url=${ISSUER}`,
      '--oidc-client-id=kubectl',
      '--oidc-username-claim=sub',
      '--oidc-username-prefix=-',
      '--oidc-groups-claim=groups',
      '--oidc-groups-prefix=oidc:',
      '--oidc-required-claim=hd=example.com',
      '--oidc-required-claim=tid=a=b',
      '--oidc-signing-algs=ES256,RS256',
    ]);
    const noGroups = buildWiring(input({ mapping: mapping({ groupsClaim: undefined, groupsPrefix: 'x:', usernamePrefix: '' }) })).apiServerFlags.flags;
    expect(noGroups.some((flag) => /groups|username-prefix/.test(flag))).toBe(false);
  });

  it.each<[string, Partial<ClaimMapping>, string]>([
    ['http', { issuerUrl: 'http://issuer.example.com' }, 'issuer URL http://issuer.example.com must use https (kube-apiserver accepts no other scheme)'],
    ['query', { issuerUrl: 'https://issuer.example.com/?tenant=a' }, 'issuer URL https://issuer.example.com/?tenant=a must not contain a query'],
    ['fragment', { issuerUrl: 'https://issuer.example.com/#x' }, 'issuer URL https://issuer.example.com/#x must not contain a fragment'],
    ['userinfo', { issuerUrl: 'https://u:p@issuer.example.com' }, 'issuer URL https://u:p@issuer.example.com must not contain a username or password'],
    ['not a URL', { issuerUrl: 'issuer' }, 'issuer URL "issuer" is not a valid URL'],
    ['alg', { signingAlgs: ['HS256'] }, 'kube-apiserver cannot verify tokens signed with HS256 (it accepts RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512)'],
    ['empty required claim', { requiredClaims: [['', 'x']] }, 'a required claim has an empty name'],
    ['duplicate required claim', { requiredClaims: [['hd', 'a'], ['hd', 'b']] }, 'required claim hd is given twice (the API server keeps only one value)'],
    ['= in a required claim name', { requiredClaims: [['a=b', 'c']] }, "required claim name a=b contains '=': --oidc-required-claim cannot express it"],
  ])('reports a bad mapping: %s', (_, overrides, problem) => {
    expect(buildWiring(input({ mapping: mapping(overrides) })).apiServerFlags.problems).toContain(problem);
  });
});

describe('AuthenticationConfiguration', () => {
  it.each<[WiringInput['kubernetesVersion'], string, boolean]>([
    [{ major: 1, minor: 36 }, 'apiserver.config.k8s.io/v1', true],
    [{ major: 1, minor: 34 }, 'apiserver.config.k8s.io/v1', true],
    [{ major: 1, minor: 33 }, 'apiserver.config.k8s.io/v1beta1', true],
    [{ major: 1, minor: 30 }, 'apiserver.config.k8s.io/v1beta1', true],
    [{ major: 1, minor: 29 }, 'apiserver.config.k8s.io/v1beta1', false],
    [undefined, 'apiserver.config.k8s.io/v1beta1', true],
    [{ major: 2, minor: 0 }, 'apiserver.config.k8s.io/v1', true],
  ])('Kubernetes %j → %s', (kubernetesVersion, apiVersion, ok) => {
    const artifact = buildWiring(input({ kubernetesVersion })).authenticationConfiguration;
    expect(artifact.apiVersion).toBe(apiVersion);
    expect(asRecord(parse(artifact.text))['apiVersion']).toBe(apiVersion);
    expect(artifact.problems).toEqual(ok ? [] : ['structured authentication configuration needs Kubernetes 1.30 or later; use the flags']);
  });

  it('spells out the flag defaults: the issuer# prefix, empty prefixes, required claims', () => {
    const m = mapping({ usernameClaim: 'sub', requiredClaims: [['hd', 'example.com']] });
    const artifact = buildWiring(input({ mapping: m })).authenticationConfiguration;
    expect(artifact.text).toMatch(/^# kube-apiserver --authentication-config=FILE/);
    expect(parse(artifact.text)).toEqual({
      apiVersion: 'apiserver.config.k8s.io/v1beta1',
      kind: 'AuthenticationConfiguration',
      jwt: [
        {
          issuer: { url: ISSUER, audiences: ['kubectl'] },
          claimMappings: { username: { claim: 'sub', prefix: `${ISSUER}#` }, groups: { claim: 'groups', prefix: '' } },
          claimValidationRules: [{ claim: 'hd', requiredValue: 'example.com' }],
        },
      ],
    });
    const email = parse(buildWiring(input()).authenticationConfiguration.text) as { jwt: Array<Record<string, unknown>> };
    expect(email.jwt[0]?.['claimMappings']).toEqual({ username: { claim: 'email', prefix: '' }, groups: { claim: 'groups', prefix: '' } });
    expect(email.jwt[0]?.['claimValidationRules']).toBeUndefined();
  });

  it("validates with the API server's rules", () => {
    const good = { issuer: { url: ISSUER, audiences: ['a'] }, claimMappings: { username: { claim: 'sub', prefix: '' } } };
    const config = (jwt: unknown): unknown => ({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AuthenticationConfiguration', jwt: [jwt] });
    expect(validateAuthenticationConfiguration(config(good))).toEqual([]);
    expect(validateAuthenticationConfiguration(config({ ...good, claimMappings: { username: { claim: 'sub' } } }))).toEqual(['jwt[0].claimMappings.username.prefix: required when claim is set (may be "")']);
    expect(validateAuthenticationConfiguration(config({ ...good, claimMappings: { username: { claim: 'sub', prefix: '' }, groups: { claim: 'g' } } }))).toEqual(['jwt[0].claimMappings.groups.prefix: required when claim is set (may be "")']);
    expect(validateAuthenticationConfiguration(config({ ...good, issuer: { url: ISSUER, audiences: ['a', 'a'] } }))).toEqual([
      'jwt[0].issuer.audiences: duplicate audience',
      'jwt[0].issuer.audienceMatchPolicy: must be MatchAny with more than one audience',
    ]);
    expect(validateAuthenticationConfiguration(config({ ...good, issuer: { url: ISSUER, audiences: [''] } }))).toEqual(['jwt[0].issuer.audiences: audiences must be non-empty strings']);
    expect(validateAuthenticationConfiguration(config({ ...good, issuer: { url: ISSUER, audiences: [] } }))).toEqual(['jwt[0].issuer.audiences: at least one audience is required']);
    expect(validateAuthenticationConfiguration(config({ ...good, issuer: { url: 'http://x', audiences: ['a'] } }))).toEqual(['issuer URL http://x must use https (kube-apiserver accepts no other scheme)']);
    expect(validateAuthenticationConfiguration(config({ ...good, extra: 1 }))).toEqual(['jwt[0]: unknown field "extra"']);
    expect(validateAuthenticationConfiguration(config({ ...good, claimMappings: { username: { expression: `'x:' + claims.email` } } }))).toEqual([
      'jwt[0].claimMappings.username.expression: claims.email_verified must be used in claimMappings.username.expression or claimValidationRules when claims.email is used',
    ]);
    expect(validateAuthenticationConfiguration(config({ ...good, claimValidationRules: [{ claim: 'a', requiredValue: 'x' }, { claim: 'a', requiredValue: 'y' }] }))).toEqual([
      'jwt[0].claimValidationRules[1].claim: duplicate claim a',
    ]);
    expect(validateAuthenticationConfiguration({ apiVersion: 'v1', kind: 'Config', jwt: [] })).toEqual([
      'apiVersion v1 is not apiserver.config.k8s.io/v1 or apiserver.config.k8s.io/v1beta1',
      'kind must be AuthenticationConfiguration',
      'jwt: at least one authenticator is required',
    ]);
  });
});

describe('EKS', () => {
  it('associate-identity-provider-config with the JSON structure, and the eksctl ClusterConfig', () => {
    const m = mapping({ usernamePrefix: 'oidc:', groupsPrefix: 'oidc:', requiredClaims: [['hd', 'example.com']] });
    const { associate, eksctl } = buildWiring(input({ mapping: m })).eks;
    expect(associate.problems).toEqual([]);
    expect(eksctl.problems).toEqual([]);
    expect(associate.text).not.toMatch(/[<>]/);
    const words = shellWords(associate.text);
    expect(words.slice(0, 4)).toEqual(['eks', 'associate-identity-provider-config', '--cluster-name', 'CLUSTER_NAME']);
    const fields = { issuerUrl: ISSUER, clientId: 'kubectl', usernameClaim: 'email', usernamePrefix: 'oidc:', groupsClaim: 'groups', groupsPrefix: 'oidc:', requiredClaims: { hd: 'example.com' } };
    expect(JSON.parse(valueAfter(words, '--oidc'))).toEqual({ identityProviderConfigName: 'oidc', ...fields });

    expect(eksctl.text).toMatch(/^# .*\n# eksctl associate identityprovider -f cluster\.yaml\n/);
    expect(parse(eksctl.text)).toEqual({
      apiVersion: 'eksctl.io/v1alpha5',
      kind: 'ClusterConfig',
      metadata: { name: 'CLUSTER_NAME', region: 'REGION' },
      identityProviders: [{ name: 'oidc', type: 'oidc', ...fields }],
    });
  });

  it('leaves unset prefixes to the EKS default (the same as the flag)', () => {
    const words = shellWords(buildWiring(input({ mapping: mapping({ usernameClaim: 'sub', usernamePrefix: '-', groupsClaim: undefined }) })).eks.associate.text);
    expect(JSON.parse(valueAfter(words, '--oidc'))).toEqual({ identityProviderConfigName: 'oidc', issuerUrl: ISSUER, clientId: 'kubectl', usernameClaim: 'sub', usernamePrefix: '-' });
  });

  it.each<[string, Partial<ClaimMapping>, string]>([
    ['system: username prefix', { usernamePrefix: 'system:oidc:' }, 'EKS does not accept a usernamePrefix containing "system:" (system:oidc:)'],
    ['system: groups prefix', { groupsPrefix: 'x:system:' }, 'EKS does not accept a groupsPrefix containing "system:" (x:system:)'],
    ['long claim name', { requiredClaims: [['k'.repeat(64), 'v']] }, `EKS needs required claim names of 1 to 63 characters (${'k'.repeat(64)})`],
    ['long claim value', { requiredClaims: [['k', 'v'.repeat(254)]] }, 'EKS needs required claim values of 1 to 253 characters (k)'],
    ['empty claim value', { requiredClaims: [['k', '']] }, 'EKS needs required claim values of 1 to 253 characters (k)'],
    ['issuer query', { issuerUrl: 'https://issuer.example.com/?a=b' }, 'EKS does not accept an issuer URL with a query'],
    ['http issuer', { issuerUrl: 'http://issuer.example.com' }, 'EKS needs an https:// issuer URL'],
  ])('reports EKS limits: %s', (_, overrides, problem) => {
    const { associate, eksctl } = buildWiring(input({ mapping: mapping(overrides) })).eks;
    expect(associate.problems).toContain(problem);
    expect(eksctl.problems).toContain(problem);
  });

  it('a non-RS256 provider gets a note, not a problem (EKS behaviour not documented)', () => {
    const { associate, eksctl } = buildWiring(input({ mapping: mapping({ signingAlgs: ['ES256'] }) })).eks;
    expect(associate.problems).toEqual([]);
    expect(associate.text).toMatch(/^# note: the provider signs tokens with ES256; EKS has no signing-algorithm setting/);
    expect(eksctl.text).toContain('# note: the provider signs tokens with ES256');
    expect(buildWiring(input()).eks.associate.text).not.toContain('note');
  });
});

describe('GKE', () => {
  function patchOf(text: string): Array<Record<string, unknown>> {
    const words = shellWords(text);
    expect(words.slice(0, 6)).toEqual(['patch', 'clientconfig', 'default', '-n', 'kube-public', '--type=json']);
    return JSON.parse(valueAfter(words, '-p')) as Array<Record<string, unknown>>;
  }

  it('a JSON patch adding the oidc entry to the ClientConfig, secret redacted', () => {
    const m = mapping({ usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' });
    const artifact = buildWiring(input({ mapping: m })).gke;
    expect(artifact.problems).toEqual([]);
    expect(artifact.text).toMatch(/^# Identity Service for GKE is deprecated by Google/);
    expect(artifact.text).not.toContain('g-secret');
    expect(patchOf(artifact.text)).toEqual([
      {
        op: 'add',
        path: '/spec/authentication/-',
        value: {
          name: 'oidc',
          oidc: {
            clientID: 'kubectl',
            clientSecret: 'REDACTED',
            issuerURI: ISSUER,
            kubectlRedirectURI: 'http://localhost:8000',
            cloudConsoleRedirectURI: 'https://console.cloud.google.com/kubernetes/oidc',
            extraParams: 'prompt=consent',
            scopes: 'openid,email,groups',
            userClaim: 'email',
            groupsClaim: 'groups',
            userPrefix: 'oidc:',
            groupPrefix: 'oidc:',
          },
        },
      },
    ]);
  });

  it('the real secret with showSecrets; no secret, no extraParams, no groups when absent; the effective user prefix', () => {
    expect(JSON.stringify(patchOf(buildWiring(input({ showSecrets: true })).gke.text))).toContain('"clientSecret":"g-secret"');
    const bare = buildWiring(input({ mapping: mapping({ usernameClaim: 'sub', groupsClaim: undefined }), gke: { redirectUri: 'http://localhost:8000', scopes: [], clientSecret: undefined, extraParams: {} } })).gke;
    const oidc = asRecord(asRecord(patchOf(bare.text)[0]?.['value'])['oidc']);
    expect(oidc).toEqual({
      clientID: 'kubectl',
      issuerURI: ISSUER,
      kubectlRedirectURI: 'http://localhost:8000',
      cloudConsoleRedirectURI: 'https://console.cloud.google.com/kubernetes/oidc',
      scopes: 'openid',
      userClaim: 'sub',
      userPrefix: `${ISSUER}#`,
    });
  });

  it('reports values the comma-separated fields cannot hold', () => {
    const artifact = buildWiring(input({ gke: { redirectUri: 'http://localhost:8000', scopes: ['a,b'], clientSecret: undefined, extraParams: { 'x=y': 'z' } } })).gke;
    expect(artifact.problems).toEqual([
      'GKE takes the scopes as one comma-separated list: the scope "a,b" cannot be part of it',
      'GKE takes extraParams as k=v,…: the parameter "x=y=z" cannot be part of it',
    ]);
  });
});

describe('AKS', () => {
  it('the JWT authenticator file in expression form, and the az command', () => {
    const m = mapping({ usernamePrefix: 'oidc:', groupsClaim: 'https://example.com/groups', groupsPrefix: 'oidc:', requiredClaims: [['hd', 'example.com']] });
    const { json, command } = buildWiring(input({ mapping: m })).aks;
    expect(json.problems).toEqual([]);
    expect(command.problems).toEqual([]);
    expect(JSON.parse(json.text)).toEqual({
      issuer: { url: ISSUER, audiences: ['kubectl'] },
      claimValidationRules: [
        { expression: 'claims.?email_verified.orValue(true) == true', message: 'email not verified' },
        { expression: `'hd' in claims && claims.hd == 'example.com'`, message: 'required claim hd must be example.com' },
      ],
      claimMappings: {
        username: { expression: `'oidc:' + claims.email` },
        groups: {
          expression: `'https://example.com/groups' in claims && claims['https://example.com/groups'] != null ? (type(claims['https://example.com/groups']) == string ? [claims['https://example.com/groups']] : claims['https://example.com/groups']).map(g, 'oidc:' + g) : []`,
        },
      },
    });
    expect(shellWords(command.text)).toEqual(['aks', 'jwtauthenticator', 'add', '--resource-group', 'RESOURCE_GROUP', '--cluster-name', 'CLUSTER_NAME', '--name', 'oidc', '--config-file', 'jwt-authenticator.json']);
    const comments = command.text.split('\n').filter((line) => line.startsWith('#'));
    expect(comments.join('\n')).toContain('aks:jwt:');
    expect(command.text.split('\n').filter((line) => !line.startsWith('#')).join('\n')).not.toContain('aks:jwt:');
  });

  it('reports what AKS would refuse', () => {
    expect(buildWiring(input({ mapping: mapping({ issuerUrl: 'http://issuer.example.com' }) })).aks.json.problems).toEqual([
      'issuer URL http://issuer.example.com must use https (kube-apiserver accepts no other scheme)',
    ]);
    expect(buildWiring(input({ mapping: mapping({ clientId: '' }) })).aks.json.problems).toEqual([
      'the client ID (audience) is empty',
      'jwt-authenticator.json.issuer.audiences: audiences must be non-empty strings',
    ]);
  });
});

describe('RBAC', () => {
  function objects(text: string): Array<Record<string, unknown>> {
    const docs = parseAllDocuments(text);
    expect(Array.isArray(docs)).toBe(true);
    return (docs as Array<{ errors: unknown[]; toJS(): unknown }>).map((doc) => {
      expect(doc.errors).toEqual([]);
      return asRecord(doc.toJS());
    });
  }

  it('one ClusterRoleBinding for the user and one per group, never system: groups', () => {
    const artifact = buildWiring(input({ identity: { username: 'oidc:jane', groups: ['oidc:devs', 'oidc:devs', 'system:authenticated', 'system:masters'] } })).rbac;
    expect(artifact.problems).toEqual([]);
    expect(artifact.text.startsWith('---\n')).toBe(true);
    const docs = objects(artifact.text);
    expect(docs.map((doc) => asRecord(doc['metadata'])['name'])).toEqual([bindingName('oidc-user-', 'oidc:jane'), bindingName('oidc-group-', 'oidc:devs')]);
    expect(docs[0]).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: bindingName('oidc-user-', 'oidc:jane') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'oidc:jane' }],
    });
    expect(docs[1]?.['subjects']).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'oidc:devs' }]);
    expect(artifact.text).not.toContain('system:');
  });

  it('RoleBindings in a namespace, still referring to the ClusterRole', () => {
    const docs = objects(buildWiring(input({ rbac: { clusterRole: 'edit', namespace: 'team-a' } })).rbac.text);
    expect(docs).toHaveLength(2);
    for (const doc of docs) {
      expect(doc['kind']).toBe('RoleBinding');
      expect(asRecord(doc['metadata'])['namespace']).toBe('team-a');
      expect(doc['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' });
    }
  });

  it('refuses without an identity, and for a system: username or a bad namespace', () => {
    expect(buildWiring(input({ identity: undefined })).rbac).toEqual({ text: '', problems: ['the API server would reject this token; fix the findings first'] });
    expect(buildWiring(input({ identity: { username: 'system:admin', groups: [] } })).rbac.problems).toEqual([
      'the username system:admin starts with "system:", which Kubernetes reserves for its own components: set a username prefix',
    ]);
    expect(buildWiring(input({ rbac: { clusterRole: 'view', namespace: 'Team_A' } })).rbac.problems).toEqual(['"Team_A" is not a valid namespace name']);
  });

  it('object names: DNS-1123 subdomains, a stable hash only when the value was changed', () => {
    expect(bindingName('oidc-user-', 'jane')).toBe('oidc-user-jane');
    expect(bindingName('oidc-user-', 'jane.doe')).toBe('oidc-user-jane.doe');
    const email = bindingName('oidc-user-', 'Jane@Example.com');
    expect(email).toMatch(/^oidc-user-jane-example\.com-[0-9a-f]{8}$/);
    expect(bindingName('oidc-user-', 'Jane@Example.com')).toBe(email);
    expect(bindingName('oidc-user-', 'jane@example.com')).not.toBe(email);
    expect(bindingName('oidc-group-', 'https://issuer.example.com#abc')).toMatch(/^oidc-group-https-issuer\.example\.com-abc-[0-9a-f]{8}$/);
    expect(bindingName('oidc-group-', '日本')).toMatch(/^oidc-group-[0-9a-f]{8}$/);
    expect(bindingName('oidc-group-', '.-a..b-.')).toMatch(/^oidc-group-a\.b-[0-9a-f]{8}$/);
    const long = bindingName('oidc-user-', 'a'.repeat(300));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/-[0-9a-f]{8}$/);
    for (const value of ['jane', 'Jane@Example.com', '日本', 'a'.repeat(300), 'x.-.y', '-', '...', 'a_b', 'oidc:Ops Team', `${ISSUER}#u1`]) {
      expect(isDnsSubdomain(bindingName('oidc-user-', value)), value).toBe(true);
    }
  });
});

// ---------------------------------------------------------------- equivalence

const cel = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true, homogeneousAggregateLiterals: false });

type View = { authenticated: true; username: string; groups: string[] } | { authenticated: false };

/** What kube-apiserver makes of an AKS (expression-form) authenticator, evaluated with cel-js. */
function viewFromExpressions(config: Record<string, unknown>, claims: Record<string, unknown>): View {
  const evaluate = (expression: string): { ok: true; value: unknown } | { ok: false } => {
    try {
      return { ok: true, value: cel.evaluate(expression, { claims }) };
    } catch {
      return { ok: false };
    }
  };
  const mappings = asRecord(config['claimMappings']);
  const username = evaluate(String(asRecord(mappings['username'])['expression']));
  // Expression mode: the username must be a non-empty string.
  if (!username.ok || typeof username.value !== 'string' || username.value === '') return { authenticated: false };
  let groups: string[] = [];
  if (mappings['groups'] !== undefined) {
    const result = evaluate(String(asRecord(mappings['groups'])['expression']));
    if (!result.ok) return { authenticated: false };
    // string, list of strings, or null; empty strings are dropped.
    if (typeof result.value === 'string') groups = [result.value];
    else if (Array.isArray(result.value) && result.value.every((group) => typeof group === 'string')) groups = result.value as string[];
    else if (result.value !== null) return { authenticated: false };
    groups = groups.filter((group) => group !== '');
  }
  for (const rule of (config['claimValidationRules'] as unknown[] | undefined) ?? []) {
    const result = evaluate(String(asRecord(rule)['expression']));
    if (!result.ok || result.value !== true) return { authenticated: false };
  }
  return { authenticated: true, username: username.value, groups: [...groups, 'system:authenticated'] };
}

/** What kube-apiserver makes of a claim/prefix-form jwt entry (kubernetes.md §2.2 steps 7, 8, 10). */
function viewFromClaimMappings(jwt: Record<string, unknown>, claims: Record<string, unknown>): View {
  const mappings = asRecord(jwt['claimMappings']);
  const user = asRecord(mappings['username']);
  const claim = String(user['claim']);
  const raw = claims[claim];
  if (typeof raw !== 'string') return { authenticated: false };
  if (claim === 'email' && 'email_verified' in claims && claims['email_verified'] !== true) return { authenticated: false };
  const groups: string[] = [];
  if (mappings['groups'] !== undefined) {
    const g = asRecord(mappings['groups']);
    const groupClaim = String(g['claim']);
    // JSON null is an empty list to Go's json.Unmarshal: no groups.
    if (groupClaim in claims && claims[groupClaim] !== null) {
      const value = claims[groupClaim];
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) return { authenticated: false };
      groups.push(...list.map((item) => String(g['prefix']) + item));
    }
  }
  for (const rule of (jwt['claimValidationRules'] as unknown[] | undefined) ?? []) {
    const r = asRecord(rule);
    if (claims[String(r['claim'])] !== r['requiredValue']) return { authenticated: false };
  }
  return { authenticated: true, username: String(user['prefix']) + raw, groups: [...groups, 'system:authenticated'] };
}

const NS_GROUPS = 'https://example.com/groups';
const MAPPINGS: Array<[string, ClaimMapping]> = [
  ['email, no prefix, groups', mapping()],
  ['email, prefix -', mapping({ usernamePrefix: '-' })],
  ['email, literal prefixes', mapping({ usernamePrefix: 'okta:', groupsPrefix: 'okta:' })],
  ['sub, default issuer# prefix', mapping({ usernameClaim: 'sub', groupsPrefix: 'oidc:' })],
  ['sub, empty prefix = default', mapping({ usernameClaim: 'sub', usernamePrefix: '', groupsPrefix: '' })],
  ['sub, prefix -, no groups, required claim', mapping({ usernameClaim: 'sub', usernamePrefix: '-', groupsClaim: undefined, requiredClaims: [['hd', 'example.com']] })],
  ['preferred_username, namespaced groups', mapping({ usernameClaim: 'preferred_username', usernamePrefix: 'ms:', groupsClaim: NS_GROUPS, groupsPrefix: 'ms:' })],
  ['quotes and backslashes in prefixes and values', mapping({ issuerUrl: "https://issuer.example.com/it's", usernameClaim: 'sub', groupsPrefix: `o'\\"`, requiredClaims: [['hd', `it's "x"`], [NS_GROUPS, 'a']] })],
  ['two required claims, namespaced name', mapping({ requiredClaims: [['hd', 'example.com'], ['tenant-id', 't1']] })],
];

const BASE_CLAIMS = {
  sub: 'u-1',
  email: 'jane@example.com',
  email_verified: true,
  preferred_username: 'jane',
  groups: ['devs', 'ops'],
  [NS_GROUPS]: ['a', 'b'],
  hd: 'example.com',
  'tenant-id': 't1',
};
const CLAIM_SETS: Array<[string, Record<string, unknown>]> = [
  ['everything', BASE_CLAIMS],
  ['email_verified false', { ...BASE_CLAIMS, email_verified: false }],
  ['email_verified absent', { ...BASE_CLAIMS, email_verified: undefined }],
  ['email_verified a string', { ...BASE_CLAIMS, email_verified: 'true' }],
  ['email_verified null', { ...BASE_CLAIMS, email_verified: null }],
  ['groups as strings', { ...BASE_CLAIMS, groups: 'devs', [NS_GROUPS]: 'a' }],
  ['groups absent', { ...BASE_CLAIMS, groups: undefined, [NS_GROUPS]: undefined }],
  ['groups empty lists', { ...BASE_CLAIMS, groups: [], [NS_GROUPS]: [] }],
  ['groups not strings', { ...BASE_CLAIMS, groups: [1, 2], [NS_GROUPS]: [true] }],
  ['groups a number', { ...BASE_CLAIMS, groups: 5, [NS_GROUPS]: 5 }],
  ['groups null', { ...BASE_CLAIMS, groups: null, [NS_GROUPS]: null }],
  ['username claims absent', { ...BASE_CLAIMS, email: undefined, sub: undefined, preferred_username: undefined }],
  ['username claims not strings', { ...BASE_CLAIMS, email: 1, sub: ['u'], preferred_username: { a: 1 } }],
  ['required claim wrong', { ...BASE_CLAIMS, hd: 'evil.com', 'tenant-id': 't2' }],
  ['required claim absent', { ...BASE_CLAIMS, hd: undefined, 'tenant-id': undefined }],
  ['required claim not a string', { ...BASE_CLAIMS, hd: 1, 'tenant-id': ['t1'] }],
  ['tricky values', { ...BASE_CLAIMS, sub: `it's "u" \\ 1`, email: `o'brien@example.com`, hd: `it's "x"`, [NS_GROUPS]: 'a', groups: [`q'"\\`] }],
];

function compact(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

describe('equivalence of the cluster-side artifacts with the --oidc-* flags (apiServerView)', () => {
  describe.each(MAPPINGS)('%s', (_, m) => {
    const wiring = buildWiring(input({ mapping: m }));
    const aks = asRecord(JSON.parse(wiring.aks.json.text));
    const jwt = asRecord((asRecord(parse(wiring.authenticationConfiguration.text))['jwt'] as unknown[])[0]);

    it('is valid', () => {
      expect(wiring.aks.json.problems).toEqual([]);
      expect(wiring.authenticationConfiguration.problems).toEqual([]);
      expect(wiring.apiServerFlags.problems).toEqual([]);
    });

    it.each(CLAIM_SETS)('claims: %s', (__, rawClaims) => {
      const claims = compact(rawClaims);
      const view = apiServerView(m, claims);
      const expected: View = view.authenticated ? { authenticated: true, username: view.username, groups: view.groups } : { authenticated: false };
      expect(viewFromExpressions(aks, claims), 'AKS expressions').toEqual(expected);
      expect(viewFromClaimMappings(jwt, claims), 'AuthenticationConfiguration').toEqual(expected);
    });
  });

  it('the table exercises both outcomes and every prefix form', () => {
    const outcomes = MAPPINGS.flatMap(([, m]) => CLAIM_SETS.map(([, claims]) => apiServerView(m, compact(claims)).authenticated));
    expect(outcomes.filter(Boolean).length).toBeGreaterThan(10);
    expect(outcomes.filter((ok) => !ok).length).toBeGreaterThan(10);
  });
});
