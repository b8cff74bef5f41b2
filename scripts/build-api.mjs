// The rest of the programmatic API's build, after scripts/build.mjs has bundled dist/api/index.cjs:
//   dist/api/index.mjs     the ESM entry: re-exports the CommonJS bundle, so that `import` and `require` in
//                          one process share one copy (one OidcLoginError class, one lock bookkeeping)
//   dist/api/index.d.ts    the declarations (package.json "exports" types), re-exporting dist/api/types/api/;
//   dist/api/index.d.cts   the same for `require` (CommonJS declarations: .d.cts files)
//   dist/api/types/        the declarations of src/api/index.ts and of the files they reference, by TypeScript
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

/** @param {{ root: string, apiDist: string }} paths */
export async function finishApi({ root, apiDist }) {
  const cjs = join(apiDist, 'index.cjs');
  const names = Object.keys(createRequire(import.meta.url)(cjs)).filter((name) => name !== 'default').sort();
  writeFileSync(
    join(apiDist, 'index.mjs'),
    "// The ESM entry of kubectl-oidc-login's API: the CommonJS bundle's exports (one copy for import and require).\n" +
      "import api from './index.cjs';\n" +
      `export const { ${names.join(', ')} } = api;\n`,
  );
  emitDeclarations(root, apiDist, (await import('typescript')).default);
  writeFileSync(join(apiDist, 'index.d.ts'), "export * from './types/api/index.js';\n");
  writeFileSync(join(apiDist, 'index.d.cts'), "export * from './types/api/index.cjs';\n");
}

/** The package is "type": "module", so .d.ts files declare ES modules; `require` gets .d.cts copies. */
const RELATIVE_SPECIFIER = /(^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"]|\bimport\(\s*['"])(\.[^'"]*)\.js(['"])/gm;
function asCommonJs(declarations) {
  return declarations.replace(RELATIVE_SPECIFIER, '$1$2.cjs$3');
}

/**
 * Writes the declarations of src/api/index.ts and of the files its declarations import, and only those (the
 * implementation's imports are not followed: the public types must stand alone). Each file is transpiled on its
 * own (isolatedDeclarations: exported signatures carry their types), which takes well under a second where a
 * whole-program tsc takes seconds. Fails on a file that needs inference, or on a declaration that imports a
 * package. `npx tsc --noEmit -p .` type-checks the sources; test/integration/api.test.ts type-checks a consumer.
 */
function emitDeclarations(root, apiDist, ts) {
  const src = join(root, 'src');
  const typesDir = join(apiDist, 'types');
  const compilerOptions = { module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2023, declaration: true, isolatedDeclarations: true, stripInternal: true };
  const done = new Set();
  const pending = [join(src, 'api', 'index.ts')];
  while (pending.length > 0) {
    const file = pending.pop();
    if (done.has(file)) continue;
    done.add(file);
    const result = ts.transpileDeclaration(readFileSync(file, 'utf8'), { fileName: file, compilerOptions, reportDiagnostics: true });
    if (result.diagnostics?.length) {
      const text = ts.formatDiagnostics(result.diagnostics, { getCanonicalFileName: (name) => name, getCurrentDirectory: () => root, getNewLine: () => '\n' });
      throw new Error(`build-api: the declarations of ${relative(root, file)} failed:\n${text}`);
    }
    // import/export … from '…' statements (not the examples in comments), and import('…') types.
    for (const match of result.outputText.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else if (!specifier.startsWith('node:')) throw new Error(`build-api: the declarations of ${relative(root, file)} import the package ${specifier}; the public types must not`);
    }
    const out = join(typesDir, relative(src, file).replace(/\.ts$/, ''));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(`${out}.d.ts`, result.outputText);
    writeFileSync(`${out}.d.cts`, asCommonJs(result.outputText));
  }
}
