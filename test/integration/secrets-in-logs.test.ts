/**
 * Tokens, codes and secrets never reach stderr, at any verbosity: kubectl shows the plugin's stderr to the user,
 * and users paste -v output into tickets and chats. (stdout carries the one ExecCredential, which kubectl reads.)
 */
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin } from '../support/plugin.js';

const idp = useIdentityProvider();
const temp = useTempDir();

describe('secrets in logs', () => {
  it('a login and a refresh at -v9 print their steps and requests, but no token, code or client secret', async () => {
    const cacheDir = join(temp.path, 'cache');
    // The fake browser reports the callback URL (with the code) on its stderr, which the plugin would pass on:
    // send it to a file instead, where the test reads the code back.
    const browserLog = join(temp.path, 'browser.jsonl');
    const browser = join(temp.path, 'quiet-browser');
    writeFileSync(browser, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(FAKE_BROWSER)} "$@" 2>/dev/null\n`);
    chmodSync(browser, 0o755);
    const args = [
      'get-token',
      `--oidc-issuer-url=${idp.issuer}`,
      `--oidc-client-id=${CONFIDENTIAL_CLIENT_ID}`,
      `--oidc-client-secret=${CONFIDENTIAL_CLIENT_SECRET}`,
      '--oidc-extra-scope=email,groups',
      `--token-cache-dir=${cacheDir}`,
      '--listen-address=127.0.0.1:0',
      `--browser-command=${browser}`,
      '--v=9',
    ];
    const env = { FAKE_BROWSER_LOG: browserLog };

    const login = await runPlugin(args, { env });
    expect(login.code, login.stderr).toBe(0);
    const afterLogin = readEntry(cacheDir);
    const refresh = await runPlugin([...args, '--force-refresh'], { env });
    expect(refresh.code, refresh.stderr).toBe(0);
    const afterRefresh = readEntry(cacheDir);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 1 });

    const [visit] = readFileSync(browserLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { finalUrl: string });
    const code = new URL(visit?.finalUrl ?? 'http://x').searchParams.get('code');
    expect(code).toBeTruthy();
    const secrets = {
      'authorization code': code ?? '',
      'client secret': CONFIDENTIAL_CLIENT_SECRET,
      'id_token (login)': parseCredential(login).status.token,
      'id_token (refresh)': parseCredential(refresh).status.token,
      'access_token (login)': afterLogin['access_token'],
      'access_token (refresh)': afterRefresh['access_token'],
      'refresh_token (login)': afterLogin['refresh_token'],
      'refresh_token (refresh)': afterRefresh['refresh_token'],
    };
    // Not vacuous: -v9 reports the requests it makes.
    expect(login.stderr).toMatch(/token/i);
    expect(login.stderr.split('\n').length).toBeGreaterThan(5);
    for (const [what, secret] of Object.entries(secrets)) {
      expect(typeof secret === 'string' && secret.length >= 16, what).toBe(true);
      // Each whole value, and its last 16 characters: a shortened print would still show a JWT's signature.
      for (const run of [login, refresh]) {
        expect(run.stderr.includes(secret as string), what).toBe(false);
        expect(run.stderr.includes((secret as string).slice(-16)), `${what} (its end: the signature)`).toBe(false);
      }
    }
  });
});

function readEntry(dir: string): Record<string, unknown> {
  const [name] = readdirSync(dir).filter((file) => /^[0-9a-f]{32}$/.test(file));
  return JSON.parse(readFileSync(join(dir, name ?? ''), 'utf8')) as Record<string, unknown>;
}
