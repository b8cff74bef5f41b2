/**
 * Several accounts on one provider and client (kubelogin #29): --login-hint labels the account, is sent as
 * login_hint (with prompt=select_account the first time), and keeps a cache entry of its own.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { defaultAccounts } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, decodePayload, parseCredential, runPlugin } from '../support/plugin.js';

const accounts = defaultAccounts();
accounts['bob'] = { password: 'bob-pw', claims: { email: 'bob@example.com', email_verified: true, groups: ['ops'] } };
const idp = useIdentityProvider({ accounts });
const temp = useTempDir();
let cacheDir: string;
beforeEach(() => {
  cacheDir = join(temp.path, 'cache');
});

function getToken(extra: string[], login?: { user: string; password: string }) {
  return runPlugin(
    ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--oidc-extra-scope=email', `--token-cache-dir=${cacheDir}`, '--listen-address=127.0.0.1:0', `--browser-command=${FAKE_BROWSER}`, ...extra],
    { env: login ? { FAKE_BROWSER_LOGIN: login.user, FAKE_BROWSER_PASSWORD: login.password } : {} },
  );
}

describe('--login-hint', () => {
  it('keeps two identities on one provider and client in two cache entries, each served from the cache afterwards', async () => {
    const alice = await getToken(['--login-hint=alice@example.com'], { user: 'alice', password: 'alice-pw' });
    const bob = await getToken(['--login-hint=bob@example.com'], { user: 'bob', password: 'bob-pw' });
    expect(alice.code, alice.stderr).toBe(0);
    expect(bob.code, bob.stderr).toBe(0);
    expect(decodePayload(parseCredential(alice).status.token)['email']).toBe('alice@example.com');
    expect(decodePayload(parseCredential(bob).status.token)['email']).toBe('bob@example.com');
    expect(readdirSync(cacheDir).filter((name) => /^[0-9a-f]{32}$/.test(name))).toHaveLength(2);

    const authorizations = idp.events.filter((event) => event.path === '/auth');
    expect(authorizations.map((event) => [event.loginHint, event.prompt])).toEqual([
      ['alice@example.com', 'select_account'],
      ['bob@example.com', 'select_account'],
    ]);

    idp.resetCounts();
    const aliceAgain = await getToken(['--login-hint=alice@example.com']);
    const bobAgain = await getToken(['--login-hint=bob@example.com']);
    expect(parseCredential(aliceAgain).status.token).toBe(parseCredential(alice).status.token);
    expect(parseCredential(bobAgain).status.token).toBe(parseCredential(bob).status.token);
    expect(idp.counts.requests).toBe(0);
  });

  it('sends neither login_hint nor prompt without a label, and the label changes nothing else', async () => {
    expect((await getToken([])).code).toBe(0);
    const [authorization] = idp.events.filter((event) => event.path === '/auth');
    expect(authorization?.loginHint).toBeUndefined();
    expect(authorization?.prompt).toBeUndefined();
  });
});
