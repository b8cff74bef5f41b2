/**
 * The API's options are the get-token flags: the same validated configuration and cache key as the CLI's
 * for the same settings, and messages that name the options instead of the flags.
 */
import { describe, expect, it } from 'vitest';
import { toRawFlags, OPTION_FLAGS } from '../../src/api/options.js';
import { OidcLoginError, execCredential, getToken, type GetTokenOptions } from '../../src/api/index.js';
import { GET_TOKEN_FLAGS } from '../../src/cli/flag-spec.js';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { viaCommander } from '../support/parsers.js';
import { cacheKeyFor } from '../../src/core/cache-key.js';

const env = { HOME: '/home/u' };
const issuer = ['--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl'];
const base: GetTokenOptions = { issuerUrl: 'https://issuer.example.com', clientId: 'kubectl' };
const caData = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');


const SAME_SETTINGS: Array<[string, GetTokenOptions, string[]]> = [
  ['the required options only', base, issuer],
  [
    'every provider and cache option',
    {
      ...base,
      clientSecret: 's3cret',
      extraScopes: ['email groups', 'offline_access'],
      redirectUrl: 'http://localhost:8000/callback',
      pkceMethod: 'S256',
      useAccessToken: true,
      requestHeaders: { 'X-Tenant': 'a', 'x-trace': 'b=c' },
      authRequestExtraParams: { audience: 'k8s', resource: 'urn:x' },
      loginHint: 'jane@example.com',
      certificateAuthority: ['~/ca.pem', '/etc/ca2.pem'],
      certificateAuthorityData: caData,
      insecureSkipTlsVerify: true,
      tokenCacheDir: '~/cache',
      tokenCacheStorage: 'disk',
      forceRefresh: true,
      expiryMarginSec: 10,
      verbosity: 2,
    },
    [
      ...issuer,
      '--oidc-client-secret=s3cret',
      '--oidc-extra-scope=email groups',
      '--oidc-extra-scope=offline_access',
      '--oidc-redirect-url=http://localhost:8000/callback',
      '--oidc-pkce-method=S256',
      '--oidc-use-access-token',
      '--oidc-request-header=X-Tenant=a',
      '--oidc-request-header=x-trace=b=c',
      '--oidc-auth-request-extra-params=audience=k8s',
      '--oidc-auth-request-extra-params=resource=urn:x',
      '--login-hint=jane@example.com',
      '--certificate-authority=~/ca.pem',
      '--certificate-authority=/etc/ca2.pem',
      `--certificate-authority-data=${caData}`,
      '--insecure-skip-tls-verify',
      '--token-cache-dir=~/cache',
      '--token-cache-storage=disk',
      '--force-refresh',
      '--expiry-margin-sec=10',
      '-v2',
    ],
  ],
  [
    'every login option',
    {
      ...base,
      grantType: 'device-code',
      listenAddresses: ['127.0.0.1:0', '[::1]:18000'],
      skipOpenBrowser: true,
      browserCommand: '/usr/bin/firefox',
      authenticationTimeoutSec: 30,
      localServerCert: '~/cert.pem',
      localServerKey: '~/key.pem',
      openUrlAfterAuthentication: 'https://example.com/done',
      browserRetryCooldownSec: 0,
    },
    [
      ...issuer,
      '--grant-type=device-code',
      '--listen-address=127.0.0.1:0,[::1]:18000',
      '--skip-open-browser',
      '--browser-command=/usr/bin/firefox',
      '--authentication-timeout-sec=30',
      '--local-server-cert=~/cert.pem',
      '--local-server-key=~/key.pem',
      '--open-url-after-authentication=https://example.com/done',
      '--browser-retry-cooldown-sec=0',
    ],
  ],
  ['the password grant (the username is part of the key)', { ...base, username: 'alice', password: 'pw' }, [...issuer, '--username=alice', '--password=pw']],
  ['client credentials', { ...base, grantType: 'client-credentials', clientSecret: 'x', useAccessToken: true }, [...issuer, '--grant-type=client-credentials', '--oidc-client-secret=x', '--oidc-use-access-token']],
  ['false and undefined mean not given', { ...base, useAccessToken: false, forceRefresh: false, loginHint: undefined, clientSecret: '' }, issuer],
];

