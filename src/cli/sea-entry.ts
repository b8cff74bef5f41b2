/**
 * The main script of the standalone executable (scripts/build-sea.mjs: a Node.js single executable
 * application). A SEA runs one CommonJS script whose `require` reaches only Node's built-in modules, so the
 * split of dist/ (hot entry, then ./cli.cjs from disk) is rebuilt inside the executable: this script holds
 * only the cache-hit path and is compiled from the SEA's V8 code cache; the full CLI (a second bundle, with
 * undici and every library inlined) is an asset of the SEA, compiled only on a cache miss. A miss takes the entry's
 * lock first, as dist/'s entry does (cli/lock-first.ts).
 */
import { writeSync } from 'node:fs';
import { serveFromCache, type MissProbe } from './cache-hit.js';
import { lockThenLoadCli } from './lock-first.js';

/** The SEA's require: built-in modules only, which is all the CLI bundle asks for. */
declare const require: NodeJS.Require;
declare const __filename: string;
declare const __dirname: string;

/** The asset key of the CLI bundle in the SEA (scripts/build-sea.mjs). */
const CLI_ASSET = 'cli.cjs';

const argv = process.argv.slice(2);
const probe: MissProbe = {};
const output = serveFromCache(argv, process.env, Date.now(), probe);
if (output !== undefined) print(output);
else if (probe.entry === undefined) loadCli();
else {
  const entry = probe.entry;
  // Bundled into this script, but initialised (proper-lockfile and all) only here, on a miss; the CLI asset's own
  // copy of the module finds the lock handed over (cache-lock.ts keeps them on globalThis).
  void import('../system/cache-lock.js').then((lock) => lockThenLoadCli({ argv, entry, lock, print, loadCli }));
}

function print(line: string): never {
  writeSync(1, line);
  process.exit(0);
}

function loadCli(): void {
  const { getAsset } = require('node:sea') as typeof import('node:sea');
  const { compileFunction } = require('node:vm') as typeof import('node:vm');
  const cli = { exports: {} as { main(): Promise<void> } };
  const wrapper = compileFunction(getAsset(CLI_ASSET, 'utf8'), ['exports', 'require', 'module', '__filename', '__dirname'], { filename: `${__filename}/${CLI_ASSET}` });
  wrapper(cli.exports, require, cli, __filename, __dirname);
  void cli.exports.main();
}
