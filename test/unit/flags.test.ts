import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir, expandHome, withClusterConfig, parseGetTokenFlags, splitScopes } from '../../src/cli/flags.js';
import { GET_TOKEN_FLAGS, type RawFlags } from '../../src/cli/flag-spec.js';
import { HIT_FLAG_KINDS, hitSettings, scanGetTokenArgs } from '../../src/cli/cache-hit.js';
import { PluginError } from '../../src/core/errors.js';
import { viaCommander } from '../support/parsers.js';

const env = { HOME: '/home/u' };
const base = ['--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl'];

/**
 * Parses get-token argv with node:util parseArgs and the full flag table: a synchronous stand-in for commander in
 * these tests (held against commander below). The product reads with commander (full CLI) and arg (cache hit).
 */
function viaParseArgs(argv: string[]): RawFlags {
  const options = Object.fromEntries(
    GET_TOKEN_FLAGS.map((flag) => [flag.name, { type: flag.kind === 'boolean' ? 'boolean' : 'string', multiple: ['list', 'array', 'map'].includes(flag.kind), ...(flag.short ? { short: flag.short } : {}) }]),
  ) as Parameters<typeof parseArgs>[0] extends infer T ? (T extends { options?: infer O } ? O : never) : never;
  return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as RawFlags;
}

function definedOnly(raw: RawFlags): RawFlags {
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
}