describe('getToken options', () => {
  it.each(SAME_SETTINGS)('give the CLI\'s configuration and cache key: %s', async (_name, options, argv) => {
    const fromApi = parseGetTokenFlags(toRawFlags(options), env);
    const fromCli = parseGetTokenFlags(await viaCommander(argv), env);
    expect(fromApi).toEqual(fromCli);
    expect(cacheKeyFor(fromApi)).toBe(cacheKeyFor(fromCli));
  });

  it('different settings give a different cache key, as in the CLI', () => {
    const key = (options: GetTokenOptions): string => cacheKeyFor(parseGetTokenFlags(toRawFlags(options), env));
    expect(key({ ...base, loginHint: 'a@example.com' })).not.toBe(key({ ...base, loginHint: 'b@example.com' }));
    expect(key({ ...base, extraScopes: ['groups', 'email'] })).toBe(key({ ...base, extraScopes: 'email,groups' }));
  });

  it('cover every get-token flag but the deprecated and no-op ones, each with a matching kind', () => {
    const flags = new Map(GET_TOKEN_FLAGS.map((flag) => [flag.name, flag]));
    const compatible: Record<string, string[]> = { string: ['string'], number: ['string'], boolean: ['boolean'], list: ['list', 'array'], map: ['map'] };
    for (const [option, [flag, kind]] of Object.entries(OPTION_FLAGS)) {
      const spec = flags.get(flag);
      expect(spec, `${option} → --${flag}`).toBeDefined();
      expect(compatible[kind], `${option} (${kind}) → --${flag} (${spec?.kind})`).toContain(spec?.kind);
    }
    const mapped = new Set(Object.values(OPTION_FLAGS).map(([flag]) => flag));
    const unmapped = GET_TOKEN_FLAGS.filter((flag) => !flag.hidden && !mapped.has(flag.name)).map((flag) => flag.name);
    expect(unmapped).toEqual([]);
  });

  it('refuse unknown options and values of the wrong type, naming the option', () => {
    const usage = (options: unknown): OidcLoginError => {
      try {
        toRawFlags(options as GetTokenOptions);
      } catch (error) {
        if (error instanceof OidcLoginError) return error;
        throw error;
      }
      throw new Error('accepted');
    };
    expect(usage({ ...base, extraScope: 'email' })).toMatchObject({ code: 'ERR_USAGE', message: 'unknown option extraScope' });
    expect(usage({ ...base, forceRefresh: 'yes' }).message).toBe('forceRefresh must be true or false');
    expect(usage({ ...base, expiryMarginSec: '10' }).message).toBe('expiryMarginSec must be a number');
    expect(usage({ ...base, extraScopes: ['email', 3] }).message).toBe('extraScopes must be a string or a list of strings');
    expect(usage({ ...base, requestHeaders: { 'a=b': 'c' } }).message).toBe('requestHeaders has an invalid key "a=b"');
    expect(usage({ ...base, requestHeaders: { a: 1 } }).message).toBe('requestHeaders.a must be a string');
    expect(usage(undefined).code).toBe('ERR_USAGE');
  });
});

describe('getToken errors', () => {
  async function rejection(options: GetTokenOptions): Promise<OidcLoginError> {
    const error: unknown = await getToken({ ...options, tokenCacheStorage: 'none' }).then(
      () => new Error('resolved'),
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(OidcLoginError);
    return error as OidcLoginError;
  }

  it('are OidcLoginErrors whose message and hint name the options, not the flags', async () => {
    expect(await rejection({ ...base, clientId: '' })).toMatchObject({ name: 'OidcLoginError', code: 'ERR_USAGE', message: 'clientId is missing' });
    expect(await rejection({ ...base, listenAddresses: ['10.0.0.1:8000'] })).toMatchObject({ code: 'ERR_USAGE', message: 'listenAddresses 10.0.0.1:8000 is not a loopback address' });
    expect(await rejection({ ...base, authenticationTimeoutSec: 1.5 })).toMatchObject({ message: 'authenticationTimeoutSec has an invalid value "1.5"', hint: 'use a whole number of at least 1' });
    expect(await rejection({ ...base, localServerCert: '/c.pem' })).toMatchObject({ message: 'localServerCert and localServerKey must be given together' });
    expect(await rejection({ ...base, issuerUrl: 'http://issuer.example.com' })).toMatchObject({ code: 'ERR_INSECURE_ISSUER', hint: 'use the https:// issuer URL of your provider' });
    const client = await rejection({ ...base, grantType: 'client-credentials' });
    expect(client.message).toBe('grantType=client-credentials needs clientSecret');
    expect(client.cause).toMatchObject({ name: 'PluginError', message: '--grant-type=client-credentials needs --oidc-client-secret' });
  });

  it('an aborted signal rejects at once with ERR_INTERRUPTED and the reason as the cause', async () => {
    const reason = new Error('user closed the dialog');
    const error = await rejection({ ...base, signal: AbortSignal.abort(reason) });
    expect(error).toMatchObject({ code: 'ERR_INTERRUPTED', message: 'aborted by the caller' });
    expect((error.cause as Error).cause).toBe(reason);
  });
});

describe('execCredential', () => {
  it('is the CLI\'s ExecCredential, v1 unless asked otherwise', () => {
    const expires = new Date('2030-01-02T03:04:05.678Z');
    expect(execCredential('t0k3n', expires)).toEqual({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1',
      spec: { interactive: false },
      status: { expirationTimestamp: '2030-01-02T03:04:05Z', token: 't0k3n' },
    });
    expect(execCredential('t', expires, 'client.authentication.k8s.io/v1beta1').apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(() => execCredential('t', expires, 'v1' as never)).toThrow(OidcLoginError);
  });
});
