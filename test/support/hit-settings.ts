/** What the cache-hit path's hitSettings must answer for a configuration the full CLI parsed (tests hold the two together). */
import type { HitSettings } from '../../src/cli/cache-hit.js';
import type { GetTokenConfig } from '../../src/core/config.js';
import { cacheKeyFor } from '../../src/core/cache-key.js';

export function expectedHitSettings(config: GetTokenConfig): HitSettings {
  return {
    key: cacheKeyFor(config),
    dir: config.cache.dir,
    issuerUrl: config.provider.issuerUrl,
    clientId: config.provider.clientId,
    useAccessToken: config.provider.useAccessToken,
    expiryMarginSec: config.cache.expiryMarginSec,
  };
}
