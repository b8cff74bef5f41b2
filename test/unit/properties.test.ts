/**
 * Property-based tests (fast-check) of every parser that reads input from outside: get-token's flags (the cache-hit
 * reader against commander and parseGetTokenFlags), KUBERNETES_EXEC_INFO, cache entries (text and bytes, both
 * readers), and the callback server's request target and Host header. Each property runs a bounded number of
 * generated cases from a fixed seed, so a run is reproducible; on a failure fast-check prints the seed, the path and
 * the smallest counterexample it found (pass them to fc.assert as { seed, path } to replay one).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { HIT_FLAG_KINDS, hitExecInfo, hitSettings, readHitEntry, scanGetTokenArgs } from '../../src/cli/cache-hit.js';
import { GET_TOKEN_FLAGS, type RawFlags } from '../../src/cli/flag-spec.js';
import { parseGetTokenFlags, type FlagEnvironment } from '../../src/cli/flags.js';
import { CACHE_FORMAT, parseCacheEntry } from '../../src/core/cache-entry.js';
import { PluginError } from '../../src/core/errors.js';
import { EXEC_API_V1, EXEC_API_V1BETA1, parseExecInfo } from '../../src/core/exec-credential.js';
import { isAllowedHost, judgeCallbackRequest } from '../../src/oidc/loopback-server.js';
import { MAX_ENTRY_BYTES, readCacheEntry } from '../../src/system/token-store.js';
import { makeTempDir } from '../support/plugin.js';
import { viaCommander } from '../support/parsers.js';
import { expectedHitSettings } from '../support/hit-settings.js';

const SEED = 20_260_401;
const check = <T>(property: fc.IRawProperty<T>, numRuns: number): void | Promise<void> => fc.assert(property, { seed: SEED, numRuns });

/** fn's result, or the error it threw. */
function outcome<T>(fn: () => T): { value: T } | { error: unknown } {
  try {
    return { value: fn() };
  } catch (error) {
    return { error };
  }
}

/** Strings a hostile or careless kubeconfig, environment or file could hold: printable, control characters, any UTF-16. */
const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '-', '--', '=', '~', '~/', '\u0000', '\ufeff', '\ud800', '%', '%zz', '__proto__', 'constructor'));

describe('get-token flags: the cache-hit reader (arg + hitSettings) against commander + parseGetTokenFlags', () => {
  const base = ['--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl'];
  const names = [...GET_TOKEN_FLAGS.map((flag) => flag.name), 'oidc-issuer', 'no-force-refresh', '__proto__', 'constructor', 'V', 'v ', ''];
  /** Values each flag is given: usual ones (so that hits are common), then hostile ones. */
  const usual = ['https://issuer.example.com', 'http://127.0.0.1:5556/dex', 'http://idp.example.com', 'kubectl', 'email,groups', 'email groups', '0', '1', '30', '-1', '007', 'true', 'false',
    'auto', 'S256', 'no', 'authcode', 'password', 'device-code', 'disk', 'none', 'keyring', '127.0.0.1:0', '[::1]:8000', '0.0.0.0:80', 'a=b', '=b', 'k=v=w', '/tmp/c', '~/c', 'rel/c',
    Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64'), 'http://localhost:8000/callback', 'urn:ietf:wg:oauth:2.0:oob', 'jane@example.com'];
  const value = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...usual) }, { weight: 1, arbitrary: anyText });
  /** One flag as kubeconfigs (and typos) spell it: --name=value, --name value, --name, -v value, -vN. */
  const item = fc.oneof(
    fc.tuple(fc.constantFrom(...names), value).map(([name, text]) => [`--${name}=${text}`]),
    fc.tuple(fc.constantFrom(...names), value).map(([name, text]) => [`--${name}`, text]),
    fc.constantFrom(...names).map((name) => [`--${name}`]),
    value.map((text) => ['-v', text]),
    fc.constantFrom(['-v1'], ['-v0'], ['-v=1'], ['--'], ['-'], ['positional'], ['--v=0']),
  );
  const argv = fc
    .tuple(fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), fc.array(item, { maxLength: 4 }))
    .map(([withBase, items]) => [...(withBase ? base : []), ...items.flat()]);
  const envs: FlagEnvironment[] = [{ HOME: '/home/u' }, {}, { KUBECACHEDIR: '/k' }, { HOME: '/home/u/', KUBECACHEDIR: '' }];

  function definedOnly(raw: RawFlags): RawFlags {
    return Object.fromEntries(Object.entries(raw).filter(([, entry]) => entry !== undefined));
  }

  it('the hit reader hands over (undefined) or reads exactly what commander reads, and then settles exactly what parseGetTokenFlags settles', async () => {
    const seen = { handedOver: 0, hit: 0 };
    await check(
      fc.asyncProperty(argv, fc.constantFrom(...envs), async (args, env) => {
        const scanned = scanGetTokenArgs(['get-token', ...args], 1);
        const lean = scanned === undefined ? undefined : outcome(() => hitSettings(scanned, env));
        const settings = lean !== undefined && 'value' in lean ? lean.value : undefined;
        if (scanned === undefined || settings === undefined) {
          seen.handedOver++;
          return;
        }
        // The hit path answers: commander must read the same flags and parseGetTokenFlags accept them, silently.
        const parsed = definedOnly(await viaCommander(args));
        expect(parsed).toEqual(scanned);
        const config = parseGetTokenFlags(parsed, env);
        expect(config.verbosity).toBe(0);
        expect(config.warnings).toEqual([]);
        expect(config.cache).toMatchObject({ storage: 'disk', forceRefresh: false });
        expect(settings).toEqual(expectedHitSettings(config));
        seen.hit++;
      }),
      400,
    );
    // Both outcomes must be common, else the generator tests nothing.
    expect(seen.hit).toBeGreaterThan(40);
    expect(seen.handedOver).toBeGreaterThan(40);
  });

  it('the hit reader never throws, whatever argv holds', () => {
    check(
      fc.property(fc.array(fc.oneof(anyText, fc.constantFrom(...[...HIT_FLAG_KINDS.keys()].map((name) => `--${name}`))), { maxLength: 12 }), fc.constantFrom(...envs), (args, env) => {
        const scanned = scanGetTokenArgs(['get-token', ...args], 1);
        if (scanned !== undefined) outcome(() => hitSettings(scanned, env));
        // hitSettings may only throw where parseGetTokenFlags does (held above): here only "no crash" of the scanner.
      }),
      1000,
    );
  });
});

