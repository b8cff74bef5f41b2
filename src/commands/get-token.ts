/**
 * get-token: cache → refresh → browser login, under one lock per cache key (kubelogin-compat.md §4).
 *
 * The lock is taken before the cache is read and held until the new entry is written, so that of N
 * concurrent cold invocations exactly one logs in and the others, on getting the lock, find its token;
 * and so that a rotating refresh token is never used twice (providers revoke the whole grant then).
 */
import type { CacheEntry, TokenSet } from '../core/cache-entry.js';
import { cacheKeyFor } from '../core/cache-key.js';
import type { GetTokenConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import { buildExecCredential, type ExecCredential, type ExecInfo } from '../core/exec-credential.js';
import { decide, freshToken } from '../core/token-policy.js';
import type { Logger } from '../system/log.js';

export interface TokenCache {
  /** The entry for key, or undefined (a corrupt or unreadable entry is a miss, reported at -v1). */
  read(key: string, expected: { issuer: string; clientId: string }): CacheEntry | undefined;
  /** Throws PluginError ERR_CACHE. */
  write(entry: CacheEntry): void;
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export interface LoginProvider {
  refresh(refreshToken: string): Promise<TokenSet>;
  login(): Promise<TokenSet>;
}

export interface GetTokenDeps {
  /** undefined with --token-cache-storage=none. */
  cache: TokenCache | undefined;
  /** Loads the OIDC code on first use: a cache hit never pays for it. */
  loginProvider: () => Promise<LoginProvider>;
  log: Logger;
  now: () => number;
}

export async function getToken(config: GetTokenConfig, execInfo: ExecInfo, deps: GetTokenDeps): Promise<ExecCredential> {
  const { log } = deps;
  const { provider } = config;
  const key = cacheKeyFor(config);
  log.debug(`token cache key ${key} in ${config.cache.dir}`);
  const { cache } = deps;
  if (cache === undefined) {
    const tokens = await (await deps.loginProvider()).login();
    return credentialFor(tokens);
  }

  return cache.withLock(key, async () => {
    const entry = cache.read(key, { issuer: provider.issuerUrl, clientId: provider.clientId });
    const decision = decide(entry, {
      nowMs: deps.now(),
      forceRefresh: config.cache.forceRefresh,
      expiryMarginSec: config.cache.expiryMarginSec,
      useAccessToken: provider.useAccessToken,
    });
    if (decision.action === 'use') {
      log.debug(`using the cached token, valid until ${decision.expiresAt.toISOString()}`);
      return buildExecCredential(execInfo, decision.token, decision.expiresAt);
    }
    log.debug(decision.reason);
    const loginProvider = await deps.loginProvider();
    let tokens: TokenSet | undefined;
    if (decision.action === 'refresh') {
      try {
        tokens = await loginProvider.refresh(decision.refreshToken);
        log.debug('refreshed the token');
      } catch (error) {
        // kubelogin falls back silently, and the browser "opens out of nowhere" (kubelogin #683): say why.
        log.warn(`${error instanceof Error ? error.message : String(error)}; logging in again`);
      }
    }
    tokens ??= await loginProvider.login();
    const credential = credentialFor(tokens);
    try {
      cache.write({
        key,
        issuer: provider.issuerUrl,
        clientId: provider.clientId,
        scopes: provider.extraScopes,
        useAccessToken: provider.useAccessToken,
        savedAt: new Date(deps.now()).toISOString(),
        idToken: tokens.idToken,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      });
    } catch (error) {
      // The token is good: hand it to kubectl anyway, the next command will log in again.
      log.warn(`${error instanceof Error ? error.message : String(error)}; the token is not cached`);
    }
    return credential;
  });

  function credentialFor(tokens: TokenSet): ExecCredential {
    const usable = freshToken(tokens, { nowMs: deps.now(), expiryMarginSec: config.cache.expiryMarginSec, useAccessToken: provider.useAccessToken });
    if (usable === undefined) {
      throw new PluginError('ERR_TOKEN_INVALID', 'the provider issued a token that is already expired, or has no exp claim', {
        hint: 'check that the system clock is right',
      });
    }
    return buildExecCredential(execInfo, usable.token, usable.expiresAt);
  }
}
