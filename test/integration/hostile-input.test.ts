/**
 * Hostile input against the built plugin as a real process: requests to the live callback port that a hostile web
 * page (DNS rebinding), a local process or a confused browser could send; cache files of the wrong shape, huge,
 * special or symlinked; malformed KUBERNETES_EXEC_INFO; shell metacharacters in --browser-command and $BROWSER.
 *
 * The callback tests start a login whose "browser" only writes the authorization URL to a file. The test logs in at
 * the provider itself, stopping before the redirect, so it holds the genuine callback URL (code, state, iss); it
 * then sends the hostile requests, and finally the genuine callback, which must still complete the login: the
 * server survived, and the provider's token-request count shows which codes were redeemed.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGetTokenFlags } from '../../src/cli/flags.js';
import { cacheKey } from '../../src/core/cache-key.js';
import { browse } from '../support/fake-browser.js';
import { useIdentityProvider, useTempDir } from '../support/fixtures.js';
import { FAKE_BROWSER, parseCredential, runPlugin, type PluginRun } from '../support/plugin.js';

const idp = useIdentityProvider();
const temp = useTempDir();

/** Plugin processes a test started; killed by pid after each test if still running. */
const started = new Set<number>();
afterEach(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  started.clear();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface PendingLogin {
  port: number;
  state: string;
  /** The genuine callback URL (code, state, iss), obtained from the provider without following the redirect. */
  callback: URL;
  run: Promise<PluginRun>;
}

/**
 * Starts `get-token` with a browser command that only writes the URL to a file (it never completes the login),
 * logs in at the provider as the browser would, and stops before the redirect to the loopback server.
 */
async function startPendingLogin(extra: string[] = []): Promise<PendingLogin> {
  const urlFile = join(temp.path, 'url.txt');
  const browser = join(temp.path, 'write-url');
  writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$1" > '${urlFile}'\n`);
  chmodSync(browser, 0o755);
  const run = runPlugin(
    [
      'get-token',
      `--oidc-issuer-url=${idp.issuer}`,
      `--oidc-client-id=${idp.clientId}`,
      `--token-cache-dir=${join(temp.path, 'cache')}`,
      '--listen-address=127.0.0.1:0',
      `--browser-command=${browser}`,
      '--authentication-timeout-sec=40',
      ...extra,
    ],
    { timeoutMs: 55_000, onSpawn: (pid) => started.add(pid) },
  );
  let url: URL | undefined;
  for (let round = 0; round < 500 && url === undefined; round++) {
    // Complete once its newline is there.
    const text = existsSync(urlFile) ? readFileSync(urlFile, 'utf8') : '';
    if (text.endsWith('\n')) url = new URL(text.trim());
    if (url === undefined) await sleep(20);
  }
  if (url === undefined) throw new Error(`the browser command was not run: ${(await run).stderr}`);
  const redirectUri = url.searchParams.get('redirect_uri') ?? '';
  const state = url.searchParams.get('state') ?? '';
  const login = await browse(url.href, { stopAt: redirectUri });
  const callback = new URL(login.finalUrl);
  expect(callback.searchParams.get('state')).toBe(state);
  expect(callback.searchParams.get('code')).toBeTruthy();
  return { port: Number(new URL(redirectUri).port), state, callback, run };
}

interface RawAnswer {
  /** The HTTP status of the answer, undefined when the connection ended without one. */
  status: number | undefined;
  text: string;
  /** How the connection ended: closed by the server, a socket error (its code), or still open at the deadline. */
  ended: string;
}

/** Sends raw bytes on a new connection and reads until the server closes it (or the deadline). */
function rawRequest(port: number, request: string | Buffer, body?: Buffer, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ended: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text, ended });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => finish('closed'));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? 'error'));
    socket.write(request);
    if (body !== undefined) socket.write(body, () => undefined);
  });
}

