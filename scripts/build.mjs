// Builds the shipped executable as two CommonJS bundles (CJS starts ~5 ms faster than ESM on Node 20):
//   dist/kubectl-oidc_login.cjs  the cache-hit path only (node:fs, node:util, the core logic)
//   dist/cli.cjs                 the full CLI, loaded by the first one on a cache miss
//   dist/undici.cjs              undici, loaded by the CLI only for a private CA, insecure TLS or a proxy
//                                (inlined, its 1 MB would cost every cache miss ~10 ms of parsing)
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

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
  outfile: join(dist, 'kubectl-oidc_login.cjs'),
  external: ['./cli.cjs'],
  minify: true,
});

await build({
  ...common,
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(dist, 'cli.cjs'),
  // ESM-only dependencies read import.meta.url; give them this file's URL. `open` uses it to find its
  // bundled xdg-open script, copied next to the bundle below (libraries.md §6).
  define: { ...common.define, 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [{ name: 'undici-chunk', setup: (b) => b.onResolve({ filter: /^undici$/ }, () => ({ path: './undici.cjs', external: true })) }],
});

await build({
  ...common,
  stdin: { contents: "module.exports = require('undici');", resolveDir: root, loader: 'js' },
  outfile: join(dist, 'undici.cjs'),
});
copyFileSync(join(root, 'node_modules/open/xdg-open'), join(dist, 'xdg-open'));
chmodSync(join(dist, 'xdg-open'), 0o755);
console.error(`built dist/ (version ${version})`);
