/**
 * The installed command (bundled to dist/kubectl-oidc_login.cjs with a #!/usr/bin/env node line; package.json
 * "bin" points at it). It runs the cache-hit bundle dist/hit.cjs (cli/entry.ts) from V8's code cache
 * dist/hit.cache (cli/code-cache.ts): a hit then compiles nothing, about 0.4 ms less on every kubectl command
 * (npm run bench). Without a usable cache (none built, another Node version) V8 compiles the bundle as usual.
 */
import { readFileSync } from 'node:fs';
import { Script } from 'node:vm';
import { HIT_BUNDLE, HIT_CODE_CACHE, wrapCommonJs } from './code-cache.js';

declare const __dirname: string;
declare const require: NodeJS.Require;
declare const module: NodeJS.Module;
declare const exports: unknown;

type CommonJsModule = (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;

// '/' joins on Windows too; node:path would be one more module to load.
const bundle = `${__dirname}/${HIT_BUNDLE}`;
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(`${__dirname}/${HIT_CODE_CACHE}`);
} catch {
  // No cache: compile as usual.
}
// The bundle's require is this file's: './cli.cjs' and './lock.cjs' resolve next to it.
const run = new Script(wrapCommonJs(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData }).runInThisContext() as CommonJsModule;
run(exports, require, module, bundle, __dirname);
