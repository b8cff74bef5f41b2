/**
 * When a cached token may be reused. kubelogin reuses a token until the second it expires and reports that
 * instant to kubectl, so kubectl sends tokens the API server already rejects (int128/kubelogin#754). We treat
 * a token as expired a margin before `exp` and report the expiry minus that margin, so kubectl asks again in
 * time. The margin is capped at half the token's lifetime so that short-lived tokens stay usable.
 */
import type { CacheEntry, TokenSet } from './cache-entry.js';
import { readTokenTimes, type TokenTimes } from './token-claims.js';

export const DEFAULT_EXPIRY_MARGIN_SEC = 60;

export type CacheDecision =
  | { action: 'use'; token: string; expiresAt: Date }
  | { action: 'refresh'; refreshToken: string; reason: string }
  | { action: 'login'; reason: string };

export interface PolicyOptions {
  nowMs: number;
  forceRefresh: boolean;
  expiryMarginSec: number;
  useAccessToken: boolean;
}

/** The token handed to kubectl: the id_token, or the access token with --oidc-use-access-token. */
export function credentialToken(tokens: TokenSet, useAccessToken: boolean): string | undefined {
  return useAccessToken ? tokens.accessToken : tokens.idToken;
}

export function effectiveMarginMs(times: TokenTimes, expiryMarginSec: number): number {
  const configured = expiryMarginSec * 1000;
  if (times.issuedAtMs === undefined) return configured;
  const halfLifetime = Math.max(0, (times.expiresAtMs - times.issuedAtMs) / 2);
  return Math.min(configured, halfLifetime);
}

/** The instant after which the token must not be used any more (exp minus the margin). */
export function usableUntil(times: TokenTimes, expiryMarginSec: number): Date {
  return new Date(times.expiresAtMs - effectiveMarginMs(times, expiryMarginSec));
}

/**
 * usableToken with the expiry as a number: `usableUntil(…).getTime()` without the Date (the cache-hit path
 * makes no Date at all: the first one costs about 0.2 ms of start-up).
 */
export function usableTokenMs(
  tokens: TokenSet,
  options: Pick<PolicyOptions, 'nowMs' | 'expiryMarginSec' | 'useAccessToken'>,
): { token: string; expiresAtMs: number } | undefined {
  const token = credentialToken(tokens, options.useAccessToken);
  if (token === undefined) return undefined;
  const times = readTokenTimes(token);
  if (times === undefined) return undefined;
  const expiresAtMs = timeClip(times.expiresAtMs - effectiveMarginMs(times, options.expiryMarginSec));
  return expiresAtMs > options.nowMs ? { token, expiresAtMs } : undefined;
}

/** Returns the token and its reported expiry when it is still usable at nowMs, else undefined. */
export function usableToken(
  tokens: TokenSet,
  options: Pick<PolicyOptions, 'nowMs' | 'expiryMarginSec' | 'useAccessToken'>,
): { token: string; expiresAt: Date } | undefined {
  const usable = usableTokenMs(tokens, options);
  return usable && { token: usable.token, expiresAt: new Date(usable.expiresAtMs) };
}

/** What `new Date(ms).getTime()` gives (ECMAScript TimeClip): whole milliseconds, NaN beyond ±8.64e15. */
export function timeClip(ms: number): number {
  return Math.abs(ms) <= 8.64e15 ? Math.trunc(ms) + 0 : NaN;
}

/**
 * A token the provider has just issued is handed to kubectl unless it has really expired: the margin is for
 * deciding when to stop reusing a cached token, and applying it here would fail logins whenever the token's
 * lifetime is shorter than the margin or the provider's clock (iat/exp are whole seconds) runs slightly behind.
 * The reported expiry is the margin-adjusted instant when that is still ahead, else `exp` itself.
 */
export function freshToken(
  tokens: TokenSet,
  options: Pick<PolicyOptions, 'nowMs' | 'expiryMarginSec' | 'useAccessToken'>,
): { token: string; expiresAt: Date } | undefined {
  const token = credentialToken(tokens, options.useAccessToken);
  if (token === undefined) return undefined;
  const times = readTokenTimes(token);
  if (times === undefined || times.expiresAtMs <= options.nowMs) return undefined;
  const withMargin = usableUntil(times, options.expiryMarginSec);
  return { token, expiresAt: withMargin.getTime() > options.nowMs ? withMargin : new Date(times.expiresAtMs) };
}

export function decide(entry: CacheEntry | undefined, options: PolicyOptions): CacheDecision {
  if (entry === undefined) return { action: 'login', reason: 'no cached token' };
  if (!options.forceRefresh) {
    const usable = usableToken(entry, options);
    if (usable !== undefined) return { action: 'use', ...usable };
  }
  const reason = options.forceRefresh ? '--force-refresh was given' : 'the cached token has expired';
  if (entry.refreshToken !== undefined) return { action: 'refresh', refreshToken: entry.refreshToken, reason };
  return { action: 'login', reason: `${reason} and there is no refresh token` };
}
