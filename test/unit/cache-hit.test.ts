/**
 * The cache-hit path reads get-token's flags with its own scanner and its own (smaller) normalisation, for start-up
 * time. It may hand any invocation over to the full CLI, but whatever it answers itself must be what the full CLI
 * would answer: these tests hold hitSettings against parseGetTokenFlags (see flags.test.ts for the scanner).
 */
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hitClusterConfig, hitExecInfo, hitSettings, readHitEntry } from '../../src/cli/cache-hit.js';
import type { RawFlags } from '../../src/cli/flag-spec.js';
import { parseGetTokenFlags, withClusterConfig, type FlagEnvironment } from '../../src/cli/flags.js';
import { serializeCacheEntry } from '../../src/core/cache-entry.js';
import { parseExecInfo } from '../../src/core/exec-credential.js';
import { STALE_MS, waitForLockHolder } from '../../src/system/cache-lock.js';
import { MAX_ENTRY_BYTES, cacheFilePath, readCacheEntry } from '../../src/system/token-store.js';
import { makeTempDir } from '../support/plugin.js';
import { expectedHitSettings } from '../support/hit-settings.js';

const pem = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

/** Values each flag may carry, valid and invalid, in the shapes the scanner produces. */
const POOLS: Record<string, ReadonlyArray<string | boolean | string[]>> = {
  'oidc-issuer-url': ['https://issuer.example.com', 'https://issuer.example.com/', 'https://idp.example.com/realms/Zürich', 'http://127.0.0.1:5556/dex',
    'http://localhost:8080', 'http://idp.example.com', 'https://', 'not a url', '', 'https://exa mple.com', 'HTTPS://X.EXAMPLE', 'https://[::1]:9000/x',
    'https://1.2.3.4.5', 'https://a:99999', 'https://a.example.com:8443/x?y#z'],
  'oidc-client-id': ['kubectl', '', 'ü'],
  'oidc-client-secret': ['s3cr3t', ''],
  'oidc-redirect-url': ['http://localhost:8000/callback', 'urn:ietf:wg:oauth:2.0:oob', 'ftp://x', 'nope', ''],
  'oidc-extra-scope': [['email'], ['email,groups', 'openid profile'], [''], ['offline_access', 'email, groups\tx']],
  'oidc-use-access-token': [true],
  'oidc-request-header': [['Origin=https://a'], ['NoEquals'], ['=x'], ['A=1', 'a=2'], ['__proto__=x']],
  'certificate-authority': [['/ca.pem'], ['~/ca.pem'], ['~'], ['rel.pem', '/b.pem']],
  'certificate-authority-data': [[pem], ['bm90IGEgcGVt'], [pem, '']],
  'insecure-skip-tls-verify': [true],
  'login-hint': ['jane@example.com', ''],
  'tls-renegotiation-once': [true],
  'tls-renegotiation-freely': [true],
  'oidc-pkce-method': ['auto', 'no', 'S256', 'plain', ''],
  'oidc-use-pkce': [true],
  'grant-type': ['auto', 'authcode', 'authcode-keyboard', 'password', 'device-code', 'client-credentials', 'bogus', ''],
  'listen-address': [['127.0.0.1:0'], ['0.0.0.0:8000'], ['127.0.0.1'], ['127.0.0.1:8000,[::1]:9000'], [','], ['localhost:99999']],
  'skip-open-browser': [true],
  'browser-command': ['firefox', ''],
  'authentication-timeout-sec': ['30', '0', 'soon', ''],
  'local-server-cert': ['/c.pem', '~/c.pem', ''],
  'local-server-key': ['/k.pem', '~', ''],
  'open-url-after-authentication': ['https://ok.example.com', 'nope', ''],
  'oidc-auth-request-extra-params': [['audience=k8s'], ['bad'], ['a=1', 'b=2=3']],
  'browser-retry-cooldown-sec': ['0', '-1', '10', '1.5'],
  username: ['jane', ''],
  password: ['pw', ''],
  'token-cache-dir': ['/tmp/c', '~/c', '~', '', 'rel/dir', '/a//b/'],
  'token-cache-storage': ['disk', 'keyring', 'none', 'memory', ''],
  'force-refresh': [true],
  'expiry-margin-sec': ['30', '0', '-5', 'x', '', '007'],
  v: ['0', '1', '00', 'x', '', '3'],
  vmodule: ['x=2'],
  logtostderr: [true],
  one_output: [true],
  log_file_max_size: ['1800'],
};