describe('KUBERNETES_EXEC_INFO: parseExecInfo and hitExecInfo', () => {
  const apiVersion = fc.oneof(fc.constantFrom(EXEC_API_V1, EXEC_API_V1BETA1, 'client.authentication.k8s.io/v1alpha1', `${EXEC_API_V1} `), fc.jsonValue({ maxDepth: 1 }));
  const cluster = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ server: fc.string(), config: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }));
  const spec = fc.oneof(fc.record({ interactive: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })), cluster }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 2 }));
  const document = fc.record({ kind: fc.constantFrom('ExecCredential', 'Other'), apiVersion, spec }, { requiredKeys: [] }).map((value) => JSON.stringify(value));
  const info = fc.oneof(document, document, fc.json({ maxDepth: 3 }), anyText, fc.constant(undefined), document.map((text) => text.slice(0, -1)), document.map((text) => ` \n${text}\t`));

  it('parseExecInfo returns a well-formed ExecInfo or throws a PluginError ERR_EXEC_INFO, nothing else; hitExecInfo answers the same or undefined where it throws', () => {
    const seen = { parsed: 0, refused: 0 };
    check(
      fc.property(info, (raw) => {
        const full = outcome(() => parseExecInfo(raw));
        const lean = hitExecInfo(raw);
        if ('error' in full) {
          expect(full.error).toBeInstanceOf(PluginError);
          expect((full.error as PluginError).code).toBe('ERR_EXEC_INFO');
          expect(lean).toBeUndefined();
          seen.refused++;
          return;
        }
        expect([EXEC_API_V1, EXEC_API_V1BETA1]).toContain(full.value.apiVersion);
        expect(typeof full.value.interactive).toBe('boolean');
        const clusterValue = full.value.cluster;
        expect(clusterValue === undefined || (typeof clusterValue === 'object' && clusterValue !== null && !Array.isArray(clusterValue))).toBe(true);
        expect(lean).toEqual(full.value);
        seen.parsed++;
      }),
      1000,
    );
    expect(seen.parsed).toBeGreaterThan(50);
    expect(seen.refused).toBeGreaterThan(50);
  });
});

