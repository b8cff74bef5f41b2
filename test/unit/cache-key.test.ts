import { describe, expect, it } from 'vitest';
import { cacheKey, cacheKeyFor, cacheKeyMaterial, canonicalJson, fnv1a128Hex, type CacheKeyInput } from '../../src/core/cache-key.js';

const input: CacheKeyInput = {
  issuerUrl: 'https://issuer.example.com',
  clientId: 'kubectl',
  clientSecret: undefined,
  extraScopes: ['email', 'groups'],
  redirectUrl: undefined,
  pkceMethod: 'auto',
  useAccessToken: false,
  requestHeaders: {},
  authRequestExtraParams: {},
};

describe('the cache key', () => {
  it('is FNV-1a 128 (published test vectors)', () => {
    expect(fnv1a128Hex('')).toBe('6c62272e07bb014262b821756295c58d');
    expect(fnv1a128Hex('a')).toBe('d228cb696f1a8caf78912b704e4a8964');
  });

  // Keys of existing cache entries must never change: these were computed by the original BigInt + TextEncoder
  // implementation (commit eb57d6c) before the hash was rewritten with 16-bit limbs.
  it('keeps the keys of existing cache entries (vectors from the first implementation)', () => {
    expect(cacheKey(input)).toBe('892d3e277effa555223dd92062ef0e43');
    expect(
      cacheKey({
        ...input,
        clientSecret: 's3cr3t',
        extraScopes: ['offline_access', 'email', 'groups', 'email'],
        redirectUrl: 'http://localhost:8000/callback',
        pkceMethod: 'S256',
        useAccessToken: true,
        requestHeaders: { Origin: 'https://a', 'X-B': 'c=d' },
        authRequestExtraParams: { audience: 'k8s', ttl: '1' },
        loginHint: 'jane@example.com',
      }),
    ).toBe('bf5f4133b5f34b334fe0149ecd8af6c9');
    expect(cacheKey({ ...input, issuerUrl: 'https://idp.example.com/realms/Zürich', clientId: 'kübectl-日本', loginHint: 'josé@exämple.com 🚀' })).toBe('a7b8041328df002afd20a7ffa1eb771f');
    expect(cacheKey({ ...input, username: 'jane' })).toBe('67c89da245493e7a58b9dfb3a2088e89');
    expect(cacheKey({ ...input, clientSecret: 'x', clientCredentials: true })).toBe('17e805c4eafd9b8b42ee73eb8d037a84');
    expect(cacheKeyFor({ provider: input, login: { grantType: 'password', username: 'jane' } })).toBe('67c89da245493e7a58b9dfb3a2088e89');
  });

  it.each([
    ['foobar', '343e1662793c64bf6f0d3597ba446f18'],
    ['Zürich', '24d8e280364ff78d4e9571876ac1d958'],
    ['日本語', 'a21360d32502d60aa13ee91e008f9f1f'],
    ['🚀', '6633bd7c5d757277b806e87795203e5a'],
    // lone surrogates are hashed as U+FFFD, as TextEncoder encodes them
    ['\ud800', 'a68aef37508b5822836dbc787681ca7a'],
    ['x\udc00y', '9d52aa387383d94f70815f0ec712e2d3'],
    ['\ud83d\ude80\ud83d', 'b0d1b20f714ff78bcd5ed44f79007747'],
    ['\u0000\u007f\u0080\u07ff\u0800\uffff', '362d36d30e218983378e92af8e625fcb'],
    ['a'.repeat(1000), 'ff43cff6cbf6049c89c4c9aa21fb86b5'],
  ])('hashes %j as the first implementation did', (text, hex) => {
    expect(fnv1a128Hex(text)).toBe(hex);
  });

  it('agrees with a BigInt reference on random text (ASCII, BMP, astral, lone surrogates)', () => {
    const reference = (text: string): string => {
      let hash = 0x6c62272e07bb014262b821756295c58dn;
      for (const byte of new TextEncoder().encode(text)) hash = ((hash ^ BigInt(byte)) * 0x0000000001000000000000000000013bn) & ((1n << 128n) - 1n);
      return hash.toString(16).padStart(32, '0');
    };
    let seed = 42;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const pools = [[0x20, 0x7f], [0x80, 0x800], [0x800, 0xd800], [0xd800, 0xe000], [0xe000, 0x10000]] as const;
    for (let round = 0; round < 300; round++) {
      let text = '';
      for (let i = random(40); i > 0; i--) {
        const pool = random(7);
        if (pool >= 5) text += String.fromCodePoint(0x10000 + random(0x100000));
        else {
          const [from, to] = pools[pool] ?? [0x20, 0x7f];
          text += String.fromCharCode(from + random(to - from));
        }
      }
      expect(fnv1a128Hex(text), JSON.stringify(text)).toBe(reference(text));
    }
  });

  it('is stable: documented material, 32 hex digits', () => {
    expect(cacheKeyMaterial(input)).toBe(
      '{"authRequestExtraParams":{},"clientId":"kubectl","clientSecret":null,"issuer":"https://issuer.example.com","pkceMethod":"auto","redirectUrl":null,"requestHeaders":{},"scopes":["email","groups"],"useAccessToken":false,"v":1}',
    );
    expect(cacheKey(input)).toMatch(/^[0-9a-f]{32}$/);
    expect(cacheKey(input)).toBe(cacheKey({ ...input }));
  });

  it('does not depend on the order of scopes, headers or extra parameters, nor on header case', () => {
    const many = { ...input, requestHeaders: { Origin: 'https://a', 'X-B': 'c' }, authRequestExtraParams: { audience: 'k', ttl: '1' } };
    const shuffled = { ...input, extraScopes: ['groups', 'email', 'email'], requestHeaders: { 'x-b': 'c', origin: 'https://a' }, authRequestExtraParams: { ttl: '1', audience: 'k' } };
    expect(cacheKey(shuffled)).toBe(cacheKey(many));
  });

  it.each<[string, Partial<CacheKeyInput>]>([
    ['issuer', { issuerUrl: 'https://issuer.example.com/' }],
    ['client', { clientId: 'other' }],
    ['secret', { clientSecret: 's' }],
    ['scopes', { extraScopes: ['email'] }],
    ['access-token mode', { useAccessToken: true }],
    ['extra params (kubelogin #1496)', { authRequestExtraParams: { audience: 'x' } }],
    ['headers', { requestHeaders: { origin: 'x' } }],
    ['redirect URL', { redirectUrl: 'http://localhost:8000/callback' }],
    ['PKCE method', { pkceMethod: 'no' }],
  ])('changes with the %s', (_name, change) => {
    expect(cacheKey({ ...input, ...change })).not.toBe(cacheKey(input));
  });

  it('writes the material exactly as canonicalJson of the documented object (random settings)', () => {
    const reference = (value: CacheKeyInput): string => {
      const headers: Record<string, string> = {};
      for (const [name, header] of Object.entries(value.requestHeaders)) headers[name.toLowerCase()] = header;
      return canonicalJson({
        v: 1, issuer: value.issuerUrl, clientId: value.clientId, clientSecret: value.clientSecret ?? null, scopes: [...new Set(value.extraScopes)].sort(),
        redirectUrl: value.redirectUrl ?? null, pkceMethod: value.pkceMethod, useAccessToken: value.useAccessToken, requestHeaders: headers,
        authRequestExtraParams: { ...value.authRequestExtraParams }, loginHint: value.loginHint, username: value.username,
        grant: value.clientCredentials === true ? 'client-credentials' : undefined,
      });
    };
    const texts = ['', 'a', 'Zürich "quoted" \\ \n', '日本', '\ud800', '__proto__', 'constructor', '10', '2', 'B', 'b', 'toString'];
    let seed = 5;
    const pick = <T>(items: readonly T[]): T => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return items[(seed >>> 8) % items.length] as T;
    };
    const map = (): Record<string, string> => {
      const result: Record<string, string> = {};
      for (let i = pick([0, 1, 2, 3]); i > 0; i--) Object.defineProperty(result, pick(texts), { value: pick(texts), enumerable: true, configurable: true, writable: true });
      return result;
    };
    for (let round = 0; round < 2000; round++) {
      const value: CacheKeyInput = {
        issuerUrl: pick(texts), clientId: pick(texts), clientSecret: pick([undefined, ...texts]), extraScopes: [pick(texts), pick(texts), pick(texts)].slice(pick([0, 1, 2, 3])),
        redirectUrl: pick([undefined, ...texts]), pkceMethod: pick(['auto', 'no', 'S256']), useAccessToken: pick([true, false]),
        requestHeaders: map(), authRequestExtraParams: map(), loginHint: pick([undefined, ...texts]), username: pick([undefined, ...texts]), clientCredentials: pick([undefined, true, false]),
      };
      expect(cacheKeyMaterial(value)).toBe(reference(value));
    }
  });

  it('canonical JSON sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});