const ENVS: FlagEnvironment[] = [
  { HOME: '/home/u' }, {}, { KUBECACHEDIR: '/k' }, { USERPROFILE: 'C:\\Users\\u' }, { HOME: '/home/u/', KUBECACHEDIR: '' }, { HOME: '', USERPROFILE: '' }, { HOME: '/' },
];

/** hitSettings, with a throw (a usage error, as parseGetTokenFlags would throw) as undefined: both hand over. */
function lean(raw: RawFlags, env: FlagEnvironment): ReturnType<typeof hitSettings> {
  try {
    return hitSettings(raw, env);
  } catch {
    return undefined;
  }
}

/** hitSettings must hand over, or give exactly what parseGetTokenFlags gives for a configuration the cache may answer. */
function check(raw: RawFlags, env: FlagEnvironment): 'hit' | 'handed over' {
  const settings = lean(raw, env);
  if (settings === undefined) return 'handed over';
  const config = parseGetTokenFlags(raw, env);
  expect(config.verbosity).toBe(0);
  expect(config.warnings).toEqual([]);
  expect(config.cache.storage).toBe('disk');
  expect(config.cache.forceRefresh).toBe(false);
  expect(settings).toEqual(expectedHitSettings(config));
  return 'hit';
}

/** A small deterministic generator, so that a failure names a reproducible case. */
function generator(seed: number): <T>(items: readonly T[]) => T {
  let state = seed;
  return <T>(items: readonly T[]): T => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return items[(state >>> 8) % items.length] as T;
  };
}

/** fn's result, or the marker 'throws'. */
function outcome<T>(fn: () => T): T | 'throws' {
  try {
    return fn();
  } catch {
    return 'throws';
  }
}

