/**
 * The executable's entry (bundled to dist/kubectl-oidc_login.cjs). It holds only the cache-hit path;
 * the full CLI (commander, openid-client, the lock) is a separate bundle loaded on a miss.
 */
import { writeSync } from 'node:fs';
import { serveFromCache } from './cache-hit.js';

/** The full CLI bundle, next to this file once built (see scripts/build.mjs). */
const FULL_CLI = './cli.cjs';

const output = serveFromCache(process.argv.slice(2), process.env, Date.now());
if (output !== undefined) {
  // fs.writeSync on fd 1: no stdout stream to create, and the line is out before the process exits.
  writeSync(1, output);
} else {
  type FullCli = { main(): Promise<void> };
  const load = async (): Promise<FullCli> => {
    const loaded = (await import(FULL_CLI)) as FullCli | { default: FullCli };
    return 'main' in loaded ? loaded : loaded.default;
  };
  load().then(
    (cli) => cli.main(),
    (error: unknown) => {
      process.stderr.write(`error: cannot load ${FULL_CLI}: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