function errorOf(fn: () => unknown): PluginError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PluginError) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('get-token flags', () => {
  it('applies kubelogin defaults', () => {
    const config = parseGetTokenFlags({ 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl' }, env);
    expect(config.provider).toMatchObject({ pkceMethod: 'auto', extraScopes: [], useAccessToken: false, clientSecret: undefined });
    expect(config.login).toMatchObject({
      listenAddresses: [
        { host: '127.0.0.1', port: 8000 },
        { host: '127.0.0.1', port: 18000 },
      ],
      timeoutSec: 180,
      skipOpenBrowser: false,
    });
    expect(config.cache).toEqual({ dir: '/home/u/.kube/cache/oidc-login', storage: 'disk', forceRefresh: false, expiryMarginSec: 60 });
    expect(config.verbosity).toBe(0);
  });

  it('puts the cache under $KUBECACHEDIR and expands ~ in --token-cache-dir', () => {
    expect(parseGetTokenFlags({ 'oidc-issuer-url': 'https://i', 'oidc-client-id': 'c' }, { ...env, KUBECACHEDIR: '/k' }).cache.dir).toBe('/k/oidc-login');
    expect(parseGetTokenFlags({ 'oidc-issuer-url': 'https://i', 'oidc-client-id': 'c', 'token-cache-dir': '~/tokens' }, env).cache.dir).toBe('/home/u/tokens');
  });

  it('splits scopes on commas and spaces, drops openid and duplicates', () => {
    expect(splitScopes(['openid profile email', 'groups,offline_access', 'email'])).toEqual(['profile', 'email', 'groups', 'offline_access']);
  });

  it('splits scopes exactly as the regex /[\\s,]+/ does (the comma-only fast path included)', () => {
    const reference = (values: string[]): string[] => [...new Set(values.flatMap((value) => value.split(/[\s,]+/)).filter((scope) => scope !== '' && scope !== 'openid'))];
    const pieces = ['email', 'openid', ',', ',,', ' ', '\t', '\n', 'groups', 'é', '\u00a0', '\u2028', '\ufeff', 'a:b/c', '~', ''];
    let seed = 3;
    for (let round = 0; round < 500; round++) {
      const values = Array.from({ length: 1 + (round % 3) }, () => {
        let value = '';
        for (let i = 0; i < 6; i++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          value += pieces[seed % pieces.length];
        }
        return value;
      });
      expect(splitScopes(values), JSON.stringify(values)).toEqual(reference(values));
    }
  });

  it('joins cache paths as before, whatever slashes HOME, KUBECACHEDIR or --token-cache-dir carry', () => {
    const join = (...parts: string[]): string => parts.map((part, index) => (index === 0 ? part.replace(/\/+$/, '') : part.replace(/^\/+|\/+$/g, ''))).join('/');
    for (const home of ['/home/u', '/home/u/', '/home/u//', '/', '//', 'rel', '/a//b//', 'C:\\Users\\u']) {
      expect(defaultCacheDir({ HOME: home })).toBe(join(home, '.kube', 'cache', 'oidc-login'));
      expect(defaultCacheDir({ HOME: '/h', KUBECACHEDIR: home })).toBe(join(home, 'oidc-login'));
      for (const dir of ['~/tokens', '~//tokens/', '~/', '~///']) expect(expandHome(dir, { HOME: home })).toBe(join(home, dir.slice(2)));
    }
  });

  it.each([
    [[], '--oidc-issuer-url is missing'],
    [['--oidc-issuer-url=https://i'], '--oidc-client-id is missing'],
    [[...base, '--oidc-pkce-method=plain'], '--oidc-pkce-method has an invalid value "plain"'],
    [[...base, '--authentication-timeout-sec=soon'], '--authentication-timeout-sec has an invalid value "soon"'],
    [[...base, '--listen-address=0.0.0.0:8000'], '--listen-address 0.0.0.0:8000 is not a loopback address'],
    [[...base, '--listen-address=127.0.0.1'], '--listen-address has an invalid value "127.0.0.1"'],
    [[...base, '--oidc-request-header=NoEquals'], '--oidc-request-header has an invalid value "NoEquals"'],
    [[...base, '--local-server-cert=/c.pem'], '--local-server-cert and --local-server-key must be given together'],
    [[...base, '--expiry-margin-sec=-5'], '--expiry-margin-sec has an invalid value "-5"'],
  ])('rejects %j: %s', (argv, message) => {
    const error = errorOf(() => parseGetTokenFlags(viaParseArgs(argv), env));
    expect(error.code).toBe('ERR_USAGE');
    expect(error.message).toBe(message);
    expect(error.hint).toBeTruthy();
  });

  it('refuses http:// issuers except on loopback hosts', () => {
    expect(errorOf(() => parseGetTokenFlags({ 'oidc-issuer-url': 'http://idp.example.com', 'oidc-client-id': 'c' }, env)).code).toBe('ERR_INSECURE_ISSUER');
    for (const issuer of ['http://127.0.0.1:5556/dex', 'http://localhost:8080/realms/x', 'http://[::1]:9000']) {
      expect(parseGetTokenFlags({ 'oidc-issuer-url': issuer, 'oidc-client-id': 'c' }, env).provider.issuerUrl).toBe(issuer);
    }
  });

  it('resolves the grant type as kubelogin: auto is password with --username, else authcode', () => {
    expect(parseGetTokenFlags(viaParseArgs(base), env).login.grantType).toBe('authcode');
    expect(parseGetTokenFlags(viaParseArgs([...base, '--username=jane']), env).login).toMatchObject({ grantType: 'password', username: 'jane' });
    expect(parseGetTokenFlags(viaParseArgs([...base, '--grant-type=device-code']), env).login.grantType).toBe('device-code');
  });

  it('reads the TLS flags: CA files (~ expanded) and base64 PEM data, and --insecure-skip-tls-verify (warned about when a request is made, not on cache hits)', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const config = parseGetTokenFlags(viaParseArgs([...base, '--certificate-authority=~/ca.pem', `--certificate-authority-data=${Buffer.from(pem).toString('base64')}`, '--insecure-skip-tls-verify']), env);
    expect(config.provider.tls).toEqual({ caFiles: ['/home/u/ca.pem'], caData: [pem], insecureSkipVerify: true });
    expect(config.warnings).toEqual([]);
    expect(errorOf(() => parseGetTokenFlags(viaParseArgs([...base, '--certificate-authority-data=bm90IGEgcGVt']), env)).message).toBe('--certificate-authority-data is not a base64-encoded PEM certificate');
  });

  it('fills issuer, client id, secret and scopes from spec.cluster.config where the flags are silent', () => {
    const cluster = { server: 'https://k', config: { 'oidc-issuer-url': 'https://cluster-idp', 'oidc-client-id': 'from-cluster', 'oidc-extra-scope': ['email', 'groups'], other: 1 } };
    const merged = withClusterConfig(viaParseArgs(['--oidc-client-id=from-flag']), cluster);
    const config = parseGetTokenFlags(merged, env);
    expect(config.provider).toMatchObject({ issuerUrl: 'https://cluster-idp', clientId: 'from-flag', extraScopes: ['email', 'groups'] });
    expect(withClusterConfig(viaParseArgs(base), undefined)).toEqual(viaParseArgs(base));
    expect(withClusterConfig(viaParseArgs(base), { server: 'https://k' })).toEqual(viaParseArgs(base));
    expect(() => withClusterConfig({}, { config: 'https://idp' })).toThrow(/is not an object/);
    expect(() => withClusterConfig({}, { config: { 'oidc-issuer-url': 42 } })).toThrow(/oidc-issuer-url is not a string/);
  });

  it('accepts the deprecated --oidc-use-pkce with a warning', () => {
    const config = parseGetTokenFlags(viaParseArgs([...base, '--oidc-use-pkce']), env);
    expect(config.provider.pkceMethod).toBe('S256');
    expect(config.warnings).toEqual(['--oidc-use-pkce is deprecated: use --oidc-pkce-method=S256']);
  });

  /** Argument lists as kubeconfigs spell them. */
  const KUBECONFIG_ARGVS: string[][][] = [
    [base],
    [[...base, '--oidc-extra-scope=email', '--oidc-extra-scope', 'groups,offline_access', '-v1']],
    [[...base, '--oidc-request-header=Origin=https://a', '--oidc-request-header', 'X-B=c=d', '--oidc-auth-request-extra-params=audience=k8s']],
    [[...base, '--force-refresh', '--skip-open-browser', '--listen-address=127.0.0.1:0', '--v=2', '--token-cache-storage=none', '--logtostderr']],
    [[...base, '--oidc-client-secret', 's3cr3t', '--oidc-redirect-url=http://localhost:8000/callback', '--oidc-pkce-method=no', '--expiry-margin-sec=30']],
    [[...base, '--grant-type', 'password', '--username=jane', '--password', 'pw', '--login-hint=jane@example.com', '--token-cache-dir', '~/c']],
    [[...base, '--oidc-extra-scope=', '--oidc-client-secret=', '--v', '0', '--oidc-use-access-token', '--insecure-skip-tls-verify', '--certificate-authority=/ca.pem']],
  ];

  // The cache-hit path and the full CLI must read a kubeconfig's arguments identically.
  it.each(KUBECONFIG_ARGVS)("commander and the tests' parseArgs reader agree on %j", async (argv) => {
    expect(parseGetTokenFlags(await viaCommander(argv), env)).toEqual(parseGetTokenFlags(viaParseArgs(argv), env));
  });

  it.each(KUBECONFIG_ARGVS)('the cache-hit reader (arg with the compact flag table) reads %j as commander does, or hands over', async (argv) => {
    const scanned = scanGetTokenArgs(['get-token', ...argv], 1);
    if (!argv.includes('-v1')) expect(scanned).toBeDefined();
    if (scanned !== undefined) expect(parseGetTokenFlags(scanned, env)).toEqual(parseGetTokenFlags(await viaCommander(argv), env));
  });

  it('the compact flag table of the cache-hit path knows every get-token flag, by how it is read', () => {
    const derived = GET_TOKEN_FLAGS.map((flag) => [flag.name, flag.kind === 'boolean' ? 0 : ['list', 'array', 'map'].includes(flag.kind) ? 2 : 1]);
    expect([...HIT_FLAG_KINDS].map(([name, bits]) => [name, bits & 3]).sort()).toEqual(derived.sort());
  });

  it('the cache-hit reader reads exactly what commander reads, or hands over (every flag, every spelling)', async () => {
    const spellings = (name: string): string[][] => [[`--${name}`], [`--${name}=v`], [`--${name}=`], [`--${name}=a=b`], [`--${name}=-x`], [`--${name}`, 'v'], [`--${name}`, ''], [`--${name}`, '-x'], [`--${name}`, '--'], [`--${name}`, '--v=1'], [`--${name}=true`], [`--${name}=false`]];
    const odd = [['--'], ['-v'], ['-v', '1'], ['-v1'], ['-v=1'], ['--unknown=1'], ['---v=1'], ['--no-force-refresh'], ['--__proto__=x'], ['--constructor'], ['--toString=x'], ['x'], ['-'], [''], ['--=x'], ['--V=1'], ['-- '], ['--v=1', '--'], ['--', '--v=1']];
    const cases: string[][] = [[], ...odd];
    for (const flag of GET_TOKEN_FLAGS) {
      for (const spelling of spellings(flag.name)) {
        cases.push(spelling, [...spelling, ...spelling], [...base, ...spelling, '--v=0']);
      }
    }
    let scanned = 0;
    for (const argv of cases) {
      const hit = scanGetTokenArgs(['get-token', ...argv], 1);
      if (hit === undefined) continue;
      scanned++;
      let parsed: RawFlags;
      try {
        parsed = definedOnly(await viaCommander(argv));
      } catch {
        // commander refuses it (e.g. a value outside --oidc-pkce-method's choices): the hit path must hand over.
        expect(hitSettings(hit, env), JSON.stringify(argv)).toBeUndefined();
        continue;
      }
      expect(parsed, JSON.stringify(argv)).toEqual(hit);
    }
    expect(scanned).toBeGreaterThan(GET_TOKEN_FLAGS.length * 8);
  });

  it('takes pflag-style --flag=false in the full CLI', async () => {
    expect(parseGetTokenFlags(await viaCommander([...base, '--force-refresh=false']), env).cache.forceRefresh).toBe(false);
    expect(parseGetTokenFlags(await viaCommander([...base, '--force-refresh=true']), env).cache.forceRefresh).toBe(true);
  });
});
