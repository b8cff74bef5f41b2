/**
 * `fake-browser <url>`: a browser command for e2e tests (`--browser-command`).
 *
 * Opens the LAST argument with the fake browser. Environment:
 * - FAKE_BROWSER_LOGIN / FAKE_BROWSER_PASSWORD (default alice / alice-pw)
 * - FAKE_BROWSER_TIMEOUT_MS (default 10000)
 * - FAKE_BROWSER_CA: path of a PEM CA bundle to trust for https; FAKE_BROWSER_INSECURE=1 skips verification
 * - FAKE_BROWSER_PRESS: press the page button of that name when there is one (e.g. abort: deny a device login)
 * - FAKE_BROWSER_LOG: append one JSON line `{url, status, finalUrl}` (or `{url, error}`) per run
 * - FAKE_BROWSER_FORGE_STATE=1: first send the loopback redirect_uri a forged callback (code=forged,
 *   state=forged), as a hostile page would, and log its status as `forgedStatus`
 *
 * Exit 0 when the final page has status 200, else 1. Never writes to stdout.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { browse } from './fake-browser.js';

function log(entry: Record<string, unknown>): void {
  const file = process.env.FAKE_BROWSER_LOG;
  if (file) appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

async function main(): Promise<number> {
  const url = process.argv.slice(2).at(-1);
  if (!url) {
    process.stderr.write('fake-browser: usage: fake-browser <url>\n');
    return 2;
  }
  const timeout = Number(process.env.FAKE_BROWSER_TIMEOUT_MS);
  const caFile = process.env.FAKE_BROWSER_CA;
  let forgedStatus: number | undefined;
  try {
    if (process.env.FAKE_BROWSER_FORGE_STATE === '1') forgedStatus = await sendForgedCallback(url);
    const result = await browse(url, {
      login: process.env.FAKE_BROWSER_LOGIN ?? 'alice',
      password: process.env.FAKE_BROWSER_PASSWORD ?? 'alice-pw',
      ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}),
      ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}),
      ...(process.env.FAKE_BROWSER_INSECURE === '1' ? { insecure: true } : {}),
      ...(process.env.FAKE_BROWSER_PRESS ? { press: process.env.FAKE_BROWSER_PRESS } : {}),
    });
    log({ url, status: result.status, finalUrl: result.finalUrl, forgedStatus });
    process.stderr.write(
      `fake-browser: ${result.status} ${result.finalUrl} after ${result.hops.length} requests\n`,
    );
    return result.status === 200 ? 0 : 1;
  } catch (err) {
    log({ url, error: (err as Error).message });
    process.stderr.write(`fake-browser: ${(err as Error).message}\n`);
    return 1;
  }
}

/** GETs <redirect_uri>?code=forged&state=forged and returns the HTTP status. */
async function sendForgedCallback(authorizationUrl: string): Promise<number> {
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri');
  if (!redirectUri) throw new Error('the authorization URL has no redirect_uri');
  const forged = new URL(redirectUri);
  forged.searchParams.set('code', 'forged');
  forged.searchParams.set('state', 'forged');
  const response = await fetch(forged, { redirect: 'manual' });
  await response.arrayBuffer();
  return response.status;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fake-browser: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
