/**
 * Start-up benchmark of the cache-hit path, the one kubectl runs on every command (method as in
 * performance-anchors.md: interleaved rounds in a rotating order, pooled medians with min/max, compared with
 * `node -e 0` from the same run, NODE_EXTRA_CA_CERTS unset for the main figures). Run: `npm run bench`
 * (builds dist/ first); `--rounds N` changes the number of timed rounds (default 200: fewer let the machine's noise move the ratio by a few hundredths; 10 with --quick). It reports, it
 * never fails on a target; it does fail loudly when the plugin does not answer from the cache, because a bench of an
 * error path would be worthless. Then the scenarios of bench/scenarios.ts (kubectl auth whoami, refresh, full login,
 * 32 parallel cold invocations; `--quick` for a smoke run; `--kubectl-rounds`, `--logins`, `--refreshes`, `--parallel`,
 * `--parallel-repeats` override their counts), the targets table (bench/targets.ts), and `<out>/latest.json` +
 * `<out>/latest.svg` (`--out DIR`, default bench/results; `quick.*` with --quick).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGetTokenFlags } from '../src/cli/flags.js';
import { cacheKey } from '../src/core/cache-key.js';
import { writeCacheEntry } from '../src/system/token-store.js';
import { stringFlag } from './lib.js';
import { finishReport } from './report.js';
import { runScenarios, settingsFromArgv, type ScenarioResults } from './scenarios.js';

type Env = Record<string, string | undefined>;
interface Variant { id: string; label: string; cmd: string; args: string[]; env: Env }
interface Stats { id: string; label: string; n: number; medianMs: number; minMs: number; maxMs: number; ratio: number; deltaMs: number }

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = process.execPath;
const WARMUP = 5;
const QUICK = process.argv.includes('--quick');
const RSS_RUNS = QUICK ? 5 : 15;
const EXEC_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}';

const roundsArg = process.argv.findIndex((arg) => arg === '--rounds' || arg.startsWith('--rounds='));
const benchStarted = Date.now();
const roundsText = roundsArg < 0 ? (QUICK ? '10' : '200') : (process.argv[roundsArg]?.split('=')[1] ?? process.argv[roundsArg + 1] ?? '');
const ROUNDS = Number(roundsText);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 10_000) throw new Error(`--rounds must be a whole number from 1 to 10000, got "${roundsText}"`);
const AS_IS_ROUNDS = Math.min(20, ROUNDS);

const { NODE_EXTRA_CA_CERTS: inheritedCaCerts, ...cleanEnv } = process.env;
const caCerts = inheritedCaCerts || (existsSync('/etc/ssl/certs/ca-certificates.crt') ? '/etc/ssl/certs/ca-certificates.crt' : undefined);
const env: Env = { ...cleanEnv, KUBERNETES_EXEC_INFO: EXEC_INFO };

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const median = (sorted: readonly number[]): number => {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};

function run(cmd: string, args: readonly string[], runEnv: Env) {
  return spawnSync(cmd, args, { env: runEnv, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
}

/** Runs once and insists on exit 0 and exactly one line of ExecCredential JSON carrying the cached token. */
function assertHit(variant: Variant, token: string): void {
  const result = run(variant.cmd, variant.args, variant.env);
  const lines = (result.stdout ?? '').split('\n').filter((line) => line !== '');
  let cred: { kind?: unknown; status?: { token?: unknown } } = {};
  try { cred = JSON.parse(lines[0] ?? '') as typeof cred; } catch { /* reported below */ }
  if (result.status !== 0 || lines.length !== 1 || cred.kind !== 'ExecCredential' || cred.status?.token !== token) {
    throw new Error(`"${variant.label}" is not a cache hit (status ${result.status}, signal ${result.signal}, error ${result.error?.message ?? '-'})\n` +
      `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** Interleaved rounds: every round runs each variant once, the order rotating by one per round. */
function timeInterleaved(variants: readonly Variant[], rounds: number, warmup: number): Map<string, number[]> {
  const samples = new Map(variants.map((v) => [v.id, [] as number[]]));
  for (let round = 0; round < warmup + rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length];
      if (variant === undefined) continue;
      const start = process.hrtime.bigint();
      const result = run(variant.cmd, variant.args, variant.env);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0) throw new Error(`"${variant.label}" failed in round ${round}: status ${result.status}, signal ${result.signal}\n${result.stderr}`);
      if (round >= warmup) samples.get(variant.id)?.push(ms);
    }
  }
  return samples;
}

function summarize(variants: readonly Variant[], samples: Map<string, number[]>, baselineMs: number | undefined): Stats[] {
  const rows = variants.map((v) => {
    const sorted = [...(samples.get(v.id) ?? [])].sort((a, b) => a - b);
    return { id: v.id, label: v.label, n: sorted.length, medianMs: median(sorted), minMs: sorted[0] ?? NaN, maxMs: sorted[sorted.length - 1] ?? NaN };
  });
  const base = baselineMs ?? rows[0]?.medianMs ?? NaN;
  return rows.map((row) => ({ ...row, ratio: row.medianMs / base, deltaMs: row.medianMs - base }));
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

const f1 = (n: number) => n.toFixed(1);
const statRows = (rows: readonly Stats[]) =>
  rows.map((r) => [r.label, f1(r.medianMs), f1(r.minMs), f1(r.maxMs), r.ratio.toFixed(2), r.id === 'baseline' ? '—' : `${r.deltaMs >= 0 ? '+' : ''}${f1(r.deltaMs)}`, String(r.n)]);

const work = mkdtempSync(join(tmpdir(), 'oidc-login-bench-'));
try {
  // A snapshot of the built files, same layout: a concurrent `npm run build` (rm -rf dist) cannot break the run,
  // and what is checked below is exactly what is timed.
  const pkg = join(work, 'pkg');
  for (const file of ['bin/kubectl-oidc_login', 'bin/package.json', 'dist/kubectl-oidc_login.cjs', 'dist/hit.cjs', 'dist/hit.cache', 'dist/cli.cjs', 'dist/lock.cjs', 'dist/undici.cjs', 'dist/xdg-open']) {
    mkdirSync(dirname(join(pkg, file)), { recursive: true });
    copyFileSync(join(root, file), join(pkg, file));
  }
  const BUNDLE = join(pkg, 'dist/kubectl-oidc_login.cjs');
  // The installed form: npm links the command of package.json "bin" to the bundle, which runs by its #!/usr/bin/env node.
  const BIN = join(pkg, '.bin/kubectl-oidc_login');
  mkdirSync(dirname(BIN), { recursive: true });
  symlinkSync('../dist/kubectl-oidc_login.cjs', BIN);
  const cacheDir = join(work, 'cache');
  // 1. A valid cache entry for the fixed flags, keyed by the project's own code.
  const nowSec = Math.floor(Date.now() / 1000);
  const idToken = [
    b64url({ alg: 'RS256', typ: 'JWT', kid: 'bench' }),
    b64url({ iss: 'https://issuer.example.com', aud: 'kubectl', sub: 'bench-user', email: 'bench@example.com', groups: ['dev', 'ops'], iat: nowSec, exp: nowSec + 86_400 }),
    Buffer.from('unsigned-bench-signature').toString('base64url'),
  ].join('.');
  const config = parseGetTokenFlags(
    { 'oidc-issuer-url': 'https://issuer.example.com', 'oidc-client-id': 'kubectl', 'oidc-extra-scope': ['email,groups,offline_access'], 'token-cache-dir': cacheDir },
    process.env,
  );
  const { provider } = config;
  writeCacheEntry(config.cache.dir, {
    key: cacheKey(provider), issuer: provider.issuerUrl, clientId: provider.clientId, scopes: provider.extraScopes,
    useAccessToken: false, savedAt: new Date().toISOString(), idToken, accessToken: 'bench-access-token', refreshToken: 'bench-refresh-token',
  });
  const flags = ['get-token', '--oidc-issuer-url=https://issuer.example.com', '--oidc-client-id=kubectl', '--oidc-extra-scope=email,groups,offline_access', `--token-cache-dir=${cacheDir}`];

  const baseline: Variant = { id: 'baseline', label: 'node -e 0 (baseline)', cmd: NODE, args: ['-e', '0'], env };
  const bundle: Variant = { id: 'bundle', label: 'node dist/kubectl-oidc_login.cjs get-token (the command run by node directly)', cmd: NODE, args: [BUNDLE, ...flags], env };
  const bin: Variant = { id: 'bin', label: 'kubectl-oidc_login get-token (installed form: npm link to the bundle, env shebang)', cmd: BIN, args: flags, env };
  // The installed form's own floor: an empty script launched the same way (a link to a #!/usr/bin/env node file).
  const emptyScript = join(pkg, 'empty.cjs');
  writeFileSync(emptyScript, '#!/usr/bin/env node\n', { mode: 0o755 });
  const emptyLink = join(pkg, '.bin/empty');
  symlinkSync('../empty.cjs', emptyLink);
  const envBaseline: Variant = { id: 'env-baseline', label: 'an empty #!/usr/bin/env node script, linked as npm links a bin (launch floor of the installed form)', cmd: emptyLink, args: [], env };
  const fullCli: Variant = { id: 'fullcli', label: 'cache hit via the full CLI (-v1)', cmd: NODE, args: [BUNDLE, ...flags, '-v1'], env };
  const main: Variant[] = [
    baseline, bundle, bin, envBaseline,
    { id: 'crypto', label: "node -e \"require('node:crypto').createHash('sha256')\" (why the cache key is not SHA-256)", cmd: NODE, args: ['-e', "require('node:crypto').createHash('sha256')"], env },
    fullCli,
    { id: 'floor', label: '/bin/true (harness floor: spawnSync fork+exec)', cmd: '/bin/true', args: [], env },
  ];
  for (const v of [bundle, bin, fullCli]) assertHit(v, idToken);

  const pathNode = run('/usr/bin/env', ['node', '-p', 'process.execPath'], env).stdout.trim();
  const cpuList = cpus();
  const machine = { cpuCount: cpuList.length, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', os: `${platform()} ${release()}` };
  console.log(`kubectl-oidc-login cache-hit bench — ${new Date().toISOString()}`);
  console.log(`machine: ${machine.cpuCount} CPU × ${machine.cpuModel}, ${machine.os}; node ${process.version} (${NODE})`);
  if (pathNode !== NODE) console.log(`NOTE: the bin's "#!/usr/bin/env node" resolves to ${pathNode || '(nothing)'}, not ${NODE}`);
  console.log(`timing a copy of bin/ and dist/ taken at start (${pkg})`);
  console.log(`rounds: ${ROUNDS} timed + ${WARMUP} warm-up (discarded), interleaved, rotating order; spawnSync, no shell`);
  console.log(`NODE_EXTRA_CA_CERTS is UNSET for the main figures (inherited: ${inheritedCaCerts ?? 'not set'}); load average at start: ${loadavg().map(f1).join(' ')}`);

  // 2. Main figures, then the as-is block with NODE_EXTRA_CA_CERTS set.
  const mainStats = summarize(main, timeInterleaved(main, ROUNDS, WARMUP), undefined);
  const baseMs = mainStats[0]?.medianMs ?? NaN;
  let asIsStats: Stats[] = [];
  if (caCerts !== undefined) {
    const withCa: Env = { ...env, NODE_EXTRA_CA_CERTS: caCerts };
    const asIs: Variant[] = [
      { ...baseline, id: 'baseline-ca', label: 'node -e 0, as-is with NODE_EXTRA_CA_CERTS', env: withCa },
      { ...bin, id: 'bin-ca', label: 'kubectl-oidc_login get-token (installed form), as-is with NODE_EXTRA_CA_CERTS', env: withCa },
    ];
    asIsStats = summarize(asIs, timeInterleaved(asIs, AS_IS_ROUNDS, WARMUP), baseMs);
  }

  // 3. Peak RSS with GNU time (max RSS in KB on stderr), interleaved.
  let rss: { id: string; label: string; medianKb: number; ratio: number }[] | { skipped: string };
  const gnuTime = existsSync('/usr/bin/time') ? run('/usr/bin/time', ['-f', '%M', '/bin/true'], env) : undefined;
  if (gnuTime === undefined || gnuTime.status !== 0 || !/^\d+\s*$/m.test(gnuTime.stderr)) {
    rss = { skipped: gnuTime === undefined ? '/usr/bin/time is missing' : '/usr/bin/time is not GNU time (no -f %M)' };
  } else {
    const kb = new Map<string, number[]>([[baseline.id, []], [bin.id, []]]);
    for (let i = 0; i < RSS_RUNS * 2; i++) {
      const v = i % 2 === 0 ? baseline : bin;
      const result = run('/usr/bin/time', ['-f', '%M', v.cmd, ...v.args], v.env);
      const value = Number(result.stderr.trim().split('\n').pop());
      if (result.status !== 0 || !Number.isFinite(value)) throw new Error(`peak RSS run of "${v.label}" failed: ${result.stderr}`);
      kb.get(v.id)?.push(value);
    }
    const baseKb = median([...(kb.get(baseline.id) ?? [])].sort((a, b) => a - b));
    rss = [baseline, bin].map((v) => {
      const medianKb = median([...(kb.get(v.id) ?? [])].sort((a, b) => a - b));
      return { id: v.id, label: v.label, medianKb, ratio: medianKb / baseKb };
    });
  }

  // 4. Report.
  const header = ['variant', 'median ms', 'min', 'max', 'ratio', 'delta ms', 'n'];
  console.log('\nwall time per process (NODE_EXTRA_CA_CERTS unset):');
  printTable(header, statRows(mainStats));
  if (asIsStats.length > 0) {
    console.log(`\nas-is with NODE_EXTRA_CA_CERTS=${caCerts} (ratio/delta vs the unset node -e 0 above):`);
    printTable(header, statRows(asIsStats));
  } else console.log('\nas-is with NODE_EXTRA_CA_CERTS: skipped (not set, and /etc/ssl/certs/ca-certificates.crt is missing)');
  console.log(`\npeak RSS (median of ${RSS_RUNS} runs each, /usr/bin/time -f %M, NODE_EXTRA_CA_CERTS unset):`);
  if ('skipped' in rss) console.log(`skipped: ${rss.skipped}`);
  else printTable(['variant', 'KB', 'ratio'], rss.map((r) => [r.label, String(r.medianKb), r.ratio.toFixed(2)]));

  const byId = (id: string) => mainStats.find((s) => s.id === id);
  const delta = (a: string, b: string) => (byId(a)?.medianMs ?? NaN) - (byId(b)?.medianMs ?? NaN);
  console.log(`\nenv shebang hop (bin − bundle): ${f1(delta('bin', 'bundle'))} ms (empty env-shebang script − node -e 0: ${f1(delta('env-baseline', 'baseline'))} ms); node:crypto (crypto − baseline): ${f1(delta('crypto', 'baseline'))} ms; ` +
    `split entry saves (full CLI − bundle): ${f1(delta('fullcli', 'bundle'))} ms; load average at end: ${loadavg().map(f1).join(' ')}`);
  const verdicts = { bin: byId('bin')?.ratio ?? NaN, bundle: byId('bundle')?.ratio ?? NaN, binOverEnvBaseline: (byId('bin')?.medianMs ?? NaN) / (byId('env-baseline')?.medianMs ?? NaN), target: 1.1 };
  console.log(`cache-hit ratio (bin vs node -e 0): ${verdicts.bin.toFixed(2)} (target ≤ ${verdicts.target.toFixed(2)})`);
  console.log(`cache-hit ratio (bundle vs node -e 0): ${verdicts.bundle.toFixed(2)} (target ≤ ${verdicts.target.toFixed(2)})`);
  console.log(`cache-hit ratio (bin vs the empty env-shebang script): ${verdicts.binOverEnvBaseline.toFixed(2)}`);

  // 4b. Scenarios (bench/scenarios.ts), then the targets table and the chart (bench/report.ts).
  const scenarios: ScenarioResults = await runScenarios({ settings: settingsFromArgv(process.argv, QUICK), pkgDir: pkg, workDir: work, root });
  const rssBin = Array.isArray(rss) ? rss.find((r) => r.id === bin.id) : undefined;
  const finished = finishReport(
    { binRatio: verdicts.bin, bundleRatio: verdicts.bundle, binOverEnvBaseline: verdicts.binOverEnvBaseline, binDeltaMs: byId('bin')?.deltaMs ?? NaN, rssRatio: rssBin?.ratio },
    mainStats,
    scenarios,
    `${new Date().toISOString().slice(0, 10)} · ${machine.cpuCount} CPU ${machine.cpuModel} · node ${process.version} · NODE_EXTRA_CA_CERTS unset${QUICK ? ' · QUICK run' : ''}`,
  );

  // 5. JSON results, written atomically (bench/results/*.tmp is git-ignored).
  const outDir = stringFlag(process.argv, 'out') ?? join(root, 'bench/results');
  const base = QUICK ? 'quick' : 'latest';
  mkdirSync(outDir, { recursive: true });
  const results = {
    date: new Date().toISOString(), node: process.version, machine, rounds: ROUNDS, warmupRounds: WARMUP, asIsRounds: AS_IS_ROUNDS,
    nodeExtraCaCerts: { mainFigures: 'unset', asIsValue: caCerts ?? null }, main: mainStats, asIs: asIsStats, peakRss: rss, verdicts,
    mode: QUICK ? 'quick' : 'default', durationSec: (Date.now() - benchStarted) / 1000, scenarioSettings: scenarios.settings, scenarioLoadAverage: scenarios.loadAverage,
    kubectl: scenarios.kubectl, refresh: scenarios.refresh, login: scenarios.login, parallel: scenarios.parallel, targets: finished.targets,
  };
  for (const [name, text] of [[`${base}.json`, `${JSON.stringify(results, null, 2)}\n`], [`${base}.svg`, finished.svg]] as const) {
    const tmp = join(outDir, `${name}.${process.pid}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(outDir, name));
  }
  console.log(`\nwrote ${join(outDir, `${base}.json`)} and ${base}.svg in ${((Date.now() - benchStarted) / 1000).toFixed(0)} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
