// Builds the standalone executable: a copy of this machine's `node` with the whole plugin injected as a
// single executable application (SEA, https://nodejs.org/api/single-executable-applications.html), so the
// target machine needs no Node.js. Linux only (x64 tested; arm64 should work the same way).
//
//   node scripts/build-sea.mjs             release/<os>-<arch>/kubectl-oidc_login (npm run build:sea)
//   node scripts/build-sea.mjs --release   also release/kubectl-oidc_login-<os>-<arch>.tar.gz (the binary
//                                          and LICENSE) and release/oidc-login.yaml, the krew manifest
//                                          (npm run build:release; --uri-template … and --homepage … are
//                                          passed on to scripts/krew-manifest.mjs)
//   --out-dir DIR                          instead of release/
//
// How (Node 20.20, verified here):
// - A SEA runs ONE CommonJS script, and its `require` reaches only Node's built-in modules: dist/'s three
//   files cannot be used as they are, but their split is kept: the main script is src/cli/sea-entry.ts (the
//   cache-hit path and, initialised only on a miss, the entry lock: 40 KB, with `useCodeCache`: V8's code cache is in the blob); the full CLI (0.55 MB) and
//   undici (0.73 MB) are SEA assets, compiled with vm.compileFunction only on a cache miss and only for a CA
//   flag, insecure TLS or a proxy respectively. Measured on a cache hit: one 1.3 MB script with a code cache
//   costs ~5 ms more per start than the 20 KB one, and ~20 ms more without a code cache. import() of a
//   module cannot run there (no loader), so the few `import('node:…')` of built-ins left in the sources are
//   bundled as `require` shims below, and `import('undici')` as the evaluation of its asset.
// - `disableExperimentalSEAWarning`: kubectl shows the plugin's stderr to the user; no warning line.
// - The blob is injected with postject (devDependency, pure WebAssembly: no network, no native build) into
//   a copy of process.execPath, whose NODE_SEA_FUSE sentinel it flips.
// - The copy's symbol tables and debug sections are stripped first when `strip` (binutils) is on PATH:
//   98.9 → 86.3 MB for Node 20.20.2 linux-x64; the dynamic symbols and the code are unchanged.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const OS = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const ARCH = { x64: 'amd64', arm64: 'arm64' };

// --release, --out-dir DIR (default release/); anything else is passed on to scripts/krew-manifest.mjs.
const args = process.argv.slice(2);
const release = args.includes('--release');
const outDirAt = args.indexOf('--out-dir');
const outDir = outDirAt >= 0 ? args[outDirAt + 1] : undefined;
if (outDirAt >= 0 && !outDir) throw new Error('build-sea: --out-dir needs a directory');
const passOn = args.filter((arg, index) => arg !== '--release' && index !== outDirAt && index !== outDirAt + 1);