/** A GET of target with the given Host header (none when null), asking the server to close after answering. */
function get(port: number, target: string, host: string | null = `localhost:${port}`, method = 'GET'): Promise<RawAnswer> {
  return rawRequest(port, `${method} ${target} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);
}

/** Completes the login with the genuine callback and checks that exactly its code was redeemed, once. */
async function completeLogin(login: PendingLogin): Promise<PluginRun> {
  expect(idp.counts.tokenRequests, 'a code was redeemed before the genuine callback').toEqual({});
  const page = await browse(login.callback.href);
  expect(page.status).toBe(200);
  expect(page.body).toContain('You have logged in to the cluster');
  const run = await login.run;
  expect(run.code, run.stderr).toBe(0);
  parseCredential(run);
  expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  return run;
}

/** The genuine callback's target with its query changed. */
function target(login: PendingLogin, change: (params: URLSearchParams) => void): string {
  const params = new URLSearchParams(login.callback.search);
  change(params);
  return `${login.callback.pathname}?${params.toString()}`;
}

describe('the callback server, under hostile requests to the live plugin', () => {
  it('refuses a Host that is not a loopback name (DNS rebinding), even with the right port, state and code, then completes the login', async () => {
    const login = await startPendingLogin();
    const genuine = `${login.callback.pathname}${login.callback.search}`;
    const { port } = login;
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, `evil.localhost.example:${port}`,
      `localhost.:${port}`, `127.0.0.2:${port}`, `0.0.0.0:${port}`, `localhost:${port + 1}`, 'localhost', `[::2]:${port}`, `localhost:${port}@evil.example`, '', ' ']) {
      expect((await get(port, genuine, host)).status, host).toBe(400);
    }
    expect((await get(port, genuine, null)).status, 'no Host').toBe(400);
    // HTTP/1.0 without a Host header.
    expect((await rawRequest(port, `GET ${genuine} HTTP/1.0\r\n\r\n`)).status).toBe(400);
    await completeLogin(login);
  });

  it('refuses every method but GET (405, or the connection closed for CONNECT), and other paths (404), then completes the login', async () => {
    const login = await startPendingLogin();
    const genuine = `${login.callback.pathname}${login.callback.search}`;
    const { port } = login;
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'get']) {
      const answer = await get(port, genuine, `localhost:${port}`, method);
      // Node answers 400 itself for a method it does not know (lower-case "get").
      expect(answer.status, method).toBe(method === 'get' ? 400 : 405);
    }
    expect((await rawRequest(port, `OPTIONS * HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)).status).toBe(405);
    // CONNECT: no listener for it, so Node closes the connection without an answer.
    expect((await rawRequest(port, `CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)).status).toBeUndefined();
    for (const path of ['/favicon.ico', '/callback', `/x${login.callback.search}`, `/%2F${login.callback.search}`, '/..%2f..%2fetc/passwd', '/a/../b']) {
      expect((await get(port, path)).status, path).toBe(404);
    }
    await completeLogin(login);
  });

  it('ignores callbacks whose state is wrong, missing, empty, doubled or altered, with a code or an error parameter: 400, nothing redeemed, the login goes on', async () => {
    const login = await startPendingLogin();
    const { port, state } = login;
    const wrong: Array<(params: URLSearchParams) => void> = [
      (p) => p.set('state', 'forged'),
      (p) => p.delete('state'),
      (p) => p.set('state', ''),
      (p) => p.append('state', state),
      (p) => p.append('state', 'forged'),
      (p) => p.set('state', `${state}x`),
      (p) => p.set('state', state.slice(0, -1)),
      (p) => p.set('state', state.toUpperCase() === state ? state.toLowerCase() : state.toUpperCase()),
      (p) => p.set('state', ` ${state}`),
      (p) => {
        p.delete('state');
        p.set('State', state);
      },
      // An error response with a wrong or no state must not end the login either.
      (p) => {
        p.delete('code');
        p.set('error', 'access_denied');
        p.set('state', 'forged');
      },
      (p) => {
        p.delete('code');
        p.delete('state');
        p.set('error', 'access_denied');
      },
    ];
    for (const change of wrong) {
      const answer = await get(port, target(login, change));
      expect(answer.status, target(login, change)).toBe(400);
      expect(answer.text).toContain('This response does not belong to the login in progress');
    }
    await sleep(100);
    expect(idp.counts.tokenRequests).toEqual({});
    const run = await completeLogin(login);
    expect(run.stderr).toContain('ignored a callback with a wrong state parameter');
  });

  it('refuses malformed request targets with 400 without ending the plugin (`//?…` made the URL parser throw, which ended it), then completes the login', async () => {
    const login = await startPendingLogin();
    const { port } = login;
    const query = login.callback.search;
    for (const bad of ['//?code=x&state=y', `//${query}`, `//evil.example/${query}`, `/\\evil.example/${query}`, `http://localhost:${port}/${query}`, `http://evil.example/${query}`, '*', query,
      '/?state=%zz&code=%', `/?${'a=1&'.repeat(3000)}state=x`]) {
      expect((await get(port, bad)).status, bad).toBe(400);
    }
    await completeLogin(login);
  });

  it('accepts one callback only: a replay, or another code with the right state, sent while the first is redeemed is refused and never redeemed', async () => {
    const login = await startPendingLogin();
    const genuine = `${login.callback.pathname}${login.callback.search}`;
    const other = target(login, (p) => p.set('code', 'another-code'));
    const first = get(login.port, genuine);
    // The provider has the first code's token request: the callback was accepted and is being redeemed.
    for (let round = 0; round < 2_500 && idp.counts.tokenRequests['authorization_code'] === undefined; round++) await sleep(2);
    const replays = await Promise.all([get(login.port, genuine), get(login.port, other)]);
    for (const replay of replays) {
      // 409 while the server is up; once the login is done it is closed (test/unit/loopback-server.test.ts holds the
      // 409 itself without a race).
      if (replay.status === undefined) expect(replay.ended).toBe('ECONNREFUSED');
      else expect(replay.status).toBe(409);
    }
    expect((await first).status).toBe(200);
    const run = await login.run;
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(idp.counts.tokenRequests).toEqual({ authorization_code: 1 });
  });

  it('survives oversize requests (URL, headers, body), garbage bytes and 200 concurrent junk connections, and still completes the login', async () => {
    const login = await startPendingLogin();
    const { port } = login;
    const host = `localhost:${port}`;
    // Node's maxHeaderSize (16 KiB) covers the request line and the headers: 431, the connection closed.
    expect((await get(port, `/?state=${'a'.repeat(100_000)}`)).status).toBe(431);
    expect((await rawRequest(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Junk: ${'b'.repeat(20_000)}\r\n\r\n`)).status).toBe(431);
    expect((await rawRequest(port, `GET / HTTP/1.1\r\nHost: ${host}\r\n${'X-A: 1234567890\r\n'.repeat(3_000)}\r\n`)).status).toBe(431);
    // A body is never read: the refusal closes the connection (the client may see a reset while still sending).
    const body = Buffer.alloc(8 * 1024 * 1024, 0x61);
    for (const [method, path] of [['POST', '/'], ['GET', target(login, (p) => p.set('state', 'forged'))], ['PUT', `${login.callback.pathname}${login.callback.search}`]] as const) {
      const answer = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n\r\n`, body);
      if (answer.status === undefined) expect(['ECONNRESET', 'EPIPE'], `${method} ${path}`).toContain(answer.ended);
      else expect([400, 405], `${method} ${path}`).toContain(answer.status);
    }
    const chunked = await rawRequest(port, `POST / HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n${'zz\r\n'.repeat(10)}`);
    expect([400, 405, undefined]).toContain(chunked.status);
    // Not HTTP at all, a TLS hello on the plain-HTTP port, a request line without a version.
    for (const junk of [Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10]), Buffer.from('16030100a5010000a10303', 'hex'), Buffer.from('GET /\r\n\r\n')]) {
      const answer = await rawRequest(port, junk);
      expect([400, undefined]).toContain(answer.status);
    }
    // 200 connections held open at once: silent, half a request line, half the headers, garbage.
    const junk: Socket[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        const kind = i % 4;
        if (kind === 1) socket.write('GET /?state=');
        else if (kind === 2) socket.write(`GET ${login.callback.pathname}?state=forged HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `);
        else if (kind === 3) socket.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
        junk.push(socket);
      }
      await sleep(200);
      await completeLogin(login);
    } finally {
      for (const socket of junk) socket.destroy();
    }
  });
});

