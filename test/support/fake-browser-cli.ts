/**
 * `fake-browser <url>`: a browser command for e2e tests (`--browser-command`).
 *
 * Opens the LAST argument with the fake browser. Environment:
 * - FAKE_BROWSER_LOGIN / FAKE_BROWSER_PASSWORD (default alice / alice-pw)
 * - FAKE_BROWSER_TIMEOUT_MS (default 10000)
 * - FAKE_BROWSER_CA: path of a PEM CA bundle to trust for https; FAKE_BROWSER_INSECURE=1 skips verification
 * - FAKE_BROWSER_LOG: append one JSON line `{url, status, finalUrl}` (or `{url, error}`) per run
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
  try {
    const result = await browse(url, {
      login: process.env.FAKE_BROWSER_LOGIN ?? 'alice',
      password: process.env.FAKE_BROWSER_PASSWORD ?? 'alice-pw',
      ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}),
      ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}),
      ...(process.env.FAKE_BROWSER_INSECURE === '1' ? { insecure: true } : {}),
    });
    log({ url, status: result.status, finalUrl: result.finalUrl });
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

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fake-browser: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
