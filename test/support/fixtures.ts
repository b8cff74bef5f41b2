/**
 * Per-file test fixtures: a test OpenID provider started once per file (counters reset before each test)
 * and a fresh temporary directory per test. Each returns a stand-in that forwards to the live object, so
 * tests keep writing `idp.issuer` and `temp.path`.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startIdentityProvider, type IdpOptions, type TestIdp } from './identity-provider.js';
import { makeTempDir } from './plugin.js';

function forwardTo<T extends object>(current: () => T | undefined, what: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      const live = current();
      if (live === undefined) throw new Error(`${what} is used outside a test`);
      const value: unknown = Reflect.get(live, property);
      return typeof value === 'function' ? value.bind(live) : value;
    },
  });
}

export function useIdentityProvider(options?: IdpOptions): TestIdp {
  let idp: TestIdp | undefined;
  beforeAll(async () => {
    idp = await startIdentityProvider(options);
  });
  afterAll(async () => {
    await idp?.close();
  });
  beforeEach(() => idp?.resetCounts());
  return forwardTo(() => idp, 'the identity provider');
}

export function useTempDir(): { readonly path: string } {
  let temp: { path: string; remove(): void } | undefined;
  beforeEach(() => {
    temp = makeTempDir();
    return () => temp?.remove();
  });
  return forwardTo(() => temp, 'the temporary directory');
}
