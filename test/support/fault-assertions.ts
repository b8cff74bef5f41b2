/**
 * What every failure of get-token must look like (issue: provider and process faults): exit code 1, nothing on
 * stdout, exactly one `error:` line, optionally followed by one `hint:` line and nothing after them, no internal
 * error, and stderr lines otherwise only from an allowed list (the login URL, the refresh fallback warning; the
 * fake browser's own lines are left out wherever they land).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { PluginRun } from './plugin.js';

/** Lines get-token may print before its error in these scenarios. */
const USUAL_LINES = [
  /^Please visit the following URL in your browser: \S+$/,
  // A refresh that failed (or whose token was refused) is reported once, then the browser login is tried.
  /^warning: .+; logging in again$/,
];

/**
 * What the test's fake browser (--browser-command) prints, forwarded on the plugin's stderr whenever it arrives, and
 * the plugin's note that it exited 1 (it got the plugin's error page): the browser's doing, not the failure's.
 */
const BROWSER_NOISE = [/^fake-browser: /, /^warning: could not open the browser \(\S*fake-browser\.cjs exited with code 1\); open the URL above by hand$/];

export interface ExpectedFailure {
  /** The whole error line after "error: ", or a pattern for it. */
  error: string | RegExp;
  /** The hint after "hint: " (a pattern, or the text), or null when there must be none; undefined: not checked. */
  hint?: string | RegExp | null;
  /** More lines allowed before the error. */
  alsoAllowed?: RegExp[];
}

/** Asserts the failure shape and returns the error and hint lines. */
export function expectOneLineFailure(run: PluginRun, expected: ExpectedFailure): { error: string; hint: string | undefined } {
  const context = `stderr:\n${run.stderr}`;
  expect(run.code, context).toBe(1);
  expect(run.signal, context).toBeNull();
  expect(run.stdout, context).toBe('');
  const all = run.stderr.split('\n');
  expect(all.at(-1), `stderr must end with a newline\n${context}`).toBe('');
  all.pop();
  const lines = all.filter((line) => !BROWSER_NOISE.some((pattern) => pattern.test(line)));
  const errorIndexes = lines.flatMap((line, index) => (line.startsWith('error: ') ? [index] : []));
  expect(errorIndexes, `exactly one error line\n${context}`).toHaveLength(1);
  const index = errorIndexes[0] ?? -1;
  const error = (lines[index] ?? '').slice('error: '.length);
  const after = lines.slice(index + 1);
  const hint = after[0]?.startsWith('hint: ') ? after[0].slice('hint: '.length) : undefined;
  expect(after.length, `only a hint may follow the error line\n${context}`).toBe(hint === undefined ? 0 : 1);
  expect(error).not.toMatch(/^internal error/);
  if (typeof expected.error === 'string') expect(error, context).toBe(expected.error);
  else expect(error, context).toMatch(expected.error);
  if (expected.hint === null) expect(hint, context).toBeUndefined();
  else if (typeof expected.hint === 'string') expect(hint, context).toBe(expected.hint);
  else if (expected.hint instanceof RegExp) expect(hint, context).toMatch(expected.hint);
  const allowed = [...USUAL_LINES, ...(expected.alsoAllowed ?? [])];
  for (const line of lines.slice(0, index)) expect(allowed.some((pattern) => pattern.test(line)), `unexpected stderr line ${JSON.stringify(line)}\n${context}`).toBe(true);
  return { error, hint };
}

/** The token cache entry files (32 hex digits) of dir; none when dir does not exist. */
export function entryFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => /^[0-9a-f]{32}$/.test(name));
  } catch {
    return [];
  }
}

/** The one entry of dir: its path and exact bytes. */
export function onlyEntry(dir: string): { path: string; bytes: Buffer } {
  const names = entryFiles(dir);
  expect(names, `one cache entry in ${dir}`).toHaveLength(1);
  const path = join(dir, names[0] ?? '');
  return { path, bytes: readFileSync(path) };
}
