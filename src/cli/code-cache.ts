/**
 * The cache-hit bundle is compiled from V8's code cache (node:vm cachedData): the bytecode of every function a hit
 * runs, saved by the build (scripts/hit-code-cache.mjs) after one real hit, so that a hit compiles nothing. Node 20
 * has no compile cache for modules (module.enableCompileCache is Node 22), so the installed command
 * (cli/launch.ts) compiles the bundle itself, with this wrapper; the build must use the very same one, since V8
 * refuses a cache made for other source text, or by another V8 version or flags (then it simply compiles).
 */
export const HIT_BUNDLE = 'hit.cjs';
export const HIT_CODE_CACHE = 'hit.cache';

/** The bundle's source as one function of Node's CommonJS module parameters. */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}