/** get-token against the test provider with the fake browser (which completes the login), caching in dir. */
function loginArgs(dir: string, extra: string[] = []): string[] {
  return ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, `--token-cache-dir=${dir}`, '--listen-address=127.0.0.1:0', `--browser-command=${FAKE_BROWSER}`, ...extra];
}

/** The entry file of loginArgs(dir). */
function entryPath(dir: string): { key: string; path: string } {
  const config = parseGetTokenFlags({ 'oidc-issuer-url': idp.issuer, 'oidc-client-id': idp.clientId, 'token-cache-dir': dir }, {});
  const key = cacheKey(config.provider);
  return { key, path: join(dir, key) };
}

/** An unsigned ID token that the cache would serve (it only decodes exp): the bait of the "never served" tests. */
function plantedToken(label: string): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: idp.issuer, aud: idp.clientId, sub: label, exp: Math.floor(Date.now() / 1000) + 3600 })}.${part('sig')}`;
}

/** Contents and mode of every file under dir, to show that nothing was written there. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    const stats = lstatSync(path);
    files[name] = stats.isFile() ? `${(stats.mode & 0o777).toString(8)} ${stats.mtimeMs} ${readFileSync(path, 'utf8')}` : `${(stats.mode & 0o777).toString(8)} ${stats.isDirectory() ? 'dir' : 'other'}`;
  }
  return files;
}

describe('the token cache, with hostile files in it', () => {
  it('never serves an entry of the wrong shape (hit path and full CLI): a miss, replaced by a login; the same token in the right shape is served', async () => {
    const dir = join(temp.path, 'cache');
    const { key, path } = entryPath(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const entry = (token: string): Record<string, unknown> => ({ format: 'kubectl-oidc-login/v1', key, issuer: idp.issuer, client_id: idp.clientId, scopes: [], use_access_token: false, saved_at: new Date().toISOString(), id_token: token });
    const shapes: Array<[string, (token: string) => string]> = [
      ['scopes not a list', (token) => JSON.stringify({ ...entry(token), scopes: 'email' })],
      ['another key', (token) => JSON.stringify({ ...entry(token), key: '0'.repeat(32) })],
      ['another client', (token) => JSON.stringify({ ...entry(token), client_id: 'someone-else' })],
      ['an unknown format', (token) => JSON.stringify({ ...entry(token), format: 'kubectl-oidc-login/v2' })],
      ['the entry in a list', (token) => JSON.stringify([entry(token)])],
      ['a refresh token that is a number', (token) => JSON.stringify({ ...entry(token), refresh_token: 5 })],
      ['a byte-order mark', (token) => `\ufeff${JSON.stringify(entry(token))}`],
      ['cut short', (token) => JSON.stringify(entry(token)).slice(0, -1)],
    ];
    for (const [name, text] of shapes) {
      const bait = plantedToken(name);
      writeFileSync(path, text(bait), { mode: 0o600 });
      idp.resetCounts();
      const run = await runPlugin(loginArgs(dir));
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      expect(parseCredential(run).status.token, name).not.toBe(bait);
      expect(idp.counts.tokenRequests, name).toEqual({ authorization_code: 1 });
      expect(JSON.parse(readFileSync(path, 'utf8')), name).toMatchObject({ format: 'kubectl-oidc-login/v1', key });
    }
    // The control: the same kind of bait in the right shape is served, from the cache alone.
    const bait = plantedToken('control');
    writeFileSync(path, JSON.stringify(entry(bait)), { mode: 0o600 });
    idp.resetCounts();
    const served = await runPlugin(loginArgs(dir));
    expect(parseCredential(served).status.token).toBe(bait);
    expect(idp.counts.requests).toBe(0);
  });

  it('treats a huge entry (a 3 GB sparse file), a symlink to /dev/zero and a FIFO as a miss without reading them, and replaces each by a login', async () => {
    const dir = join(temp.path, 'cache');
    const { path } = entryPath(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cases: Array<[string, () => void, string]> = [
      ['huge', () => {
        writeFileSync(path, '');
        truncateSync(path, 3 * 1024 ** 3);
      }, 'is larger than 1048576 bytes'],
      ['/dev/zero', () => symlinkSync('/dev/zero', path), 'is not a regular file'],
      ['FIFO', () => execFileSync('mkfifo', [path]), 'is not a regular file'],
    ];
    for (const [name, make, problem] of cases) {
      rmSync(path, { force: true });
      make();
      // Reading any of them (as before: readFileSync to the end) takes 18 s and 4 GB, never ends, or blocks forever.
      const run = await runPlugin(loginArgs(dir, ['-v1']), { timeoutMs: 15_000 });
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
      parseCredential(run);
      expect(run.stderr, name).toContain(`ignoring the cache entry: ${path} ${problem}`);
      expect(run.durationMs, name).toBeLessThan(10_000);
      expect(lstatSync(path).isFile(), name).toBe(true);
      expect(statSync(path).size, name).toBeLessThan(64 * 1024);
    }
  });

  it('never writes through a symlink: entry, login marker, lock owner and provider metadata links to files outside are replaced, their targets untouched, at a login and a refresh', async () => {
    const dir = join(temp.path, 'cache');
    const outside = join(temp.path, 'outside');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(outside);
    const { key, path } = entryPath(dir);
    // provider-session.ts names the metadata file so; checked below to be written there.
    const { canonicalJson, fnv1a128Hex } = await import('../../src/core/cache-key.js');
    const providerFile = join(dir, `provider-${fnv1a128Hex(canonicalJson({ issuer: idp.issuer, headers: {} }))}.json`);
    const links: Record<string, string> = { entry: path, marker: `${path}.login`, owner: `${path}.lock.owner`, provider: providerFile };
    for (const name of Object.keys(links)) writeFileSync(join(outside, name), `outside file ${name}: must not be written\n`, { mode: 0o644 });
    const relink = (): void => {
      for (const [name, link] of Object.entries(links)) {
        rmSync(link, { force: true });
        symlinkSync(join(outside, name), link);
      }
    };
    relink();
    const before = snapshot(outside);
    const login = await runPlugin(loginArgs(dir));
    expect(login.code, login.stderr).toBe(0);
    const token = parseCredential(login).status.token;
    expect(snapshot(outside)).toEqual(before);
    // The entry and the provider metadata are regular files now; the marker and the owner file were removed.
    expect(lstatSync(path).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ key, id_token: token });
    expect(lstatSync(providerFile).isFile()).toBe(true);
    expect(existsSync(`${path}.login`) || existsSync(`${path}.lock.owner`)).toBe(false);

    // A refresh that reads the entry through a link (accepted: see token-store.ts) and writes the new one.
    const copy = join(outside, 'entry');
    writeFileSync(copy, readFileSync(path));
    relink();
    const beforeRefresh = snapshot(outside);
    idp.resetCounts();
    const refresh = await runPlugin(loginArgs(dir, ['--force-refresh']));
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(idp.counts.tokenRequests).toEqual({ refresh_token: 1 });
    expect(snapshot(outside)).toEqual(beforeRefresh);
    expect(lstatSync(path).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ key, id_token: parseCredential(refresh).status.token });
  });

  it('replaces a lock that is a symlink to a directory outside (a lock is a directory it makes), and leaves that directory as it was', async () => {
    const dir = join(temp.path, 'cache');
    const outside = join(temp.path, 'outside');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'keep\n');
    // Old enough to look stale, so that the lock library would try to take it over (rmdir, which refuses a link: it retried
    // that until its wait ran out, 4 minutes).
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(outside, old, old);
    const { path } = entryPath(dir);
    symlinkSync(outside, `${path}.lock`);
    const before = snapshot(outside);
    const outsideMtime = statSync(outside).mtimeMs;
    const run = await runPlugin(loginArgs(dir), { timeoutMs: 20_000 });
    expect(run.code, run.stderr).toBe(0);
    parseCredential(run);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(snapshot(outside)).toEqual(before);
    expect(statSync(outside).mtimeMs).toBe(outsideMtime);
  });

  it('keeps working with a cache directory that is a symlink (a symlinked ~/.kube/cache): entries go to its target, made private, and are served', async () => {
    const real = join(temp.path, 'real-cache');
    mkdirSync(real, { mode: 0o755 });
    chmodSync(real, 0o755);
    const dir = join(temp.path, 'cache');
    symlinkSync(real, dir);
    const first = await runPlugin(loginArgs(dir));
    expect(first.code, first.stderr).toBe(0);
    expect(lstatSync(dir).isSymbolicLink()).toBe(true);
    expect(statSync(real).mode & 0o777).toBe(0o700);
    expect(readdirSync(real)).toContain(entryPath(dir).key);
    idp.resetCounts();
    const second = await runPlugin(loginArgs(dir));
    expect(parseCredential(second).status.token).toBe(parseCredential(first).status.token);
    expect(idp.counts.requests).toBe(0);
  });

  it('clean removes links in the cache directory, never what they point to', async () => {
    const dir = join(temp.path, 'cache');
    const outside = join(temp.path, 'outside');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(join(outside, 'lock-target'), { recursive: true });
    writeFileSync(join(outside, 'lock-target', 'keep'), 'keep\n');
    writeFileSync(join(outside, 'entry'), 'not an entry\n');
    const key = 'ab'.repeat(16);
    symlinkSync(join(outside, 'entry'), join(dir, key));
    symlinkSync(join(outside, 'lock-target'), join(dir, `${key}.lock`));
    symlinkSync(join(outside, 'entry'), join(dir, `provider-${key}.json`));
    const before = snapshot(outside);
    const run = await runPlugin(['clean', `--token-cache-dir=${dir}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    expect(snapshot(outside)).toEqual(before);
  });
});

