/**
 * `npm run bench` runs end to end: the smallest quick run (one start-up round, one kubectl round, 4 parallel
 * invocations instead of 32) into a temporary directory. Checks the shape of the results, never the timings.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/build-tools.js';
import { makeTempDir } from '../support/plugin.js';

const run = promisify(execFile);
const temp = makeTempDir('oidc-login-bench-smoke-');
afterEach(() => temp.remove());

it('the bench runs end to end in quick mode and writes quick.json and quick.svg', async () => {
  const args = ['bench/bench.ts', '--quick', '--rounds', '1', '--kubectl-rounds', '1', '--logins', '2', '--refreshes', '2', '--parallel', '4', '--out', temp.path];
  const { stdout } = await run(join(REPO_ROOT, 'node_modules/.bin/tsx'), args, { cwd: REPO_ROOT, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
  expect(stdout).toContain('targets (reported, never failing the run):');

  const results = JSON.parse(readFileSync(join(temp.path, 'quick.json'), 'utf8')) as Record<string, any>;
  expect(results.mode).toBe('quick');
  expect(results.main.map((row: { id: string }) => row.id)).toContain('bin');
  expect(results.refresh.requestsPerRefresh).toEqual([1, 1]);
  expect(results.login.phases.map((phase: { id: string }) => phase.id)).toEqual(expect.arrayContaining(['startup', 'discovery', 'authorize', 'token', 'verification']));
  expect(results.parallel.authorizations).toEqual([1]);
  expect(results.parallel.distinctTokens).toEqual([1]);
  if ('variants' in results.kubectl) {
    expect(results.kubectl.variants.map((v: { id: string }) => v.id)).toEqual(['static', 'plugin', 'kubectl-plugin']);
    expect(results.kubectl.providerRequestsDuringTiming).toBe(0);
  } else expect(results.kubectl.skipped).toBeDefined();
  expect(results.targets.length).toBeGreaterThan(5);

  const svg = readFileSync(join(temp.path, 'quick.svg'), 'utf8');
  expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  expect(svg).toContain('Cache-hit start-up');
});
