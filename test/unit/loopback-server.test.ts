/**
 * The loopback callback server in-process, where the moment between accepting a callback and answering it can be
 * held open (the live-process tests in test/integration/hostile-input.test.ts cannot do that without a race).
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startLoopbackServer } from '../../src/oidc/loopback-server.js';
import { createLogger } from '../../src/system/log.js';

function send(port: number, target: string, host = `localhost:${port}`): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: target, agent: false, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the loopback server', () => {
  it('settles the login only with the right state, once: wrong states (also with an error parameter) get 400, a replay or another code while the first is redeemed 409', async () => {
    const lines: string[] = [];
    const server = await startLoopbackServer({ addresses: [{ host: '127.0.0.1', port: 0 }], tls: undefined, log: createLogger(0, (text) => lines.push(text)) });
    try {
      let settled = false;
      const received = server.expectCallback('/callback', 'the-state', 'http://idp.example/auth', new AbortController().signal);
      void received.then(() => (settled = true));
      for (const target of ['/callback?code=forged&state=wrong', '/callback?error=access_denied&state=wrong', '/callback?error=access_denied', '/callback?code=c&state=the-state&state=the-state', '/callback?code=c&state=the-state%20']) {
        expect((await send(server.port, target)).status, target).toBe(400);
      }
      expect(settled).toBe(false);
      const first = send(server.port, '/callback?code=c1&state=the-state');
      const callback = await received;
      expect(callback.params.get('code')).toBe('c1');
      // The first is being redeemed (finish not called yet): whatever comes now is refused.
      expect((await send(server.port, '/callback?code=c1&state=the-state')).status).toBe(409);
      expect((await send(server.port, '/callback?code=c2&state=the-state')).status).toBe(409);
      expect((await send(server.port, '/callback?error=access_denied&state=the-state')).status).toBe(409);
      await callback.finish({ ok: true, openUrl: undefined });
      const page = await first;
      expect(page.status).toBe(200);
      expect(page.body).toContain('You have logged in to the cluster');
      expect(lines.filter((line) => line.includes('wrong state'))).toHaveLength(5);
    } finally {
      await server.close();
    }
  });

  it('accepts the host of a non-loopback --oidc-redirect-url (a name the user mapped to this machine) besides the loopback names, and no other', async () => {
    const server = await startLoopbackServer({ addresses: [{ host: '127.0.0.1', port: 0 }], tls: undefined, log: createLogger(0, () => undefined), redirectHost: 'kube-login.example:8000' });
    try {
      const received = server.expectCallback('/callback', 'the-state', 'http://idp.example/auth', new AbortController().signal);
      for (const host of ['evil.example:8000', 'kube-login.example', 'kube-login.example:8001', 'kube-login.example.evil:8000']) {
        expect((await send(server.port, '/callback?code=c&state=the-state', host)).status, host).toBe(400);
      }
      const page = send(server.port, '/callback?code=c&state=the-state', 'Kube-Login.example:8000');
      const callback = await received;
      await callback.finish({ ok: true, openUrl: undefined });
      expect((await page).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
