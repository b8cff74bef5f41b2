/**
 * get-token from raw flag values: validation, the disk cache, the lock and the lazily loaded provider, wired
 * around commands/get-token.ts. The one composition shared by the CLI (cli/main.ts) and the programmatic API
 * (api/index.ts), so that both compute the same cache key, read and write the same entries and take the same
 * lock files.
 */
import { getToken, type LoginProvider, type TokenCache } from '../commands/get-token.js';
import type { LoginConfig, ProviderConfig } from '../core/config.js';
import type { ExecCredential, ExecInfo } from '../core/exec-credential.js';
import type { IdentityProvider } from '../oidc/identity-provider.js';
import { withCacheLock } from '../system/file-lock.js';
import { diskSide, keyringTokenCache, openSystemKeyring } from '../system/keyring-store.js';
import { createLogger, type Logger } from '../system/log.js';
import { readCacheEntry, writeCacheEntry } from '../system/token-store.js';
import type { RawFlags } from './flag-spec.js';
import { parseGetTokenFlags, type FlagEnvironment } from './flags.js';

export interface GetTokenRun {
  /** HOME, USERPROFILE and KUBECACHEDIR, for the default cache directory and `~`. */
  env: FlagEnvironment;
  execInfo: ExecInfo;
  /** Where the human-facing lines go, each ending in a newline: stderr for the CLI. */
  write: (text: string) => void;
  /** Ends a login early; its reason is what the call rejects with. */
  signal: AbortSignal;
  /** Whether the password and authcode-keyboard grants may prompt on the terminal. */
  interactive: boolean;
}

/** Where the token came from. */
export type TokenSource = 'cache' | 'refresh' | 'login';

export interface GetTokenOutcome {
  credential: ExecCredential;
  source: TokenSource;
}

/** Validates raw (get-token's flags, after withClusterConfig) and gets the token. Throws PluginError. */
export async function runGetToken(raw: RawFlags, run: GetTokenRun): Promise<GetTokenOutcome> {
  const config = parseGetTokenFlags(raw, run.env);
  const log = createLogger(config.verbosity, run.write);
  for (const warning of config.warnings) log.warn(warning);
  const { storage, dir } = config.cache;
  const maxWaitMs = (config.login.timeoutSec + 60) * 1000;
  let source: TokenSource = 'cache';
  const credential = await getToken(config, run.execInfo, {
    cache: storage === 'disk' ? diskTokenCache(dir, log, maxWaitMs, run.signal) : storage === 'keyring' ? keyringCache(dir, log, maxWaitMs, run.signal) : undefined,
    // Provider metadata is no secret: with keyring storage it is cached in the cache directory too, next to the locks.
    loginProvider: async () => observed(await loadIdentityProvider(config.provider, config.login, storage !== 'none' ? dir : undefined, log, run.signal, run.interactive), (how) => (source = how)),
    log,
    now: Date.now,
  });
  return { credential, source };
}

function observed(provider: LoginProvider, settle: (source: TokenSource) => void): LoginProvider {
  return {
    refresh: async (refreshToken) => {
      const tokens = await provider.refresh(refreshToken);
      settle('refresh');
      return tokens;
    },
    login: async (options) => {
      const tokens = await provider.login(options);
      settle('login');
      return tokens;
    },
  };
}

function diskTokenCache(dir: string, log: Logger, maxWaitMs: number, signal: AbortSignal): TokenCache {
  return {
    read(key, expected) {
      const result = readCacheEntry(dir, key, expected);
      if ('entry' in result) return result.entry;
      if ('problem' in result) log.debug(`ignoring the cache entry: ${result.problem}`);
      return undefined;
    },
    write: (entry) => writeCacheEntry(dir, entry),
    withLock: cacheLock(dir, log, maxWaitMs, signal),
  };
}

/**
 * --token-cache-storage=keyring: entries in the system keyring, with the disk as fallback (system/keyring-store.ts),
 * under the same lock file in the cache directory as the disk cache. The native keyring module is loaded on the first
 * read, under the lock; never for disk or none.
 */
function keyringCache(dir: string, log: Logger, maxWaitMs: number, signal: AbortSignal): TokenCache {
  const store = keyringTokenCache({ openKeyring: openSystemKeyring, disk: diskSide(dir), log });
  return { read: store.read, write: store.write, withLock: cacheLock(dir, log, maxWaitMs, signal) };
}

function cacheLock(dir: string, log: Logger, maxWaitMs: number, signal: AbortSignal): TokenCache['withLock'] {
  // Aborted while waiting for the lock: let go of it at once rather than start a login.
  // A cache directory that cannot be written takes no lock: the token is still printed (the write warns).
  return (key, work) => withCacheLock(dir, key, { log, maxWaitMs, purpose: 'getting a token', signal, unlockedIfUnwritable: true }, () => {
    signal.throwIfAborted();
    return work();
  });
}

/** The OIDC code (openid-client and all) is loaded only here, never on a cache hit. */
export async function loadIdentityProvider(provider: ProviderConfig, login: LoginConfig, metadataCacheDir: string | undefined, log: Logger, signal: AbortSignal, interactive: boolean): Promise<IdentityProvider> {
  const { createIdentityProvider } = await import('../oidc/identity-provider.js');
  return createIdentityProvider({ provider, login, metadataCacheDir, log, signal, interactive });
}
