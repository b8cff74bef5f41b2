/** Tokens from the network are verified before they are used or cached: signature, iss, aud, exp, nonce. */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { entryFiles, expectOneLineFailure } from '../support/fault-assertions.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, decodePayload, parseCredential, runPlugin } from '../support/plugin.js';

/** When set, the provider's token responses carry this change to the id_token payload, signature kept. */
let tamper: ((claims: Record<string, unknown>) => Record<string, unknown>) | undefined;
const idp = useIdentityProvider();
const temp = useTempDir();

beforeAll(() => {
  idp.hooks.tokenResponse = (body) => {
    if (tamper === undefined || typeof body['id_token'] !== 'string') return;
    const [header, payload, signature] = body['id_token'].split('.');
    const claims = tamper(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>);
    body['id_token'] = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
  };
});
beforeEach(() => {
  tamper = undefined;
});

const cacheDir = (): string => join(temp.path, 'cache');
const args = (extra: string[] = []): string[] => [
  'get-token',
  `--oidc-issuer-url=${idp.issuer}`,
  `--oidc-client-id=${idp.clientId}`,
  '--oidc-extra-scope=email,groups',
  `--token-cache-dir=${cacheDir()}`,
  '--listen-address=127.0.0.1:0',
  `--browser-command=${FAKE_BROWSER}`,
  ...extra,
];

describe('verification of fresh tokens', () => {
  it('rejects an id_token whose payload was changed after signing, and caches nothing', async () => {
    tamper = (claims) => ({ ...claims, groups: ['system:masters'] });
    const run = await runPlugin(args());
    expectOneLineFailure(run, { error: 'the provider returned a token that fails verification: signature verification failed', hint: 'check the issuer URL and the client ID; the token was not used' });
    expect(entryFiles(cacheDir())).toEqual([]);
  });

  it('rejects an id_token for another audience, and caches nothing', async () => {
    tamper = (claims) => ({ ...claims, aud: 'someone-else' });
    const run = await runPlugin(args());
    expectOneLineFailure(run, {
      error: 'the provider returned an invalid token: unexpected JWT "aud" (audience) claim value',
      hint: 'check --oidc-issuer-url and --oidc-client-id against the provider; the token was not used',
    });
    expect(entryFiles(cacheDir())).toEqual([]);
  });

  it('refetches the signing keys once when the cached ones no longer verify (key rotation)', async () => {
    expect((await runPlugin(args())).code).toBe(0);
    const [metadataFile] = readdirSync(cacheDir()).filter((name) => name.startsWith('provider-'));
    const path = join(cacheDir(), metadataFile ?? '');
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { jwks: { keys: Array<Record<string, unknown>> } };
    // Replace every cached key by other key material under the same kid.
    const { publicKey } = await generateKeyPair('RS256');
    const other = await exportJWK(publicKey);
    cached.jwks.keys = cached.jwks.keys.map((key) => ({ ...other, kid: key['kid'], alg: key['alg'], use: key['use'] }));
    writeFileSync(path, JSON.stringify(cached));
    idp.resetCounts();
    const run = await runPlugin(args(['--force-refresh']));
    expect(run.code, run.stderr).toBe(0);
    expect(decodePayload(parseCredential(run).status.token)['sub']).toBe('alice');
    expect(idp.counts.jwks).toBe(1);
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
  });
});
