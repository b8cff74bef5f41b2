/**
 * Builds executables used by e2e tests and demos into `<repo>/.test-build/`.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (this file is `<root>/test/support/build-tools.ts`). */
export const REPO_ROOT = resolve(here, '..', '..');
export const TEST_BUILD_DIR = join(REPO_ROOT, '.test-build');

export interface TestTools {
  /** Absolute path of an executable fake browser (`#!/usr/bin/env node`, CJS), for `--browser-command`. */
  fakeBrowser: string;
}

/** Bundles `fake-browser-cli.ts` into `.test-build/fake-browser.cjs` (mode 0755). */
export async function buildTestTools(): Promise<TestTools> {
  await mkdir(TEST_BUILD_DIR, { recursive: true });
  const fakeBrowser = join(TEST_BUILD_DIR, 'fake-browser.cjs');
  await build({
    entryPoints: [join(here, 'fake-browser-cli.ts')],
    outfile: fakeBrowser,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'silent',
  });
  await chmod(fakeBrowser, 0o755);
  return { fakeBrowser };
}