describe('cache entries: parseCacheEntry, readCacheEntry and readHitEntry', () => {
  const temp = makeTempDir('oidc-login-properties-');
  afterAll(() => temp.remove());
  const key = '0123456789abcdef0123456789abcdef';
  const issuer = 'https://issuer.example.com';
  const clientId = 'kubectl';
  const dir = join(temp.path, 'cache');
  mkdirSync(dir, { recursive: true });

  /** Entry-like documents: each field right, damaged, missing or of another type, plus stray fields. */
  const field = <T>(right: T, ...near: unknown[]): fc.Arbitrary<unknown> =>
    fc.oneof({ weight: 24, arbitrary: fc.constant(right) }, { weight: 1, arbitrary: fc.constantFrom(undefined, ...near) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
  const token = fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 30 }) }, { weight: 1, arbitrary: fc.constantFrom('', null, undefined, 5, ['a'], {}) });
  const entryLike = fc
    .record({
      format: field(CACHE_FORMAT),
      key: field(key, 'f'.repeat(32), key.toUpperCase()),
      issuer: field(issuer, `${issuer}/`, ''),
      client_id: field(clientId, 'other', ''),
      scopes: fc.oneof({ weight: 4, arbitrary: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 0 }), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
      use_access_token: fc.jsonValue({ maxDepth: 0 }),
      saved_at: field('2026-01-01T00:00:00.000Z', ''),
      id_token: token,
      access_token: token,
      refresh_token: token,
    })
    .chain((entry) => fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }).map((extra) => ({ ...extra, ...entry })));
  const text = fc.oneof({ weight: 4, arbitrary: entryLike.map((entry) => JSON.stringify(entry)) }, entryLike.map((entry) => JSON.stringify([entry])), fc.json({ maxDepth: 3 }), anyText);
  const bytes = fc.oneof({ weight: 3, arbitrary: text.map((value) => Buffer.from(value, 'utf8')) }, fc.uint8Array({ maxLength: 300 }).map((value) => Buffer.from(value)), text.map((value) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xff]), Buffer.from(value)])));

  it('parseCacheEntry returns a well-formed entry or throws an Error (which readCacheEntry turns into a miss), for any text', () => {
    check(
      fc.property(text, (value) => {
        const result = outcome(() => parseCacheEntry(value));
        if ('error' in result) {
          expect(result.error).toBeInstanceOf(Error);
          return;
        }
        const entry = result.value;
        for (const name of ['key', 'issuer', 'clientId', 'savedAt'] as const) expect(typeof entry[name] === 'string' && entry[name] !== '').toBe(true);
        expect(Array.isArray(entry.scopes) && entry.scopes.every((scope) => typeof scope === 'string')).toBe(true);
        for (const name of ['idToken', 'accessToken', 'refreshToken'] as const) expect(entry[name] === undefined || (typeof entry[name] === 'string' && entry[name] !== '')).toBe(true);
        expect(typeof entry.useAccessToken).toBe('boolean');
      }),
      1000,
    );
  });

  it('readCacheEntry never throws on any file content (an entry, or a miss with a reason), and readHitEntry serves exactly its tokens or nothing', () => {
    const seen = { entry: 0, other: 0 };
    check(
      fc.property(bytes, (content) => {
        writeFileSync(join(dir, key), content);
        const full = readCacheEntry(dir, key, { issuer, clientId });
        const lean = readHitEntry(dir, key, issuer, clientId);
        if ('entry' in full) {
          expect(full.entry.key).toBe(key);
          expect(lean).toEqual({ idToken: full.entry.idToken, accessToken: full.entry.accessToken, refreshToken: full.entry.refreshToken });
          seen.entry++;
        } else {
          expect('problem' in full && typeof full.problem === 'string').toBe(true);
          expect(lean).toBeUndefined();
          seen.other++;
        }
      }),
      400,
    );
    expect(seen.entry).toBeGreaterThan(30);
    expect(seen.other).toBeGreaterThan(30);
  });

  it('a file one byte over the size limit is a miss for both readers, at the limit an entry', () => {
    const document = JSON.stringify({ format: CACHE_FORMAT, key, issuer, client_id: clientId, scopes: [], saved_at: 'now', id_token: 'a.b.c', padding: '' });
    const atLimit = document.replace('"padding":""', `"padding":"${'é'.repeat((MAX_ENTRY_BYTES - Buffer.byteLength(document)) / 2)}"`);
    expect(Buffer.byteLength(atLimit)).toBe(MAX_ENTRY_BYTES);
    writeFileSync(join(dir, key), atLimit);
    expect('entry' in readCacheEntry(dir, key, { issuer, clientId })).toBe(true);
    expect(readHitEntry(dir, key, issuer, clientId)).toBeDefined();
    writeFileSync(join(dir, key), `${atLimit} `);
    expect(readCacheEntry(dir, key, { issuer, clientId })).toEqual({ problem: `${join(dir, key)} is larger than ${MAX_ENTRY_BYTES} bytes` });
    expect(readHitEntry(dir, key, issuer, clientId)).toBeUndefined();
  });
});

