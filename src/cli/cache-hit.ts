/**
 * The cache-hit path, run on every kubectl command: parse the flags with node:util parseArgs (commander
 * costs milliseconds to load), read the cache entry, and return the ExecCredential when the cached token
 * is still valid. Anything unusual (an unknown flag, -v, a corrupt entry, an expired token) returns
 * undefined, and the entry hands over to the full CLI, which does the same work again with full checks,
 * messages and the lock.
 *
 * No lock is taken here: entries are replaced by atomic rename, so a reader sees the old or the new
 * entry, never a torn one, and a hit writes nothing. Everything that may write takes the lock.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { cacheKeyFor } from '../core/cache-key.js';
import { buildExecCredential, formatExecCredential, parseExecInfo } from '../core/exec-credential.js';
import { usableToken } from '../core/token-policy.js';
import { readCacheEntry } from '../system/token-store.js';
import { GET_TOKEN_FLAGS, type RawFlags } from './flag-spec.js';
import { parseGetTokenFlags, withClusterConfig, type FlagEnvironment } from './flags.js';

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

const PARSE_OPTIONS: ParseOptions = Object.fromEntries(
  GET_TOKEN_FLAGS.map((flag) => [
    flag.name,
    {
      type: flag.kind === 'boolean' ? 'boolean' : 'string',
      multiple: flag.kind === 'list' || flag.kind === 'array' || flag.kind === 'map',
      ...(flag.short !== undefined ? { short: flag.short } : {}),
    },
  ]),
) as ParseOptions;

export interface HitEnvironment extends FlagEnvironment {
  KUBERNETES_EXEC_INFO?: string | undefined;
}

/** The ExecCredential line to print, or undefined when the full CLI must take over. */
export function serveFromCache(argv: readonly string[], env: HitEnvironment, nowMs: number): string | undefined {
  if (argv[0] !== 'get-token') return undefined;
  try {
    const { values } = parseArgs({ args: argv.slice(1), options: PARSE_OPTIONS, strict: true, allowPositionals: false });
    const execInfo = parseExecInfo(env.KUBERNETES_EXEC_INFO);
    const config = parseGetTokenFlags(withClusterConfig(values as RawFlags, execInfo.cluster), env);
    if (config.verbosity > 0 || config.warnings.length > 0 || config.cache.storage !== 'disk' || config.cache.forceRefresh) return undefined;
    const { provider } = config;
    const read = readCacheEntry(config.cache.dir, cacheKeyFor(config), { issuer: provider.issuerUrl, clientId: provider.clientId });
    if (!('entry' in read)) return undefined;
    const usable = usableToken(read.entry, { nowMs, expiryMarginSec: config.cache.expiryMarginSec, useAccessToken: provider.useAccessToken });
    if (usable === undefined) return undefined;
    return formatExecCredential(buildExecCredential(execInfo, usable.token, usable.expiresAt));
  } catch {
    return undefined;
  }
}
