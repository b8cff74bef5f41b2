// Builds the shipped executable as CommonJS bundles (CJS starts ~5 ms faster than ESM on Node 20):
//   dist/kubectl-oidc_login.cjs  the installed command (package.json "bin", with a #!/usr/bin/env node line): a few
//                                lines that run dist/hit.cjs from its V8 code cache dist/hit.cache (src/cli/launch.ts)
//   dist/hit.cjs                 the cache-hit path only (node:fs and the core logic); dist/hit.cache is written by
//                                scripts/hit-code-cache.mjs after one real hit
//   dist/cli.cjs                 the full CLI, loaded by the first one on a cache miss
//   dist/lock.cjs                the entry lock (src/system/cache-lock.ts, proper-lockfile), shared by the two:
//                                on a miss the entry takes the lock before it loads the CLI, and hands it over
//   dist/undici.cjs              undici, loaded by the CLI only for a private CA, insecure TLS or a proxy
//                                (inlined, its 1 MB would cost every cache miss ~10 ms of parsing)
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const published = join(root, 'dist');
// Built in a fresh directory, then moved into dist/ file by file (publish, below): a build never leaves dist/
// missing or half-written for a plugin process or test that runs meanwhile (another build, npm test in parallel).
const dist = mkdtempSync(join(root, '.dist-build-'));
process.on('exit', () => rmSync(dist, { recursive: true, force: true }));

/**
 * The keyring's native binding (src/system/keyring-store.ts, --token-cache-storage=keyring only) stays external: Node
 * resolves it from node_modules when it is first needed, with its per-platform package and .node binary. The source's
 * `import('@napi-rs/keyring')` becomes a lazily evaluated `require`: an import() from CommonJS makes Node 20 set up its
 * ESM loader first, ≈ 25 ms of every keyring cache hit (measured), against ≈ 3 ms for the require itself.
 */
const keyringRequire = {
  name: 'keyring-require',
  setup: (b) => {
    b.onResolve({ filter: /^@napi-rs\/keyring$/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'keyring-require' } : { path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'keyring-require' }, () => ({ contents: "module.exports = require('@napi-rs/keyring');", loader: 'js' }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
  define: { __PLUGIN_VERSION__: JSON.stringify(version) },
};

await build({
  ...common,
  entryPoints: [join(root, 'src/cli/entry.ts')],
  outfile: join(dist, 'hit.cjs'),
  external: ['./cli.cjs', './lock.cjs'],
  minify: true,
});
await build({
  ...common,
  entryPoints: [join(root, 'src/cli/launch.ts')],
  outfile: join(dist, 'kubectl-oidc_login.cjs'),
  minify: true,
  // npm links the command names of package.json "bin" to this file; `env` is the only portable way to find node.
  banner: { js: '#!/usr/bin/env node' },
});
chmodSync(join(dist, 'kubectl-oidc_login.cjs'), 0o755);

await build({
  ...common,
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(dist, 'cli.cjs'),
  external: ['@napi-rs/keyring'],
  // ESM-only dependencies read import.meta.url; give them this file's URL. `open` uses it to find its
  // bundled xdg-open script, copied next to the bundle below (libraries.md §6).
  define: { ...common.define, 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    { name: 'undici-chunk', setup: (b) => b.onResolve({ filter: /^undici$/ }, () => ({ path: './undici.cjs', external: true })) },
    // One module instance for the entry and the CLI (Node's module cache), so that the CLI finds the lock the entry took.
    { name: 'lock-chunk', setup: (b) => b.onResolve({ filter: /\/cache-lock\.js$/ }, () => ({ path: './lock.cjs', external: true })) },
    keyringRequire,
  ],
});

await build({ ...common, entryPoints: [join(root, 'src/system/cache-lock.ts')], outfile: join(dist, 'lock.cjs'), minify: true });

await build({
  ...common,
  stdin: { contents: "module.exports = require('undici');", resolveDir: root, loader: 'js' },
  outfile: join(dist, 'undici.cjs'),
});
copyFileSync(join(root, 'node_modules/open/xdg-open'), join(dist, 'xdg-open'));
chmodSync(join(dist, 'xdg-open'), 0o755);
// The programmatic API for Node tools (`import { getToken } from 'kubectl-oidc-login'`, src/api): one CommonJS
// bundle, dist/api/index.cjs, sharing dist/undici.cjs and dist/xdg-open with the CLI; scripts/build-api.mjs then
// writes its ESM entry dist/api/index.mjs and the declarations (package.json "exports").
await build({
  ...common,
  entryPoints: [join(root, 'src/api/index.ts')],
  outfile: join(dist, 'api', 'index.cjs'),
  external: ['@napi-rs/keyring'],
  // As for the CLI; `open` finds xdg-open next to the file named here, so name one in dist/.
  define: { ...common.define, 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, '..', 'cli.cjs')).href;" },
  plugins: [{ name: 'undici-chunk', setup: (b) => b.onResolve({ filter: /^undici$/ }, () => ({ path: '../undici.cjs', external: true })) }, keyringRequire],
});
await (await import('./build-api.mjs')).finishApi({ root, apiDist: join(dist, 'api') });
// Last: the warm-up hit needs the bundles above.
await (await import('./hit-code-cache.mjs')).writeHitCodeCache({ root, dist });
publish(dist, published);
console.error(`built dist/ (version ${version})`);

/** Moves every file of from/ into to/ by rename (each replaced atomically), then removes what to/ has beyond it. */
function publish(from, to) {
  const built = new Set();
  const move = (relative) => {
    for (const entry of readdirSync(join(from, relative), { withFileTypes: true })) {
      const path = join(relative, entry.name);
      if (entry.isDirectory()) {
        mkdirSync(join(to, path), { recursive: true });
        move(path);
      } else {
        built.add(path);
        renameSync(join(from, path), join(to, path));
      }
    }
  };
  mkdirSync(to, { recursive: true });
  move('');
  const prune = (relative) => {
    for (const entry of readdirSync(join(to, relative), { withFileTypes: true })) {
      const path = join(relative, entry.name);
      if (entry.isDirectory()) prune(path);
      else if (!built.has(path)) rmSync(join(to, path), { force: true });
    }
  };
  prune('');
  rmSync(from, { recursive: true, force: true });
}
