/** Builds the plugin bundles and the test tools once before any test file runs. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, buildTestTools } from './build-tools.js';

export default async function setup(): Promise<void> {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  await buildTestTools();
}