describe('hitSettings (the cache-hit path) against parseGetTokenFlags', () => {
  it('agrees on thousands of random flag sets, valid and invalid', () => {
    let seed = 11;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const names = Object.keys(POOLS);
    const pick = (name: string): string | boolean | string[] => {
      const pool = POOLS[name] ?? [];
      return pool[random(pool.length)] ?? '';
    };
    const outcomes = { hit: 0, 'handed over': 0 };
    for (let round = 0; round < 6000; round++) {
      const raw: RawFlags = {};
      if (random(10) > 0) raw['oidc-issuer-url'] = random(2) === 0 ? 'https://issuer.example.com' : pick('oidc-issuer-url');
      if (random(10) > 0) raw['oidc-client-id'] = random(2) === 0 ? 'kubectl' : pick('oidc-client-id');
      for (let extra = random(5); extra > 0; extra--) {
        const name = names[random(names.length)] ?? 'v';
        raw[name] = pick(name);
      }
      const env = ENVS[random(ENVS.length)] ?? {};
      outcomes[check(raw, env)]++;
    }
    // Both outcomes must be common, else the corpus tests nothing (or the hit path hands everything over).
    expect(outcomes.hit).toBeGreaterThan(1000);
    expect(outcomes['handed over']).toBeGreaterThan(1000);
  });

  it.each<[string, RawFlags]>([
    ['issuer and client only', {}],
    ['scopes and a secret', { 'oidc-extra-scope': ['email,profile', 'groups'], 'oidc-client-secret': 's' }],
    ['the password grant', { 'grant-type': 'password', username: 'jane', password: 'pw' }],
    ['client credentials', { 'grant-type': 'client-credentials', 'oidc-client-secret': 's' }],
    ['device code, headless', { 'grant-type': 'device-code', 'skip-open-browser': true }],
    ['a listen address and a browser', { 'listen-address': ['127.0.0.1:8000,127.0.0.1:18000'], 'browser-command': 'firefox' }],
    ['a cache directory under ~', { 'token-cache-dir': '~/.kube/cache/oidc' }],
    ['a private CA', { 'certificate-authority': ['/etc/ca.pem'], 'certificate-authority-data': [pem] }],
    ['headers and extra parameters', { 'oidc-request-header': ['Origin=https://a'], 'oidc-auth-request-extra-params': ['audience=k8s'] }],
    ['an account, PKCE and the access token', { 'login-hint': 'jane@example.com', 'oidc-pkce-method': 'S256', 'oidc-use-access-token': true }],
    ['-v0 and klog flags', { v: '0', logtostderr: true, vmodule: 'x=1' }],
    ['an http:// issuer on a loopback host (a local test provider)', { 'oidc-issuer-url': 'http://127.0.0.1:5556/dex' }],
    ['a redirect URL, timeouts and a margin', { 'oidc-redirect-url': 'http://localhost:8000/callback', 'authentication-timeout-sec': '60', 'browser-retry-cooldown-sec': '0', 'expiry-margin-sec': '30' }],
  ])('answers a usual kubeconfig itself: %s', (_name, flags) => {
    expect(check({ 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl', ...flags }, { HOME: '/home/u' })).toBe('hit');
  });

  it.each<[string, RawFlags]>([
    ['-v1', { v: '1' }],
    ['--force-refresh', { 'force-refresh': true }],
    ['--token-cache-storage=none', { 'token-cache-storage': 'none' }],
    ['--oidc-use-pkce (a warning)', { 'oidc-use-pkce': true }],
    ['an http:// issuer on another host', { 'oidc-issuer-url': 'http://idp.example.com' }],
    ['an invalid listen address', { 'listen-address': ['0.0.0.0:8000'] }],
    ['a flag the hit path does not know', { 'some-new-flag': 'x' }],
  ])('hands %s over to the full CLI', (_name, flags) => {
    expect(lean({ 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl', ...flags }, { HOME: '/home/u' })).toBeUndefined();
  });
});

describe('hitExecInfo against parseExecInfo', () => {
  it('answers exactly as parseExecInfo, or undefined where it throws', () => {
    const pick = generator(17);
    const values = [undefined, null, true, false, 'yes', 1, [], {}, { server: 'https://k', config: { 'oidc-client-id': 'c' } }, 'client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1', 'client.authentication.k8s.io/v1alpha1'];
    const texts: (string | undefined)[] = [undefined, '', '  ', 'x', '[]', 'null', '{}', '"s"', '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}'];
    for (let i = 0; i < 3000; i++) {
      const spec: Record<string, unknown> = {};
      const interactive = pick([undefined, true, false, true, false, 'yes', 1, null]);
      if (interactive !== undefined) spec['interactive'] = interactive;
      const cluster = pick([undefined, undefined, {}, { server: 'https://k', config: { 'oidc-client-id': 'c' } }, [], null, 'x']);
      if (cluster !== undefined) spec['cluster'] = cluster;
      const document: Record<string, unknown> = { kind: 'ExecCredential' };
      const apiVersion = pick(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1', 'client.authentication.k8s.io/v1', ...values]);
      if (apiVersion !== undefined) document['apiVersion'] = apiVersion;
      const specValue = pick([spec, spec, spec, undefined, null, 'spec', [spec]]);
      if (specValue !== undefined) document['spec'] = specValue;
      texts.push(JSON.stringify(document));
    }
    const answered = texts.map((text) => {
      const expected = outcome(() => parseExecInfo(text));
      expect(hitExecInfo(text), String(text)).toEqual(expected === 'throws' ? undefined : expected);
      return expected !== 'throws';
    });
    expect(answered.filter(Boolean).length).toBeGreaterThan(300);
    expect(answered.filter((ok) => !ok).length).toBeGreaterThan(300);
  });
});

describe('hitClusterConfig against withClusterConfig', () => {
  it('merges exactly as withClusterConfig, or undefined where it throws', () => {
    const pick = generator(23);
    const configValues = [undefined, undefined, 'https://cluster-idp', '', 5, null, [], ['email', 'groups'], ['email', 7], { a: 1 }];
    const givenValues = [undefined, undefined, 'https://flag-idp', '', [], ['profile']];
    const names = ['oidc-issuer-url', 'oidc-client-id', 'oidc-client-secret', 'oidc-extra-scope', 'other'];
    let merged = 0;
    for (let i = 0; i < 3000; i++) {
      const raw: RawFlags = {};
      const config: Record<string, unknown> = {};
      for (const name of names) {
        const given = pick(givenValues);
        if (given !== undefined) raw[name] = given;
        const value = pick(configValues);
        if (value !== undefined) config[name] = value;
      }
      const cluster = pick<Record<string, unknown> | undefined>([undefined, {}, { config: null }, { config: 'x' }, { config: [] }, { config }, { config }, { config }, { server: 'https://k', config }]);
      const expected = outcome(() => withClusterConfig(raw, cluster));
      expect(hitClusterConfig(raw, cluster), JSON.stringify({ raw, cluster })).toEqual(expected === 'throws' ? undefined : expected);
      if (expected !== 'throws' && expected !== raw) merged++;
    }
    expect(merged).toBeGreaterThan(300);
  });
});

describe('readHitEntry against readCacheEntry', () => {
  const temp = makeTempDir('oidc-login-hit-entry-');
  afterAll(() => temp.remove());
  const key = '0123456789abcdef0123456789abcdef';
  const issuer = 'https://issuer.example.com';
  const clientId = 'kubectl';

  /** Writes text as the entry of key in a fresh directory and compares both readers. */
  function compare(name: string, text: string | undefined): 'entry' | 'other' {
    const dir = join(temp.path, name);
    mkdirSync(dir, { recursive: true });
    if (text !== undefined) writeFileSync(join(dir, key), text);
    const full = readCacheEntry(dir, key, { issuer, clientId });
    const lean = readHitEntry(dir, key, issuer, clientId);
    if (lean !== undefined) {
      expect('entry' in full, name).toBe(true);
      if ('entry' in full) expect(lean, name).toEqual({ idToken: full.entry.idToken, accessToken: full.entry.accessToken, refreshToken: full.entry.refreshToken });
    }
    return 'entry' in full ? 'entry' : 'other';
  }

  it('returns the tokens exactly where readCacheEntry returns the entry (random damage to the fields)', () => {
    const pick = generator(29);
    const base = JSON.parse(serializeCacheEntry({ key, issuer, clientId, scopes: ['email'], useAccessToken: false, savedAt: '2026-01-01T00:00:00.000Z', idToken: 'a.b.c', accessToken: 'at', refreshToken: 'rt' })) as Record<string, unknown>;
    const damage = ['keep', 'keep', 'keep', 'delete', null, '', 5, true, [], {}, 'other', ['x', 1]];
    const counts = { entry: 0, other: 0 };
    for (let i = 0; i < 1500; i++) {
      const document: Record<string, unknown> = { ...base };
      for (const field of Object.keys(base)) {
        if (pick([true, true, true, true, true, true, true, false])) continue;
        const change = pick(damage);
        if (change === 'delete') delete document[field];
        else if (change !== 'keep') document[field] = change;
      }
      counts[compare(`random-${i}`, JSON.stringify(document))]++;
    }
    expect(counts.entry).toBeGreaterThan(150);
    expect(counts.other).toBeGreaterThan(150);
    // Whole files that are not entries.
    for (const [name, text] of [['missing', undefined], ['empty', ''], ['not-json', '{'], ['array', '[]'], ['null', 'null'], ['bom', `\ufeff${JSON.stringify(base)}`]] as const) {
      expect(compare(name, text), name).toBe('other');
    }
    expect(compare('valid', JSON.stringify(base))).toBe('entry');
    // Both check the size in bytes before reading: up to the limit an entry, one byte over it a miss for both.
    expect(readHitEntry(join(temp.path, 'valid'), key, issuer, clientId)).toBeDefined();
    const document = JSON.stringify({ ...base, padding: '' });
    const padded = document.replace('"padding":""', `"padding":"${'x'.repeat(MAX_ENTRY_BYTES - Buffer.byteLength(document))}"`);
    expect(Buffer.byteLength(padded)).toBe(MAX_ENTRY_BYTES);
    expect(compare('padded', padded)).toBe('entry');
    expect(readHitEntry(join(temp.path, 'padded'), key, issuer, clientId)).toBeDefined();
    expect(compare('over', padded.replace('"padding":"', '"padding":"x'))).toBe('other');
    expect(readHitEntry(join(temp.path, 'over'), key, issuer, clientId)).toBeUndefined();
  });
});

describe('cacheFilePath', () => {
  it.runIf(process.platform !== 'win32')('is path.join, also where it skips the call (plain absolute directories)', () => {
    const dirs = ['/home/u/.kube/cache/oidc-login', '/', '//', '/a/', '/a//b', '/a/./b', '/a/../b', '/a/.', '/a/..', '/a/.hidden/b', '/a/..b', '/a/b.', 'rel/dir', './rel', '', '~/x', '/a\\b', '/ä/ü'];
    for (const dir of dirs) expect(cacheFilePath(dir, '0123456789abcdef0123456789abcdef'), dir).toBe(posix.join(dir, '0123456789abcdef0123456789abcdef'));
  });
});

describe('waitForLockHolder (cache-lock.ts, for the small entry)', () => {
  const temp = makeTempDir('wait-for-holder-');
  afterAll(() => temp.remove());

  it('answers released when the lock is gone, stale when its holder stopped refreshing it, still-held after the wait', async () => {
    const lock = join(temp.path, 'entry.lock');
    expect(await waitForLockHolder(lock, 1_000)).toBe('released');
    mkdirSync(lock);
    const old = (Date.now() - STALE_MS - 1_000) / 1000;
    utimesSync(lock, old, old);
    expect(await waitForLockHolder(lock, 1_000)).toBe('stale');
    utimesSync(lock, new Date(), new Date());
    const started = Date.now();
    expect(await waitForLockHolder(lock, 100)).toBe('still-held');
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    rmSync(lock, { recursive: true });
  });
});
