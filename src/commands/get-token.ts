/**
 * get-token: cache → refresh → browser login, under one lock per cache key (kubelogin-compat.md §4).
 *
 * The lock is taken before the cache is read and held until the new entry is written, so that of N
 * concurrent cold invocations exactly one logs in and the others, on getting the lock, find its token;
 * and so that a rotating refresh token is never used twice (providers revoke the whole grant then).
 *
 * A browser login that did not complete leaves a marker (system/login-marker.ts): for the cool-down after
 * it, invocations for the same key fail at once instead of opening one more browser tab each (kubelogin
 * #904, #1330). Not with --token-cache-storage=none (no cache directory, no lock: nothing to remember).
 */
import type { CacheEntry, TokenSet } from '../core/cache-entry.js';
import { cacheKeyFor } from '../core/cache-key.js';
import type { GetTokenConfig, LoginConfig } from '../core/config.js';
import { PluginError } from '../core/errors.js';
import { buildExecCredential, type ExecCredential, type ExecInfo } from '../core/exec-credential.js';
import { decide, freshToken } from '../core/token-policy.js';
import { watchBrowserLaunches } from '../system/browser.js';
import type { Logger } from '../system/log.js';
import { isProcessRunning, judgeLoginMarker, loginMarkerPath, readLoginMarker, removeLoginMarker, writeLoginMarker, type LoginMarker } from '../system/login-marker.js';

export interface TokenCache {
  /** The entry for key, or undefined (a corrupt or unreadable entry is a miss, reported at -v1). Async for the keyring. */
  read(key: string, expected: { issuer: string; clientId: string }): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** Throws (or rejects with) PluginError ERR_CACHE. */
  write(entry: CacheEntry): void | Promise<void>;
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export interface LoginProvider {
  refresh(refreshToken: string): Promise<TokenSet>;
  login(options?: { selectAccount?: boolean }): Promise<TokenSet>;
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
    const entry = await cache.read(key, { issuer: provider.issuerUrl, clientId: provider.clientId });
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
        // Interrupted (SIGINT, SIGTERM): no login after it.
        if (error instanceof PluginError && error.code === 'ERR_INTERRUPTED') throw error;
        // kubelogin falls back silently, and the browser "opens out of nowhere" (kubelogin #683): say why.
        log.warn(`${error instanceof Error ? error.message : String(error)}; logging in again`);
      }
    }
    // A --login-hint label seen for the first time (no entry yet): let the user pick the account.
    tokens ??= await loginWithTabGuard(() => loginProvider.login({ selectAccount: entry === undefined && provider.loginHint !== undefined }));
    // A token was obtained: any failed-login marker is obsolete.
    removeLoginMarker(config.cache.dir, key);
    const credential = credentialFor(tokens);
    try {
      await cache.write({
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

  /**
   * The browser-tab flood guard (kubelogin #904, #1330), under the lock: refuse at once when a recent browser
   * login for this key did not complete, else log in, recording a marker when a browser is opened and the
   * outcome when the login then fails. See system/login-marker.ts.
   */
  async function loginWithTabGuard(login: () => Promise<TokenSet>): Promise<TokenSet> {
    const dir = config.cache.dir;
    if (!mayOpenBrowser(config.login)) return login();
    const marker = readLoginMarker(dir, key);
    const verdict = marker && judgeLoginMarker(marker, { nowMs: deps.now(), cooldownSec: config.login.browserRetryCooldownSec, timeoutSec: config.login.timeoutSec, isRunning: isProcessRunning, selfPid: process.pid });
    if (verdict?.block) {
      throw new PluginError('ERR_BROWSER_COOLDOWN', verdict.message, {
        hint: `to open a browser now, delete ${loginMarkerPath(dir, key)} ("kubectl oidc-login clean" deletes it too) or pass --browser-retry-cooldown-sec=0`,
      });
    }
    let opened: LoginMarker | undefined;
    const onLaunch = (): void => {
      opened = { pid: process.pid, startedAt: new Date(deps.now()).toISOString(), outcome: 'in-progress', issuer: provider.issuerUrl, clientId: provider.clientId };
      recordMarker(opened);
    };
    try {
      return await watchBrowserLaunches(onLaunch, login);
    } catch (error) {
      if (opened !== undefined) {
        const code = error instanceof PluginError ? error.code : undefined;
        const outcome = code === 'ERR_LOGIN_TIMEOUT' ? 'timed-out' : code === 'ERR_INTERRUPTED' ? 'interrupted' : 'failed';
        const reason = outcome === 'failed' ? (error instanceof Error ? error.message : String(error)).split('\n')[0] : undefined;
        recordMarker({ ...opened, outcome, endedAt: new Date(deps.now()).toISOString(), reason });
      }
      throw error;
    }

    function recordMarker(marker: LoginMarker): void {
      try {
        writeLoginMarker(dir, key, marker);
      } catch (error) {
        log.debug(`could not write the login marker ${loginMarkerPath(dir, key)}: ${(error as Error).message}`);
      }
    }
  }

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

/**
 * Whether the flood guard applies: to the grant types that open a browser unattended (authcode, and the
 * device flow's verification URL), unless --skip-open-browser (nothing opens: no tabs to pile up, and a
 * person copying the URL by hand must not be refused). The password and client-credentials grants open
 * nothing; authcode-keyboard waits for a code typed on a terminal, which background callers do not have, so
 * it cannot flood and a person retrying it at once is not refused.
 */
function mayOpenBrowser(login: Pick<LoginConfig, 'grantType' | 'skipOpenBrowser'>): boolean {
  return !login.skipOpenBrowser && (login.grantType === 'authcode' || login.grantType === 'device-code');
}
