/** The loopback callback server and the browser launcher, as the user's browser sees them. */
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { browse } from '../support/fake-browser.js';
import { startIdentityProvider } from '../support/identity-provider.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, readBrowserLog, runPlugin } from '../support/plugin.js';
import { makeTestTls } from '../support/tls.js';

const idp = useIdentityProvider();
const temp = useTempDir();

const args = (extra: string[]): string[] => [
  'get-token',
  `--oidc-issuer-url=${idp.issuer}`,
  `--oidc-client-id=${idp.clientId}`,
  `--token-cache-dir=${join(temp.path, 'cache')}`,
  `--browser-command=${FAKE_BROWSER}`,
  ...extra,
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('the callback server', () => {
  it('sends the browser to --open-url-after-authentication after the login', async () => {
    const browserLog = join(temp.path, 'browser.log');
    const run = await runPlugin(args(['--listen-address=127.0.0.1:0', '--open-url-after-authentication=http://127.0.0.1:9/welcome']), { env: { FAKE_BROWSER_LOG: browserLog } });
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    // The success page is a meta refresh to the URL; the fake browser does not follow meta refreshes.
    expect(readBrowserLog(browserLog)).toEqual([expect.objectContaining({ status: 200 })]);
  });

  it('uses the path of --oidc-redirect-url as the callback path', async () => {
    const port = await freePort();
    const run = await runPlugin(args([`--listen-address=127.0.0.1:${port}`, `--oidc-redirect-url=http://localhost:${port}/callback`]));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`redirect_uri=${encodeURIComponent(`http://localhost:${port}/callback`)}`);
  });

  it('serves the callback over HTTPS with --local-server-cert and --local-server-key', async () => {
    const tls = await makeTestTls(join(temp.path, 'tls'));
    const browserLog = join(temp.path, 'browser.log');
    const port = await freePort();
    // oidc-provider takes https loopback redirects only from web clients, matched exactly, port included.
    const https = await startIdentityProvider({
      clients: [{ client_id: 'kubectl-https', application_type: 'web', token_endpoint_auth_method: 'none', redirect_uris: [`https://localhost:${port}/`], grant_types: ['authorization_code'], response_types: ['code'] }],
    });
    try {
      const run = await runPlugin(
        [
          'get-token',
          `--oidc-issuer-url=${https.issuer}`,
          '--oidc-client-id=kubectl-https',
          `--token-cache-dir=${join(temp.path, 'cache')}`,
          `--browser-command=${FAKE_BROWSER}`,
          `--listen-address=127.0.0.1:${port}`,
          `--oidc-redirect-url=https://localhost:${port}/`,
          `--local-server-cert=${tls.certPath}`,
          `--local-server-key=${tls.keyPath}`,
          '--authentication-timeout-sec=10',
        ],
        { env: { FAKE_BROWSER_CA: tls.caPath, FAKE_BROWSER_LOG: browserLog } },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(readBrowserLog(browserLog)).toEqual([expect.objectContaining({ status: 200, finalUrl: expect.stringMatching(/^https:\/\/localhost:\d+\/\?code=/) })]);
    } finally {
      await https.close();
    }
  });

  it('keeps whatever the browser launcher prints off stdout', async () => {
    const noisy = join(temp.path, 'noisy-browser');
    writeFileSync(noisy, `#!/bin/sh\necho "launcher says hello on stdout"\nexec ${FAKE_BROWSER} "$@"\n`);
    chmodSync(noisy, 0o755);
    const run = await runPlugin([...args(['--listen-address=127.0.0.1:0']).filter((arg) => !arg.startsWith('--browser-command')), `--browser-command=${noisy}`]);
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(run.stderr).toContain('launcher says hello on stdout');
  });

  it('prints the URL and opens nothing with --skip-open-browser, then times out with a clear message', async () => {
    const run = await runPlugin(args(['--listen-address=127.0.0.1:0', '--skip-open-browser', '--authentication-timeout-sec=1']));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^Please visit the following URL in your browser: http:\/\/127\.0\.0\.1:\d+\/auth\?/m);
    expect(run.stderr).toMatch(/^error: timed out after 1 s waiting for the browser login$/m);
    expect(idp.counts.authorizations).toBe(0);
  });

  it('answers only GET requests for a loopback Host, and still completes the login afterwards', async () => {
    let url: string | undefined;
    const running = runPlugin(args(['--listen-address=127.0.0.1:0', '--skip-open-browser', '--authentication-timeout-sec=20']), {
      onStderr: (chunk) => (url ??= /Please visit the following URL in your browser: (\S+)/.exec(chunk)?.[1]),
    });
    const deadline = Date.now() + 10_000;
    while (url === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const port = Number(new URL(new URL(url ?? '').searchParams.get('redirect_uri') ?? '').port);
    const send = (method: string, path: string, host: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await send('GET', '/?code=x&state=y', 'attacker.example:80')).toBe(400);
    expect(await send('GET', '/?code=x&state=y', `evil.localhost.example:${port}`)).toBe(400);
    expect(await send('POST', '/?code=x&state=y', `localhost:${port}`)).toBe(405);
    expect(await send('GET', '/favicon.ico', `localhost:${port}`)).toBe(404);
    expect(await send('GET', '/', `127.0.0.1:${port}`)).toBe(302);
    const page = await browse(url ?? '');
    expect(page.status).toBe(200);
    expect(page.body).toContain('You have logged in to the cluster');
    const run = await running;
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  });

  it('never reads stdin: an open pipe that is never closed (as @kubernetes/client-node passes) does not block', async () => {
    const run = await runPlugin(args(['--listen-address=127.0.0.1:0']), { stdin: 'pipe', timeoutMs: 15_000 });
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
  });

  it('reports a busy port with the addresses it tried', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const run = await runPlugin(args([`--listen-address=127.0.0.1:${port}`]));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`error: no available port for the callback server (127.0.0.1:${port}: EADDRINUSE)`);
    } finally {
      busy.close();
    }
  });
});