describe('KUBERNETES_EXEC_INFO', () => {
  it('of any malformed shape fails with one error line and a hint before any login, never a crash or a token', async () => {
    const v1 = 'client.authentication.k8s.io/v1';
    const values = [
      'null', '[]', '"text"', '42', 'true', '{', '{"apiVersion":', `{"apiVersion":"${v1}"`, '{}', '{"apiVersion":null}', '{"apiVersion":["client.authentication.k8s.io/v1"]}',
      '{"apiVersion":"client.authentication.k8s.io/v1alpha1"}', `{"apiVersion":"${v1.toUpperCase()}"}`, `{"apiVersion":" ${v1}"}`,
      `{"apiVersion":"${v1}","spec":[]}`, `{"apiVersion":"${v1}","spec":"x"}`, `{"apiVersion":"${v1}","spec":null}`, `{"apiVersion":"${v1}","spec":{"interactive":"true"}}`,
      `{"apiVersion":"${v1}","spec":{"interactive":1}}`, `{"apiVersion":"${v1}","spec":{"cluster":{"config":"x"}}}`, `{"apiVersion":"${v1}","spec":{"cluster":{"config":{"oidc-extra-scope":7}}}}`,
      // An apiVersion only in the prototype is not one: JSON.parse makes __proto__ an own key.
      `{"__proto__":{"apiVersion":"${v1}"}}`,
      // Deeply nested, and large (environment variables are limited to 128 KiB each on Linux).
      `{"apiVersion":"${v1}","spec":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, `{"apiVersion":"x${'y'.repeat(100_000)}"}`,
    ];
    const dir = join(temp.path, 'cache');
    for (const info of values) {
      const run = await runPlugin(loginArgs(dir), { env: { KUBERNETES_EXEC_INFO: info } });
      const label = info.slice(0, 80);
      expect(run.code, label).toBe(1);
      expect(run.stdout, label).toBe('');
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines, label).toHaveLength(2);
      expect(lines[0], label).toMatch(/^error: (invalid KUBERNETES_EXEC_INFO|the cluster extension)/);
      expect(lines[1], label).toMatch(/^hint: /);
    }
    expect(idp.counts.requests).toBe(0);
  });
});

describe('--browser-command and $BROWSER', () => {
  it('are never passed to a shell: metacharacters stay literal, nothing is created, and the warning names the command', async () => {
    const marker = (name: string): string => join(temp.path, `pwned-${name}`);
    const runWith = (index: number, browser: { flag?: string; env?: string }): Promise<PluginRun> =>
      runPlugin(
        ['get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, `--token-cache-dir=${join(temp.path, `cache-${index}`)}`, '--listen-address=127.0.0.1:0',
          '--authentication-timeout-sec=1', ...(browser.flag === undefined ? [] : [`--browser-command=${browser.flag}`])],
        { env: { BROWSER: browser.env, DISPLAY: undefined, WAYLAND_DISPLAY: undefined } },
      );
    const commands = [`/bin/echo;touch ${marker('semicolon')}`, `$(touch ${marker('dollar')})`, `\`touch ${marker('backtick')}\``, `/bin/echo && touch ${marker('and')}`, `touch ${marker('pipe')} | /bin/echo`];
    // $BROWSER is split into words (as xdg-open does), and each word is one argument: /bin/echo prints them as they are.
    const variable = `/bin/echo $(touch ${marker('env-dollar')}) \`touch ${marker('env-backtick')}\` ;touch ${marker('env-semicolon')} %s`;
    // Each run waits 1 s for a login that never comes: all at once.
    const [run, ...runs] = await Promise.all([runWith(commands.length, { env: variable }), ...commands.map((command, index) => runWith(index, { flag: command }))]);
    for (const [index, command] of commands.entries()) {
      expect(runs[index]?.code).toBe(1);
      expect(runs[index]?.stderr).toContain(`warning: could not open the browser (${command}: not found); open the URL above by hand`);
    }
    expect(run?.code).toBe(1);
    const printed = `$(touch ${marker('env-dollar')}) \`touch ${marker('env-backtick')}\` ;touch ${marker('env-semicolon')} ${idp.issuer}/auth?`;
    expect(run?.stderr.split('\n').some((line) => line.startsWith(printed))).toBe(true);
    expect(readdirSync(temp.path).filter((name) => name.startsWith('pwned'))).toEqual([]);
  });
});
