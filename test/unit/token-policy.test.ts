import { describe, expect, it } from 'vitest';
import type { CacheEntry } from '../../src/core/cache-entry.js';
import { decide, effectiveMarginMs, freshToken, timeClip, usableToken, usableTokenMs } from '../../src/core/token-policy.js';
import { unsignedJwt } from '../support/jwt.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const sec = (ms: number): number => Math.floor(ms / 1000);

function entry(tokens: Partial<CacheEntry>): CacheEntry {
  return { key: 'k', issuer: 'https://i', clientId: 'c', scopes: [], useAccessToken: false, savedAt: '', idToken: undefined, accessToken: undefined, refreshToken: undefined, ...tokens };
}

const options = { nowMs: NOW, forceRefresh: false, expiryMarginSec: 60, useAccessToken: false };

describe('decide', () => {
  it('logs in when nothing is cached', () => {
    expect(decide(undefined, options)).toEqual({ action: 'login', reason: 'no cached token' });
  });

  it('uses a token valid beyond the margin and reports its expiry minus the margin', () => {
    const idToken = unsignedJwt({ iat: sec(NOW) - 600, exp: sec(NOW) + 3000 });
    const decision = decide(entry({ idToken, refreshToken: 'r' }), options);
    expect(decision).toEqual({ action: 'use', token: idToken, expiresAt: new Date((sec(NOW) + 3000 - 60) * 1000) });
  });

  it('refreshes a token inside the margin although it has not expired yet (kubelogin #754)', () => {
    const idToken = unsignedJwt({ iat: sec(NOW) - 3000, exp: sec(NOW) + 30 });
    expect(decide(entry({ idToken, refreshToken: 'r' }), options)).toMatchObject({ action: 'refresh', refreshToken: 'r' });
  });

  it('logs in when the token expired and there is no refresh token', () => {
    const idToken = unsignedJwt({ iat: sec(NOW) - 3600, exp: sec(NOW) - 1 });
    expect(decide(entry({ idToken }), options)).toMatchObject({ action: 'login' });
  });

  it('refreshes a valid token with --force-refresh', () => {
    const idToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 3600 });
    expect(decide(entry({ idToken, refreshToken: 'r' }), { ...options, forceRefresh: true })).toMatchObject({ action: 'refresh', reason: '--force-refresh was given' });
  });

  it('never reuses a token without exp or that is not a JWT', () => {
    for (const idToken of [unsignedJwt({ iat: sec(NOW) }), 'opaque-token', 'a.b.c']) {
      expect(decide(entry({ idToken }), options).action).toBe('login');
    }
  });

  it('returns the access token in access-token mode', () => {
    const accessToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 3600 });
    const idToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 3600, sub: 'id' });
    expect(decide(entry({ idToken, accessToken }), { ...options, useAccessToken: true })).toMatchObject({ action: 'use', token: accessToken });
  });
});

describe('the margin', () => {
  it('is capped at half the lifetime so that short tokens stay usable', () => {
    expect(effectiveMarginMs({ issuedAtMs: NOW, expiresAtMs: NOW + 40_000 }, 60)).toBe(20_000);
    expect(effectiveMarginMs({ issuedAtMs: NOW, expiresAtMs: NOW + 3_600_000 }, 60)).toBe(60_000);
    expect(effectiveMarginMs({ issuedAtMs: undefined, expiresAtMs: NOW + 10_000 }, 60)).toBe(60_000);
  });

  it('makes a 40 s token usable for its first 20 s only', () => {
    const idToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 40 });
    const tokens = { idToken, accessToken: undefined, refreshToken: undefined };
    expect(usableToken(tokens, { nowMs: NOW + 19_000, expiryMarginSec: 60, useAccessToken: false })).toBeDefined();
    expect(usableToken(tokens, { nowMs: NOW + 20_000, expiryMarginSec: 60, useAccessToken: false })).toBeUndefined();
  });

  it('with margin 0 reuses the token until exp exactly, as kubelogin', () => {
    const idToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 100 });
    const tokens = { idToken, accessToken: undefined, refreshToken: undefined };
    expect(usableToken(tokens, { nowMs: NOW + 99_999, expiryMarginSec: 0, useAccessToken: false })?.expiresAt).toEqual(new Date((sec(NOW) + 100) * 1000));
    expect(usableToken(tokens, { nowMs: NOW + 100_000, expiryMarginSec: 0, useAccessToken: false })).toBeUndefined();
  });
});

describe('freshToken', () => {
  const options = { expiryMarginSec: 60, useAccessToken: false };

  it('hands over a just-issued token that is already inside the margin, reporting its real exp', () => {
    // iat is whole seconds: a 2 s token minted at .99 of a second is past its half-lifetime margin 10 ms later.
    const idToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 2 });
    const tokens = { idToken, accessToken: undefined, refreshToken: undefined };
    expect(usableToken(tokens, { ...options, nowMs: NOW + 1_500 })).toBeUndefined();
    expect(freshToken(tokens, { ...options, nowMs: NOW + 1_500 })).toEqual({ token: idToken, expiresAt: new Date((sec(NOW) + 2) * 1000) });
  });

  it('reports the margin-adjusted expiry when it is still ahead', () => {
    const idToken = unsignedJwt({ iat: sec(NOW), exp: sec(NOW) + 3600 });
    const tokens = { idToken, accessToken: undefined, refreshToken: undefined };
    expect(freshToken(tokens, { ...options, nowMs: NOW })?.expiresAt).toEqual(new Date((sec(NOW) + 3600 - 60) * 1000));
  });

  it('refuses a token that has expired or has no exp', () => {
    const expired = unsignedJwt({ iat: sec(NOW) - 10, exp: sec(NOW) });
    expect(freshToken({ idToken: expired, accessToken: undefined, refreshToken: undefined }, { ...options, nowMs: NOW })).toBeUndefined();
    const noExp = unsignedJwt({ iat: sec(NOW) });
    expect(freshToken({ idToken: noExp, accessToken: undefined, refreshToken: undefined }, { ...options, nowMs: NOW })).toBeUndefined();
  });
});

describe('usableTokenMs (the cache-hit path: no Date)', () => {
  it('is TimeClip, as new Date(ms).getTime()', () => {
    for (const ms of [0, -0, 1.9, -1.9, 1e12 + 0.5, 8.64e15, -8.64e15, 8.64e15 + 1, -8.64e15 - 1, NaN, Infinity, -Infinity]) {
      expect(Object.is(timeClip(ms), new Date(ms).getTime()), String(ms)).toBe(true);
    }
  });

  it('agrees with usableToken, also on fractional and out-of-range claims', () => {
    const cases = [
      { iat: sec(NOW) - 600, exp: sec(NOW) + 3000 },
      { iat: sec(NOW), exp: sec(NOW) + 41 },
      { iat: sec(NOW) + 0.3, exp: sec(NOW) + 100.7 },
      { exp: sec(NOW) + 61 },
      { exp: sec(NOW) + 59 },
      { iat: 0, exp: 9e12 },
      { iat: 0, exp: 8.64e12 + 30 },
      { exp: -5 },
    ];
    for (const claims of cases) {
      const tokens = { idToken: unsignedJwt(claims), accessToken: undefined, refreshToken: undefined };
      const viaDate = usableToken(tokens, options);
      const viaMs = usableTokenMs(tokens, options);
      expect(viaMs && { token: viaMs.token, expiresAt: new Date(viaMs.expiresAtMs) }, JSON.stringify(claims)).toEqual(viaDate);
    }
  });
});