describe('the callback server: judgeCallbackRequest (request targets) and isAllowedHost (Host headers)', () => {
  const paths = ['/', '/callback', '/a/b'];
  const state = fc.oneof(fc.base64String({ minLength: 4, maxLength: 43 }).map((value) => value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') || 'x'), fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }));
  /**
   * A query of callback-like parameters: often the expected state once among others, else near misses (twice, altered,
   * a name that is almost "state") and anything.
   */
  function query(expected: string): fc.Arbitrary<Array<[string, string]>> {
    const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('state', 'code', 'error', 'iss') }, { weight: 1, arbitrary: fc.constantFrom('State', 'state ', 'state[]', '') }, { weight: 1, arbitrary: anyText });
    const stateValue = fc.oneof(fc.constant(expected), fc.constant(`${expected}x`), fc.constant(expected.slice(1)), fc.constant(expected.toUpperCase()), fc.constant(''), anyText);
    const others = fc.array(fc.tuple(name, fc.oneof(stateValue, anyText)), { maxLength: 4 });
    const withState = fc.tuple(fc.array(fc.tuple(fc.constantFrom('code', 'iss', 'error', 'x'), anyText), { maxLength: 3 }), fc.nat()).map(([params, at]) => {
      const copy: Array<[string, string]> = [...params];
      copy.splice(at % (copy.length + 1), 0, ['state', expected]);
      return copy;
    });
    return fc.oneof(withState, others);
  }
  const prefixes = ['', '/', '//', '/\\', '\\', 'http://localhost', 'http://evil.example', '*', '?', '/%2F', '/./', '/../'];

  it('never throws on any target, and calls it a callback only on the callback path with exactly one state parameter equal to the expected one', () => {
    const seen = { callback: 0, 'wrong-state': 0, invalid: 0, start: 0, 'not-found': 0 };
    const cases = fc.tuple(fc.constantFrom(...paths), state).chain(([callbackPath, expected]) =>
      fc.record({
        callbackPath: fc.constant(callbackPath),
        expected: fc.constant(expected),
        // A prefix and a path, or anything at all, before the query.
        head: fc.oneof(
          { weight: 3, arbitrary: fc.constant(callbackPath) },
          { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...prefixes), fc.constantFrom(...paths, '', '/x', '/callback/')).map(([prefix, path]) => `${prefix}${path}`) },
          { weight: 1, arbitrary: anyText },
        ),
        params: query(expected),
        encode: fc.boolean(),
      }),
    );
    check(
      fc.property(cases, ({ callbackPath, expected, head, params, encode }) => {
        const search = encode ? new URLSearchParams(params).toString() : params.map(([name, value]) => `${name}=${value}`).join('&');
        const target = `${head}?${search}`;
        const request = judgeCallbackRequest(target, callbackPath, expected);
        seen[request.kind]++;
        if (request.kind !== 'callback') return;
        expect(target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\')).toBe(true);
        expect(new URL(target, 'http://localhost').pathname).toBe(callbackPath);
        expect(request.params.getAll('state')).toEqual([expected]);
      }),
      1000,
    );
    expect(seen.callback).toBeGreaterThan(20);
    expect(seen['wrong-state']).toBeGreaterThan(100);
    expect(seen.invalid).toBeGreaterThan(50);
  });

  it('accepts the exact state whatever else the query holds, and refuses a second state parameter even when it is the same', () => {
    check(
      fc.property(fc.constantFrom(...paths), state, fc.array(fc.tuple(fc.constantFrom('code', 'iss', 'error', 'error_description', 'x'), anyText), { maxLength: 4 }), (callbackPath, expected, others) => {
        const params = new URLSearchParams([...others, ['state', expected]]);
        const accepted = judgeCallbackRequest(`${callbackPath}?${params.toString()}`, callbackPath, expected);
        expect(accepted.kind).toBe('callback');
        params.append('state', expected);
        expect(judgeCallbackRequest(`${callbackPath}?${params.toString()}`, callbackPath, expected).kind).toBe('wrong-state');
      }),
      500,
    );
  });

  it('isAllowedHost never throws, and allows only localhost, 127.0.0.1 or [::1] with the server port (no port: only on 80/443)', () => {
    const loopback = fc.constantFrom('localhost', 'LOCALHOST', '127.0.0.1', '[::1]', 'LocalHost');
    const other = fc.oneof(anyText, fc.constantFrom('localhost.', '127.0.0.1.evil.example', 'evil.example', '[::2]', '0.0.0.0', '127.1', '::1', 'localhost.evil.example', 'xn--localhost'));
    const port = fc.integer({ min: 1, max: 65535 });
    check(
      fc.property(fc.oneof(loopback, other), fc.oneof(port.map(String), fc.constant(undefined), anyText), port, (name, portText, serverPort) => {
        const host = portText === undefined ? name : `${name}:${portText}`;
        const allowed = isAllowedHost(host, serverPort);
        const exact = /^(localhost|127\.0\.0\.1|\[::1\])(?::0*(\d+))?$/.exec(host.toLowerCase());
        const expected = exact !== null && (exact[2] === undefined ? serverPort === 80 || serverPort === 443 : Number(exact[2]) === serverPort);
        expect(allowed).toBe(expected);
      }),
      1000,
    );
    expect(isAllowedHost(undefined, 8000)).toBe(false);
  });
});
