/**
 * Load: many kubectl processes at once over several providers and clients, and many cache hits in a row. The
 * plugin runs as the real built binary; logins are counted at the providers (oidc-provider), not by the plugin.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestIdp } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin, type PluginRun } from '../support/plugin.js';

/** A second public client on each provider, so that 2 providers × 2 clients make 4 cache keys. */
const SECOND_CLIENT = 'kubectl-second';
const secondClient = {
  client_id: SECOND_CLIENT,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1', 'http://localhost'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

// Tokens that outlive the test, however slow the machine: expiry is arranged by editing the entries (below).
const providerA = useIdentityProvider({ idTokenTtlSec: 600, clients: [secondClient] });
const providerB = useIdentityProvider({ idTokenTtlSec: 600, clients: [secondClient] });
const temp = useTempDir();

interface Target {
  idp: TestIdp;
  clientId: string;
}

function getTokenArgs(target: Target, cacheDir: string): string[] {
  return [
    'get-token',
    `--oidc-issuer-url=${target.idp.issuer}`,
    `--oidc-client-id=${target.clientId}`,
    '--oidc-extra-scope=email',
    `--token-cache-dir=${cacheDir}`,
    '--listen-address=127.0.0.1:0',
    `--browser-command=${FAKE_BROWSER}`,
  ];
}

/** 4 keys, each run `perKey` times, interleaved so that every key's invocations start spread over the batch. */
async function runInterleaved(targets: readonly Target[], perKey: number, cacheDir: string): Promise<Map<Target, PluginRun[]>> {
  const order = Array.from({ length: perKey * targets.length }, (_, i) => targets[i % targets.length] as Target);
  const runs = await Promise.all(order.map((target) => runPlugin(getTokenArgs(target, cacheDir), { timeoutMs: 60_000 })));
  const byTarget = new Map<Target, PluginRun[]>(targets.map((target) => [target, []]));
  runs.forEach((run, i) => byTarget.get(order[i] as Target)?.push(run));
  return byTarget;
}

/**
 * Replaces the id_token of every entry in dir with one its provider signed that expired a minute ago, keeping the
 * refresh token: the next get-token must refresh. (Waiting for real expiry would make the test depend on the
 * machine's speed: a refreshed token must stay usable while all 64 processes run.)
 */
async function expireCachedIdTokens(dir: string, providers: readonly TestIdp[]): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (const name of readdirSync(dir).filter((file) => /^[0-9a-f]{32}$/.test(file))) {
    const path = join(dir, name);
    const entry = JSON.parse(readFileSync(path, 'utf8')) as { issuer: string; client_id: string; id_token: string; refresh_token?: string };
    const idp = providers.find((provider) => provider.issuer === entry.issuer);
    if (idp === undefined || typeof entry.refresh_token !== 'string') throw new Error(`unexpected entry ${name}`);
    entry.id_token = await idp.mintToken({ aud: entry.client_id, iat: now - 600, exp: now - 60 });
    writeFileSync(path, JSON.stringify(entry), { mode: 0o600 });
  }
}

/** Authorization requests a provider accepted for one client (its events record the client_id of each /auth). */
function authorizationsFor(target: Target): number {
  return target.idp.events.filter((event) => event.path === '/auth' && event.clientId === target.clientId).length;
}

