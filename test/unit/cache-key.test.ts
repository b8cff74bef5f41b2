import { describe, expect, it } from 'vitest';
import { cacheKey, cacheKeyMaterial, canonicalJson, fnv1a128Hex, type CacheKeyInput } from '../../src/core/cache-key.js';

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

  it('canonical JSON sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});
