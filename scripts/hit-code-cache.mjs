// Writes dist/hit.cache, V8's code cache for the cache-hit bundle dist/hit.cjs (src/cli/code-cache.ts): a child
// process compiles the bundle with the wrapper the installed command uses, runs one real cache hit (an entry
// written by the plugin's own code into a temporary directory), and saves the code cache at exit, so that it holds
// every function a hit runs. The child's stdout must be that hit's ExecCredential, or the build fails.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function writeHitCodeCache({ root, dist }) {
  const work = mkdtempSync(join(tmpdir(), 'oidc-login-code-cache-'));
  try {
    const helper = join(work, 'helper.cjs');
    await build({
      stdin: {
        contents: [
          "export { parseGetTokenFlags } from './src/cli/flags.ts';",
          "export { cacheKeyFor } from './src/core/cache-key.ts';",
          "export { writeCacheEntry } from './src/system/token-store.ts';",
          "export { HIT_BUNDLE, HIT_CODE_CACHE, wrapCommonJs } from './src/cli/code-cache.ts';",
        ].join('\n'),
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'warning',
      outfile: helper,
    });
    const child = join(work, 'warm.cjs');
    writeFileSync(child, CHILD);
    const result = spawnSync(process.execPath, [child, helper, dist, join(work, 'cache')], {
      encoding: 'utf8',
      // V8 refuses a cache made under other V8 flags: none here, as when kubectl runs the command.
      env: { ...process.env, NODE_OPTIONS: '', KUBERNETES_EXEC_INFO: '' },
    });
    const credential = (() => {
      try {
        return JSON.parse(result.stdout);
      } catch {
        return undefined;
      }
    })();
    if (result.status !== 0 || credential?.kind !== 'ExecCredential') {
      throw new Error(`hit-code-cache: the warm-up run was not a cache hit (exit ${result.status}): ${result.stdout}${result.stderr}${result.error?.message ?? ''}`);
    }
    return statSync(join(dist, 'hit.cache')).size;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const CHILD = String.raw`
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const [helperPath, dist, cacheDir] = process.argv.slice(2);
const helper = require(helperPath);
const flags = { 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl', 'oidc-extra-scope': ['email,groups'], 'token-cache-dir': cacheDir };
const config = helper.parseGetTokenFlags(flags, {});
const now = Math.floor(Date.now() / 1000);
const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const idToken = [part({ alg: 'RS256', typ: 'JWT' }), part({ iss: 'https://issuer.example.com', aud: 'kubectl', sub: 'warm-up', iat: now, exp: now + 3600 }), 'c2ln'].join('.');
helper.writeCacheEntry(cacheDir, { key: helper.cacheKeyFor(config), issuer: 'https://issuer.example.com', clientId: 'kubectl', scopes: config.provider.extraScopes,
  useAccessToken: false, savedAt: new Date().toISOString(), idToken, accessToken: undefined, refreshToken: 'r' });
const bundle = dist + '/' + helper.HIT_BUNDLE;
const script = new Script(helper.wrapCommonJs(readFileSync(bundle, 'utf8')), { filename: bundle });
// The hit ends with process.exit: save the cache then, with everything the hit compiled.
process.on('exit', () => writeFileSync(dist + '/' + helper.HIT_CODE_CACHE, script.createCachedData()));
process.argv = [process.argv[0], bundle, 'get-token', '--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl', '--oidc-extra-scope=email,groups', '--token-cache-dir=' + cacheDir];
script.runInThisContext()(exports, require, module, bundle, dist);
`;