if (process.platform !== 'linux' || ARCH[process.arch] === undefined) {
  console.error(`build-sea: only Linux x64/arm64 is supported (this is ${process.platform}-${process.arch}); macOS and Windows need code signing steps not written here`);
  process.exit(1);
}
const target = `${OS[process.platform]}-${ARCH[process.arch]}`;
const started = performance.now();
const out = outDir === undefined ? join(root, 'release') : resolve(outDir);
const work = join(out, 'sea');
const binDir = join(out, target);
const binary = join(binDir, 'kubectl-oidc_login');
rmSync(work, { recursive: true, force: true });
rmSync(binDir, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(binDir, { recursive: true });

// 1. Three CommonJS bundles, as in dist/: the main script (the cache-hit path), the full CLI and undici;
//    the last two are assets of the SEA, each compiled only when it is needed.
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/** Evaluates a CommonJS asset of the SEA with the SEA's (built-in only) require; as src/cli/sea-entry.ts does. */
const assetModule = (key) =>
  `const m = { exports: {} };\n` +
  `require('node:vm').compileFunction(require('node:sea').getAsset(${JSON.stringify(key)}, 'utf8'), ['exports', 'require', 'module', '__filename', '__dirname'], { filename: __filename + '/' + ${JSON.stringify(key)} })(m.exports, require, m, __filename, __dirname);\n` +
  `module.exports = m.exports;\n`;
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
  // Whitespace and syntax only: error classes keep their names (some libraries print constructor.name).
  minifyWhitespace: true,
  minifySyntax: true,
  define: { __PLUGIN_VERSION__: JSON.stringify(version) },
  plugins: [
    {
      // Assets are compiled with vm.compileFunction, where import() has no loader, and the main script
      // has a code cache, which rules import() out too: `import('node:tls')` becomes a lazily evaluated
      // `require('node:tls')`, and `import('undici')` the evaluation of the undici asset.
      name: 'sea-imports',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (resolved) => {
          if (resolved.kind !== 'dynamic-import') return undefined;
          if (builtins.has(resolved.path)) return { path: resolved.path, namespace: 'builtin' };
          if (resolved.path === 'undici') return { path: 'undici.cjs', namespace: 'sea-asset' };
          // The keyring's native binding cannot be loaded by a SEA (no node_modules, no .node files): the import
          // fails with this message, and get-token falls back to disk with a warning (src/system/keyring-store.ts).
          if (resolved.path === '@napi-rs/keyring') return { path: resolved.path, namespace: 'sea-unavailable' };
          return undefined;
        });
        b.onLoad({ filter: /.*/, namespace: 'builtin' }, (loaded) => ({ contents: `module.exports = require(${JSON.stringify(loaded.path)});`, loader: 'js' }));
        b.onLoad({ filter: /.*/, namespace: 'sea-asset' }, (loaded) => ({ contents: assetModule(loaded.path), loader: 'js' }));
        b.onLoad({ filter: /.*/, namespace: 'sea-unavailable' }, () => ({
          contents: `throw new Error(${JSON.stringify('the standalone executable cannot load native modules; install the npm package kubectl-oidc-login to use the keyring')});`,
          loader: 'js',
        }));
      },
    },
  ],
};
const main = join(work, 'main.cjs');
await build({ ...common, entryPoints: [join(root, 'src/cli/sea-entry.ts')], outfile: main, minify: true });
const cli = join(work, 'cli.cjs');
await build({
  ...common,
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: cli,
  define: { ...common.define, 'import.meta.url': '__bundleUrl' },
  // ESM-only dependencies read import.meta.url (as in scripts/build.mjs). In a SEA __filename is the
  // executable, so `open` finds no xdg-open next to it and uses the system's.
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const undici = join(work, 'undici.cjs');
await build({ ...common, stdin: { contents: "module.exports = require('undici');", resolveDir: root, loader: 'js' }, outfile: undici });
for (const bundle of [main, cli, undici]) {
  if (/\bimport\(\s*["'`]/.test(readFileSync(bundle, 'utf8'))) throw new Error(`build-sea: ${bundle} still has an import() of a module, which the SEA cannot run`);
}

// 2. The SEA blob: the main script with its code cache, and the assets.
const blob = join(work, 'sea-prep.blob');
const config = join(work, 'sea-config.json');
const seaConfig = { main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets: { 'cli.cjs': cli, 'undici.cjs': undici } };
writeFileSync(config, `${JSON.stringify(seaConfig, null, 2)}\n`);
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });

// 3. A copy of node, stripped, with the blob injected.
copyFileSync(process.execPath, binary);
chmodSync(binary, 0o755);
const strip = spawnSync('strip', ['--strip-all', binary], { encoding: 'utf8' });
const stripped = strip.status === 0;
if (!stripped) console.error(`build-sea: not stripped (${strip.error?.message ?? strip.stderr.trim()})`);
const postject = spawnSync(process.execPath, [join(root, 'node_modules/postject/dist/cli.js'), binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE], { encoding: 'utf8' });
if (postject.status !== 0) {
  // LIEF's harmless "Can't find string offset for section name '.note…'" warnings are only shown on failure.
  process.stderr.write(postject.stdout + postject.stderr);
  throw new Error(`build-sea: postject failed (exit ${postject.status})`);
}
const smoke = spawnSync(binary, ['version'], { encoding: 'utf8' });
if (smoke.status !== 0 || !smoke.stderr.includes(version)) throw new Error(`build-sea: ${binary} version failed: ${smoke.stderr}${smoke.error?.message ?? ''}`);

const shown = (path) => (path.startsWith(`${root}/`) ? relative(root, path) : path);
const mb = (path) => { const size = statSync(path).size; return size < 1e6 ? `${Math.round(size / 1e3)} KB` : `${(size / 1e6).toFixed(1)} MB`; };
console.error(`built ${shown(binary)} (${mb(binary)}${stripped ? ', stripped' : ''}; main ${mb(main)}, CLI ${mb(cli)}, undici ${mb(undici)}, blob ${mb(blob)}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// 4. The release archive and the krew manifest.
if (release) {
  const archiveStarted = performance.now();
  const archive = join(out, `kubectl-oidc_login-${target}.tar.gz`);
  const stage = join(work, 'archive');
  mkdirSync(stage, { recursive: true });
  copyFileSync(binary, join(stage, 'kubectl-oidc_login'));
  copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
  // Reproducible: fixed order, owner and time; gzip without a name or time stamp.
  execFileSync('tar', ['-C', stage, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-I', 'gzip -n', '-cf', archive, 'kubectl-oidc_login', 'LICENSE']);
  rmSync(stage, { recursive: true, force: true });
  console.error(`built ${shown(archive)} (${mb(archive)}) in ${((performance.now() - archiveStarted) / 1000).toFixed(1)} s`);
  const manifest = join(out, 'oidc-login.yaml');
  execFileSync(process.execPath, [join(root, 'scripts/krew-manifest.mjs'), '--version', version, '--archive', `${target}=${archive}`, '--output', manifest, ...passOn], { stdio: 'inherit' });
}