describe('load', () => {
  it('64 parallel cold invocations over 4 provider/client pairs: all succeed, exactly one login per key', { timeout: 120_000 }, async () => {
    const targets: Target[] = [
      { idp: providerA, clientId: providerA.clientId },
      { idp: providerA, clientId: SECOND_CLIENT },
      { idp: providerB, clientId: providerB.clientId },
      { idp: providerB, clientId: SECOND_CLIENT },
    ];
    const cacheDir = join(temp.path, 'cache');
    const byTarget = await runInterleaved(targets, 16, cacheDir);
    const tokens = new Set<string>();
    for (const [target, runs] of byTarget) {
      expect(runs).toHaveLength(16);
      for (const run of runs) expect(run.code, run.stderr).toBe(0);
      const distinct = new Set(runs.map((run) => parseCredential(run).status.token));
      expect(distinct.size, `${target.idp.issuer} ${target.clientId}`).toBe(1);
      for (const token of distinct) tokens.add(token);
      const events = target.idp.events.filter((event) => event.path === '/auth' || event.path === '/token');
      expect(authorizationsFor(target), `${target.idp.issuer} ${target.clientId}: ${JSON.stringify(events)}\n${runs.map((run) => run.stderr).join('\n')}`).toBe(1);
    }
    expect(tokens.size).toBe(4);
    for (const idp of [providerA, providerB]) {
      expect(idp.counts.authorizations).toBe(2);
      expect(idp.counts.tokenRequests).toEqual({ authorization_code: 2 });
      expect(idp.counts.tokenErrors).toEqual({});
    }
    // 4 entries and no lock left behind.
    const names = readdirSync(cacheDir);
    expect(names.filter((name) => /^[0-9a-f]{32}$/.test(name))).toHaveLength(4);
    expect(names.filter((name) => name.includes('.lock'))).toEqual([]);

    // Then all 4 tokens expire: 64 parallel invocations refresh each key once, with its rotating refresh token,
    // and no provider refuses one as already used (which revokes the whole grant).
    await expireCachedIdTokens(cacheDir, [providerA, providerB]);
    providerA.resetCounts();
    providerB.resetCounts();
    const refreshed = await runInterleaved(targets, 16, cacheDir);
    for (const [target, runs] of refreshed) {
      for (const run of runs) expect(run.code, run.stderr).toBe(0);
      const distinct = new Set(runs.map((run) => parseCredential(run).status.token));
      expect(distinct.size, `${target.idp.issuer} ${target.clientId}`).toBe(1);
      expect(tokens.has([...distinct][0] ?? ''), 'a new token').toBe(false);
    }
    for (const idp of [providerA, providerB]) {
      expect(idp.counts.tokenRequests).toEqual({ refresh_token: 2 });
      expect(idp.counts.tokenErrors).toEqual({});
      expect(idp.counts.authorizations).toBe(0);
    }
  });
});

describe('many cache hits', () => {
  const idp = useIdentityProvider();
  const hits = useTempDir();

  it('500 sequential cache hits make zero requests to the provider and leave the entry as it was', { timeout: 120_000 }, async () => {
    const cacheDir = join(hits.path, 'cache');
    const target = { idp, clientId: idp.clientId };
    const first = await runPlugin(getTokenArgs(target, cacheDir));
    expect(first.code, first.stderr).toBe(0);
    const token = parseCredential(first).status.token;
    const [entryName] = readdirSync(cacheDir).filter((name) => /^[0-9a-f]{32}$/.test(name));
    const entryPath = join(cacheDir, entryName ?? '');
    const entryBefore = readFileSync(entryPath, 'utf8');
    const mtimeBefore = statSync(entryPath).mtimeMs;
    idp.resetCounts();
    // NODE_EXTRA_CA_CERTS costs every Node start ~45 ms on these machines; a hit does not need it.
    const env = { NODE_EXTRA_CA_CERTS: undefined };
    for (let i = 0; i < 500; i++) {
      const run = await runPlugin(getTokenArgs(target, cacheDir), { env });
      if (run.code !== 0 || run.stderr !== '' || parseCredential(run).status.token !== token) {
        throw new Error(`hit ${i + 1}: exit ${run.code}, stderr ${JSON.stringify(run.stderr)}, stdout ${JSON.stringify(run.stdout.slice(0, 80))}`);
      }
    }
    expect(idp.counts.requests).toBe(0);
    expect(readFileSync(entryPath, 'utf8')).toBe(entryBefore);
    expect(statSync(entryPath).mtimeMs).toBe(mtimeBefore);
    expect(readdirSync(cacheDir).filter((name) => name.includes('.lock'))).toEqual([]);
  });
});
