/**
 * The executable's entry (bundled to dist/kubectl-oidc_login.cjs, CommonJS, with a #!/usr/bin/env node line:
 * package.json "bin" points at it). It holds only the cache-hit path; the full CLI (commander, openid-client,
 * the lock) is the separate bundle dist/cli.cjs, required only on a miss.
 */
import { writeSync } from 'node:fs';
import { serveFromCache, waitForLockHolder, type MissProbe } from './cache-hit.js';

// The CommonJS require of the bundle; './cli.cjs' is left external by scripts/build.mjs.
declare const require: (id: string) => { main(): Promise<void> };

const argv = process.argv.slice(2);
const probe: MissProbe = {};
let output = serveFromCache(argv, process.env, Date.now(), probe);
// A miss while another process logs in or refreshes: wait for its result here rather than in the full CLI.
if (output === undefined && probe.lockPath !== undefined) output = waitForLockHolder(probe.lockPath, () => serveFromCache(argv, process.env, Date.now()));
if (output !== undefined) {
  // fs.writeSync on fd 1: no stdout stream to create, and the line is out before the process exits. Nothing is
  // left to do: process.exit skips the environment's teardown (about 0.3 ms of every kubectl command).
  writeSync(1, output);
  process.exit(0);
} else {
  void require('./cli.cjs').main();
}
