/**
 * The cache-hit bundle (dist/hit.cjs, CommonJS), run by the installed command dist/kubectl-oidc_login.cjs
 * (cli/launch.ts) from V8's code cache. It holds only the cache-hit path; the full CLI (commander,
 * openid-client) is the separate bundle dist/cli.cjs, and the entry lock (proper-lockfile) dist/lock.cjs, each
 * required only on a miss.
 */
import { writeSync } from 'node:fs';
import { serveFromCache, type MissProbe } from './cache-hit.js';
import { lockThenLoadCli } from './lock-first.js';

type CacheLock = typeof import('../system/cache-lock.js');
// The CommonJS require of the bundle; './cli.cjs' and './lock.cjs' are left external by scripts/build.mjs.
declare const require: ((id: './cli.cjs') => { main(): Promise<void> }) & ((id: './lock.cjs') => CacheLock);

const argv = process.argv.slice(2);
const probe: MissProbe = {};
const output = serveFromCache(argv, process.env, Date.now(), probe);
if (output !== undefined) print(output);
else if (probe.entry === undefined) loadCli();
// The lock module is its own bundle, shared with the CLI (cache-lock.ts): required only now.
else void lockThenLoadCli({ argv, entry: probe.entry, lock: require('./lock.cjs'), print, loadCli });

function print(line: string): never {
  // fs.writeSync on fd 1: no stdout stream to create, and the line is out before the process exits. Nothing is
  // left to do: process.exit skips the environment's teardown (about 0.3 ms of every kubectl command).
  writeSync(1, line);
  process.exit(0);
}

function loadCli(): void {
  void require('./cli.cjs').main();
}
