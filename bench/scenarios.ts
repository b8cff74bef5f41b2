/**
 * The bench's network scenarios, run after the start-up section against the test OpenID provider
 * (test/support/identity-provider.ts) and the HTTPS kube-apiserver emulator (test/support/api-server.ts), both in
 * this process:
 *
 * - kubectl: `kubectl auth whoami`, interleaved rounds, with (a) a static token, (b) `command: kubectl-oidc_login`
 *   and (c) `command: kubectl` + `args: [oidc-login, get-token, …]`, (b) and (c) answered from a cache that one
 *   login filled (performance-anchors.md §4.1 style);
 * - refresh: `--force-refresh` N times, with the discovery document and keys cached: requests to the provider
 *   per refresh and wall time;
 * - login: N full logins with the HTTP-client browser, each from an empty cache, split into phases from the
 *   provider's request timestamps and the plugin's -v1 lines;
 * - parallel: 32 cold invocations launched at once: wall time until all printed a token, authorizations.
 *
 * Every child runs with NODE_EXTRA_CA_CERTS unset. Children are spawned asynchronously (the servers live in this
 * process's event loop), so these timings include a little event-loop latency that the start-up section's
 * spawnSync does not; it is the same for every variant of a table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { startApiServer, type TestApiServer } from '../test/support/api-server.js';
import { startIdentityProvider, type IdpEvent } from '../test/support/identity-provider.js';
import { writeKubeconfig, type ExecUserConfig } from '../test/support/kubeconfig.js';
import { f1, f2, median, nowMs, numberFlag, printTable, signed, summarize, type Env, type Summary } from './lib.js';

export interface ScenarioSettings {
  kubectlRounds: number;
  kubectlWarmup: number;
  logins: number;
  refreshes: number;
  parallelProcesses: number;
  parallelRepeats: number;
}

export const DEFAULT_SETTINGS: ScenarioSettings = { kubectlRounds: 60, kubectlWarmup: 5, logins: 20, refreshes: 20, parallelProcesses: 32, parallelRepeats: 5 };
export const QUICK_SETTINGS: ScenarioSettings = { kubectlRounds: 5, kubectlWarmup: 1, logins: 3, refreshes: 3, parallelProcesses: 32, parallelRepeats: 1 };

/** The defaults (or --quick's), each overridable: --kubectl-rounds, --logins, --refreshes, --parallel, --parallel-repeats. */
export function settingsFromArgv(argv: readonly string[], quick: boolean): ScenarioSettings {
  const base = quick ? QUICK_SETTINGS : DEFAULT_SETTINGS;
  return {
    ...base,
    kubectlRounds: numberFlag(argv, 'kubectl-rounds', 1, 10_000) ?? base.kubectlRounds,
    logins: numberFlag(argv, 'logins', 1, 1000) ?? base.logins,
    refreshes: numberFlag(argv, 'refreshes', 1, 1000) ?? base.refreshes,
    parallelProcesses: numberFlag(argv, 'parallel', 2, 256) ?? base.parallelProcesses,
    parallelRepeats: numberFlag(argv, 'parallel-repeats', 1, 100) ?? base.parallelRepeats,
  };
}

export interface ScenarioOptions {
  settings: ScenarioSettings;
  /** The snapshot of bin/ and dist/ the start-up section timed. */
  pkgDir: string;
  /** A private scratch directory (removed by the caller). */
  workDir: string;
  /** The repository root (for the fake browser's source). */
  root: string;
}

export interface KubectlVariantStats extends Summary {
  id: 'static' | 'plugin' | 'kubectl-plugin';
  label: string;
  ratio: number;
  deltaMs: number;
}

export interface KubectlResults {
  kubectl: string;
  clientVersion: string;
  dispatcher: boolean;
  serverVersion: string;
  versionNote: string;
  rounds: number;
  warmupRounds: number;
  /** Plugin processes per kubectl command, counted once per exec variant through a wrapper. */
  pluginRunsPerCommand: { plugin: number; kubectlPlugin: number };
  /** Requests the API server saw per timed kubectl command (the dispatcher's GET /version + the review). */
  apiRequestsPerCommand: number;
  /** Requests to the provider during the timed rounds (0: every exec run was a cache hit). */
  providerRequestsDuringTiming: number;
  variants: KubectlVariantStats[];
  ratios: { pluginOverStatic: number; kubectlPluginOverStatic: number };
}

export interface PhaseStats extends Summary {
  id: string;
  label: string;
  /** Nesting level: 0 for a phase, 1 for a part of the phase above it. */
  level: number;
}

export interface RefreshResults {
  n: number;
  /** Requests to the provider per refresh, each run. */
  requestsPerRefresh: number[];
  /** What those requests were (first run). */
  requests: string[];
  /** Spawn until the credential is on stdout. */
  wall: Summary;
  /** Spawn until the process ended (what kubectl waits for). */
  exit: Summary;
  phases: PhaseStats[];
}

export interface LoginResults {
  n: number;
  /** Spawn until the credential is on stdout. */
  wall: Summary;
  /** Spawn until the process ended. */
  exit: Summary;
  requestsPerLogin: number[];
  phases: PhaseStats[];
}

export interface ParallelResults {
  processes: number;
  repeats: number;
  /** From the first spawn until the last process printed its token. */
  wall: Summary;
  /** How long releasing all the processes took (they are spawned beforehand, held at a gate). */
  spawnSpreadMs: number[];
  authorizations: number[];
  tokenRequests: Record<string, number>[];
  distinctTokens: number[];
  /** The login section's median wall time (one login alone), and the target: it + 1 s. */
  oneLoginMs: number;
  targetMs: number;
  /** When things happened, ms after the release (median/min/max over the repeats). */
  timeline: PhaseStats[];
}

export interface ScenarioResults {
  settings: ScenarioSettings;
  /** 1-minute load average when the scenarios started and ended: other work on the machine skews every figure. */
  loadAverage: { start: number; end: number };
  kubectl: KubectlResults | { skipped: string } | { error: string };
  refresh: RefreshResults | { error: string };
  login: LoginResults | { error: string };
  parallel: ParallelResults | { error: string };
}

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  startedAt: number;
  /** When the first complete stdout line arrived (the ExecCredential), or undefined. */
  printedAt: number | undefined;
  closedAt: number;
  /** Every stderr line with its arrival time. */
  lines: { at: number; text: string }[];
}

const EXEC_INFO = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}';

/**
 * Spawns and collects a child; times are epoch ms taken in this process (comparable with IdpEvent.at). A gated child
 * is spawned as `sh -c 'read -r _ && exec "$@"'`, blocked on its stdin until release(): many gated children can then
 * be let go within a millisecond, however long spawning them took.
 */
function startChild(cmd: string, args: readonly string[], env: Env, options: { timeoutMs?: number; gated?: boolean } = {}): { done: Promise<ChildRun>; release: () => void } {
  const gated = options.gated === true;
  const run: ChildRun = { code: null, signal: null, stdout: '', stderr: '', startedAt: nowMs(), printedAt: undefined, closedAt: NaN, lines: [] };
  const child = gated
    ? spawn('/bin/sh', ['-c', 'read -r _ && exec "$@"', 'sh', cmd, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(cmd, [...args], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<ChildRun>((resolve, reject) => {
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      run.stdout += chunk.toString();
      if (run.printedAt === undefined && run.stdout.includes('\n')) run.printedAt = nowMs();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const at = nowMs();
      const text = chunk.toString();
      run.stderr += text;
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) run.lines.push({ at, text: line });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      Object.assign(run, { code, signal, closedAt: nowMs() });
      if (partial !== '') run.lines.push({ at: run.closedAt, text: partial });
      resolve(run);
    });
  });
  const release = (): void => {
    if (!gated) return;
    run.startedAt = nowMs();
    child.stdin?.end('go\n');
  };
  return { done, release };
}

const runChild = (cmd: string, args: readonly string[], env: Env, timeoutMs?: number): Promise<ChildRun> =>
  startChild(cmd, args, env, timeoutMs === undefined ? {} : { timeoutMs }).done;

function describeFailure(what: string, run: ChildRun): Error {
  return new Error(`${what} failed: exit ${run.code}, signal ${run.signal}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(0, 4000)}`);
}

/** The token of exactly one line of ExecCredential JSON on stdout, or an error. */
function credentialToken(what: string, run: ChildRun): string {
  const lines = run.stdout.split('\n').filter((line) => line !== '');
  let token: unknown;
  try {
    token = (JSON.parse(lines[0] ?? '') as { status?: { token?: unknown } }).status?.token;
  } catch {
    // reported below
  }
  if (run.code !== 0 || lines.length !== 1 || typeof token !== 'string' || run.printedAt === undefined) throw describeFailure(what, run);
  return token;
}

const phaseRow = (p: PhaseStats): string[] => [`${p.level > 0 ? '  · ' : ''}${p.label}`, f1(p.medianMs), f1(p.minMs), f1(p.maxMs)];

/** Median/min/max of each phase over runs; a run's phase is `end − start` of two of its marks. */
function phaseStats(defs: readonly { id: string; label: string; level: number; from: string; to: string }[], marks: readonly Record<string, number | undefined>[]): PhaseStats[] {
  return defs.map((def) => {
    const values = marks.map((m) => (m[def.to] ?? NaN) - (m[def.from] ?? NaN)).filter((v) => Number.isFinite(v));
    return { id: def.id, label: def.label, level: def.level, ...summarize(values) };
  });
}

const eventAt = (events: readonly IdpEvent[], test: (e: IdpEvent) => boolean, last = false): number | undefined =>
  (last ? [...events].reverse() : events).find(test)?.at;
const lineAt = (run: ChildRun, pattern: RegExp): number | undefined => run.lines.find((l) => pattern.test(l.text))?.at;

export async function runScenarios(options: ScenarioOptions): Promise<ScenarioResults> {
  const { settings, pkgDir, workDir, root } = options;
  const bin = join(pkgDir, 'bin', 'kubectl-oidc_login');

  // The HTTP-client browser, bundled into the scratch directory (not .test-build/, which tests may rebuild meanwhile).
  const fakeBrowser = join(workDir, 'fake-browser.cjs');
  await build({
    entryPoints: [join(root, 'test/support/fake-browser-cli.ts')], outfile: fakeBrowser, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    banner: { js: '#!/usr/bin/env node' }, logLevel: 'silent',
  });
  chmodSync(fakeBrowser, 0o755);

  const { NODE_EXTRA_CA_CERTS: _ca, KUBERNETES_EXEC_INFO: _info, KUBECONFIG: _kubeconfig, KUBECACHEDIR: _kubecache, BROWSER: _browser, ...inherited } = process.env;
  const home = join(workDir, 'home');
  mkdirSync(home, { recursive: true });
  // HOME is private so that kubectl and the Cloud SDK touch nothing of the user's; the plugin's bin/ comes first on PATH.
  const baseEnv: Env = { ...inherited, HOME: home, PATH: `${dirname(bin)}:${inherited.PATH ?? ''}` };
  const pluginEnv: Env = { ...baseEnv, KUBERNETES_EXEC_INFO: EXEC_INFO };

  // ID tokens live an hour: every timed cache hit stays a hit.
  const idp = await startIdentityProvider({ idTokenTtlSec: 3600 });
  let api: TestApiServer | undefined;
  let cacheCount = 0;
  const freshCacheDir = (): string => join(workDir, `token-cache-${++cacheCount}`);
  const pluginArgs = (cacheDir: string, extra: readonly string[] = []): string[] => [
    'get-token', `--oidc-issuer-url=${idp.issuer}`, `--oidc-client-id=${idp.clientId}`, '--oidc-extra-scope=email,groups',
    `--token-cache-dir=${cacheDir}`, '--listen-address=127.0.0.1:0', `--browser-command=${fakeBrowser}`, ...extra,
  ];
  const results: ScenarioResults = { settings, loadAverage: { start: loadavg()[0] ?? NaN, end: NaN }, kubectl: { skipped: 'not run' }, refresh: { error: 'not run' }, login: { error: 'not run' }, parallel: { error: 'not run' } };
  const attempt = async <T>(name: string, work: () => Promise<T>): Promise<T | { error: string }> => {
    try {
      return await work();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.log(`\n${name}: FAILED: ${message}`);
      process.exitCode = 1;
      return { error: message };
    }
  };

  try {
    console.log(`\nscenarios: test provider ${idp.issuer}, children with NODE_EXTRA_CA_CERTS unset; ` +
      `kubectl ${settings.kubectlRounds} rounds, ${settings.logins} logins, ${settings.refreshes} refreshes, ${settings.parallelRepeats} × ${settings.parallelProcesses} parallel`);

    // 1. kubectl.
    const kubectlPath = spawnSync('/bin/sh', ['-c', 'command -v kubectl'], { env: baseEnv as NodeJS.ProcessEnv, encoding: 'utf8' }).stdout.trim();
    if (kubectlPath === '') results.kubectl = { skipped: 'kubectl is not on PATH' };
    else {
      api = await startApiServer({
        issuer: idp.issuer, audiences: [idp.clientId], usernameClaim: 'email', groupsClaim: 'groups', groupsPrefix: 'oidc:',
        // kube-apiserver caches a successful token authentication for 10 s; so does the emulator here, for every variant.
        successCacheTtlMs: 10_000,
      });
      const server = api;
      results.kubectl = await attempt('kubectl', () => benchKubectl(kubectlPath, server));
    }
    // 2. Full logins (before the parallel section, which compares with them).
    results.login = await attempt('login', () => benchLogins());
    // 3. Forced refreshes.
    results.refresh = await attempt('refresh', () => benchRefreshes());
    // 4. 32 parallel cold invocations.
    results.parallel = await attempt('parallel', () => benchParallel('wall' in results.login ? results.login.wall.medianMs : NaN));
  } finally {
    await api?.close();
    await idp.close();
  }
  results.loadAverage.end = loadavg()[0] ?? NaN;
  console.log(`\nscenarios: 1-minute load average ${f1(results.loadAverage.start)} at the start, ${f1(results.loadAverage.end)} at the end (2 cores: above ~0.5 means other work competed)`);
  return results;

  async function benchLogins(): Promise<LoginResults> {
    const marks: Record<string, number | undefined>[] = [];
    const requestsPerLogin: number[] = [];
    const walls: number[] = [];
    const exits: number[] = [];
    for (let i = 0; i < settings.logins; i++) {
      idp.resetCounts();
      const run = await runChild(bin, pluginArgs(freshCacheDir(), ['-v1']), pluginEnv);
      credentialToken(`login ${i + 1}`, run);
      const events = [...idp.events];
      if (idp.counts.authorizations !== 1) throw new Error(`login ${i + 1}: ${idp.counts.authorizations} authorizations at the provider, expected 1`);
      const m = {
        start: run.startedAt,
        discovery: eventAt(events, (e) => e.path === '/.well-known/openid-configuration'),
        listening: lineAt(run, /^callback server listening/),
        auth: eventAt(events, (e) => e.path === '/auth'),
        resume: eventAt(events, (e) => e.path.startsWith('/auth/'), true),
        token: eventAt(events, (e) => e.method === 'POST' && e.path === '/token'),
        jwks: eventAt(events, (e) => e.path === '/jwks'),
        printed: run.printedAt,
        closed: run.closedAt,
      };
      const missing = Object.entries(m).filter(([, v]) => v === undefined).map(([k]) => k);
      if (missing.length > 0) throw new Error(`login ${i + 1}: no ${missing.join(', ')} mark (provider requests: ${events.map((e) => `${e.method} ${e.path}`).join(', ')})\nstderr: ${run.stderr}`);
      marks.push(m);
      requestsPerLogin.push(events.length);
      walls.push((run.printedAt ?? NaN) - run.startedAt);
      exits.push(run.closedAt - run.startedAt);
    }
    const phases = phaseStats([
      { id: 'startup', label: 'start-up: node, cache miss, full CLI + openid-client (spawn → discovery request)', level: 0, from: 'start', to: 'discovery' },
      { id: 'discovery', label: 'discovery round trip + loopback server (→ "callback server listening")', level: 0, from: 'discovery', to: 'listening' },
      { id: 'authorize', label: 'authorize: browser round trip incl. the login form (→ token request)', level: 0, from: 'listening', to: 'token' },
      { id: 'browser', label: 'authorization URL, browser command starts (→ GET /auth)', level: 1, from: 'listening', to: 'auth' },
      { id: 'idp-pages', label: 'provider: /auth, login form GET + POST, resume (→ last /auth/…)', level: 1, from: 'auth', to: 'resume' },
      { id: 'callback', label: 'redirect to the loopback callback, code exchange starts (→ POST /token)', level: 1, from: 'resume', to: 'token' },
      { id: 'token', label: 'token request + response checks (→ GET /jwks)', level: 0, from: 'token', to: 'jwks' },
      { id: 'verification', label: 'verification: JWKS fetch + signature, callback page, cache write (→ stdout)', level: 0, from: 'jwks', to: 'printed' },
      { id: 'exit', label: 'exit (stdout → process end)', level: 0, from: 'printed', to: 'closed' },
    ], marks);
    const result: LoginResults = { n: settings.logins, wall: summarize(walls), exit: summarize(exits), requestsPerLogin, phases };
    console.log(`\nfull login with the HTTP-client browser (empty cache each time, -v1), n = ${result.n}; ms:`);
    printTable(['phase', 'median', 'min', 'max'], [
      ...phases.map(phaseRow),
      ['total: spawn → token on stdout', f1(result.wall.medianMs), f1(result.wall.minMs), f1(result.wall.maxMs)],
      ['total: spawn → process end', f1(result.exit.medianMs), f1(result.exit.minMs), f1(result.exit.maxMs)],
    ]);
    console.log(`requests to the provider per login: ${[...new Set(requestsPerLogin)].join(', ')} (discovery, /auth, login form GET + POST, resume, token, JWKS); ` +
      'phase medians are taken separately, so they need not add up to the total exactly');
    return result;
  }

  async function benchRefreshes(): Promise<RefreshResults> {
    const cacheDir = freshCacheDir();
    credentialToken('login before the refreshes', await runChild(bin, pluginArgs(cacheDir), pluginEnv));
    const marks: Record<string, number | undefined>[] = [];
    const requestsPerRefresh: number[] = [];
    let requests: string[] = [];
    const walls: number[] = [];
    const exits: number[] = [];
    for (let i = 0; i < settings.refreshes; i++) {
      idp.resetCounts();
      const run = await runChild(bin, pluginArgs(cacheDir, ['--force-refresh', '-v1']), pluginEnv);
      credentialToken(`refresh ${i + 1}`, run);
      if (idp.counts.tokenRequests['refresh_token'] !== 1 || idp.counts.authorizations !== 0) {
        throw new Error(`refresh ${i + 1} was not one refresh grant: token requests ${JSON.stringify(idp.counts.tokenRequests)}, authorizations ${idp.counts.authorizations}\nstderr: ${run.stderr}`);
      }
      const events = [...idp.events];
      if (i === 0) requests = events.map((e) => `${e.method} ${e.path}${e.grantType ? ` (${e.grantType})` : ''}`);
      requestsPerRefresh.push(events.length);
      marks.push({ start: run.startedAt, token: eventAt(events, (e) => e.method === 'POST' && e.path === '/token'), printed: run.printedAt, closed: run.closedAt });
      walls.push((run.printedAt ?? NaN) - run.startedAt);
      exits.push(run.closedAt - run.startedAt);
    }
    const phases = phaseStats([
      { id: 'startup', label: 'start-up: node, lock, cache read, full CLI + openid-client (spawn → token request)', level: 0, from: 'start', to: 'token' },
      { id: 'token', label: 'token request, signature check with the cached keys, cache write (→ stdout)', level: 0, from: 'token', to: 'printed' },
      { id: 'exit', label: 'exit (stdout → process end)', level: 0, from: 'printed', to: 'closed' },
    ], marks);
    const result: RefreshResults = { n: settings.refreshes, requestsPerRefresh, requests, wall: summarize(walls), exit: summarize(exits), phases };
    console.log(`\n--force-refresh with the discovery document and keys cached, n = ${result.n}; ms:`);
    printTable(['phase', 'median', 'min', 'max'], [
      ...phases.map(phaseRow),
      ['total: spawn → token on stdout', f1(result.wall.medianMs), f1(result.wall.minMs), f1(result.wall.maxMs)],
      ['total: spawn → process end (what kubectl waits for)', f1(result.exit.medianMs), f1(result.exit.minMs), f1(result.exit.maxMs)],
    ]);
    console.log(`requests to the provider per refresh: ${[...new Set(requestsPerRefresh)].join(', ')} (${requests.join(', ')})`);
    return result;
  }

  async function benchParallel(oneLoginMs: number): Promise<ParallelResults> {
    const walls: number[] = [];
    const spawnSpreadMs: number[] = [];
    const authorizations: number[] = [];
    const tokenRequests: Record<string, number>[] = [];
    const distinctTokens: number[] = [];
    const marks: Record<string, number | undefined>[] = [];
    for (let rep = 0; rep < settings.parallelRepeats; rep++) {
      const cacheDir = freshCacheDir();
      const children = Array.from({ length: settings.parallelProcesses }, () => startChild(bin, pluginArgs(cacheDir), pluginEnv, { gated: true, timeoutMs: 120_000 }));
      // Let every shell reach its `read` before the gates open.
      await new Promise((resolve) => setTimeout(resolve, 300));
      idp.resetCounts();
      const start = nowMs();
      for (const child of children) child.release();
      spawnSpreadMs.push(nowMs() - start);
      const runs = await Promise.all(children.map((child) => child.done));
      const tokens = runs.map((run, i) => credentialToken(`parallel invocation ${i + 1} of ${runs.length}`, run));
      const printed = runs.map((run) => (run.printedAt ?? NaN) - start).sort((x, y) => x - y);
      const events = [...idp.events];
      const at = (test: (e: IdpEvent) => boolean) => {
        const t = eventAt(events, test);
        return t === undefined ? undefined : t - start;
      };
      marks.push({
        zero: 0,
        discovery: at((e) => e.path === '/.well-known/openid-configuration'),
        auth: at((e) => e.path === '/auth'),
        token: at((e) => e.method === 'POST' && e.path === '/token'),
        first: printed[0],
        median: median(printed),
        last: printed[printed.length - 1],
      });
      walls.push(printed[printed.length - 1] ?? NaN);
      authorizations.push(idp.counts.authorizations);
      tokenRequests.push({ ...idp.counts.tokenRequests });
      distinctTokens.push(new Set(tokens).size);
    }
    const timeline = phaseStats([
      { id: 'discovery', label: "the lock holder's discovery request", level: 0, from: 'zero', to: 'discovery' },
      { id: 'auth', label: 'its authorization request (GET /auth)', level: 0, from: 'zero', to: 'auth' },
      { id: 'token', label: 'its token request', level: 0, from: 'zero', to: 'token' },
      { id: 'first', label: 'first token printed (the holder)', level: 0, from: 'zero', to: 'first' },
      { id: 'median', label: 'half of the tokens printed', level: 0, from: 'zero', to: 'median' },
      { id: 'last', label: 'all tokens printed', level: 0, from: 'zero', to: 'last' },
    ], marks);
    const result: ParallelResults = {
      processes: settings.parallelProcesses, repeats: settings.parallelRepeats, wall: summarize(walls), spawnSpreadMs, authorizations, tokenRequests, distinctTokens,
      oneLoginMs, targetMs: oneLoginMs + 1000, timeline,
    };
    console.log(`\n${result.processes} parallel cold invocations (empty cache, the flags of a kubeconfig (no -v), held at a gate and released at once), ` +
      `${result.repeats} repeat(s); ms after the release:`);
    printTable(['event', 'median', 'min', 'max'], [
      ...timeline.map(phaseRow),
      ['one login alone, for comparison (login section median, spawn → token)', f1(oneLoginMs), '', ''],
    ]);
    console.log(`authorizations at the provider: ${authorizations.join(', ')}; token requests: ${tokenRequests.map((t) => JSON.stringify(t)).join(', ')}; ` +
      `distinct tokens printed: ${distinctTokens.join(', ')}; releasing the gates took ${spawnSpreadMs.map(f1).join(', ')} ms`);
    return result;
  }

  async function benchKubectl(kubectl: string, server: TestApiServer): Promise<KubectlResults> {
    const dir = join(workDir, 'kubectl');
    mkdirSync(dir, { recursive: true });
    const tokenCache = freshCacheDir();
    const staticToken = await idp.mintToken();
    const plugin: ExecUserConfig = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'kubectl-oidc_login', args: pluginArgs(tokenCache) };
    const viaKubectl: ExecUserConfig = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'kubectl', args: ['oidc-login', ...pluginArgs(tokenCache)] };
    interface Variant { id: KubectlVariantStats['id']; label: string; kubeconfig: string; cacheDir: string }
    const variants: Variant[] = [
      { id: 'static', label: '(a) static token', kubeconfig: join(dir, 'static.yaml'), cacheDir: join(dir, 'cache-static') },
      { id: 'plugin', label: '(b) exec: command: kubectl-oidc_login (cache hit)', kubeconfig: join(dir, 'plugin.yaml'), cacheDir: join(dir, 'cache-plugin') },
      { id: 'kubectl-plugin', label: '(c) exec: command: kubectl, args: [oidc-login, get-token, …] (cache hit)', kubeconfig: join(dir, 'kubectl-plugin.yaml'), cacheDir: join(dir, 'cache-kubectl-plugin') },
    ];
    const [staticVariant, pluginVariant, kubectlVariant] = variants as [Variant, Variant, Variant];
    const cluster = { server: server.url, caPath: server.caPath };
    await writeKubeconfig(staticVariant.kubeconfig, { ...cluster, user: { token: staticToken } });
    await writeKubeconfig(pluginVariant.kubeconfig, { ...cluster, user: { exec: plugin } });
    await writeKubeconfig(kubectlVariant.kubeconfig, { ...cluster, user: { exec: viaKubectl } });
    const whoami = (v: Variant, extra: readonly string[] = [], env: Env = baseEnv) => runChild(kubectl, ['--kubeconfig', v.kubeconfig, '--cache-dir', v.cacheDir, 'auth', 'whoami', ...extra], env);

    // Versions: the Cloud SDK dispatcher re-executes a versioned kubectl (and so runs the plugin twice) when the
    // server's minor version is too far from its own (performance-anchors.md §5).
    const version = await runChild(kubectl, ['--kubeconfig', staticVariant.kubeconfig, 'version', '-o', 'json'], baseEnv);
    const versions = JSON.parse(version.stdout || '{}') as { clientVersion?: { gitVersion?: string }; serverVersion?: { gitVersion?: string } };
    const clientVersion = versions.clientVersion?.gitVersion ?? 'unknown';
    const serverVersion = versions.serverVersion?.gitVersion ?? 'unknown';
    const dispatcher = clientVersion.includes('dispatcher');

    // One login through (b) fills the token cache (and checks the whole chain), then every variant once.
    const login = await whoami(pluginVariant, ['-o', 'json']);
    if (login.code !== 0) throw describeFailure('kubectl auth whoami with the login', login);
    if (idp.counts.authorizations < 1) throw new Error('the first kubectl auth whoami did not log in at the provider');
    for (const v of variants) {
      const run = await whoami(v, ['-o', 'json']);
      const user = run.code === 0 ? (JSON.parse(run.stdout) as { status?: { userInfo?: { username?: string } } }).status?.userInfo?.username : undefined;
      if (user !== 'alice@example.com') throw describeFailure(`${v.label}: kubectl auth whoami (user ${user ?? 'none'})`, run);
    }

    // Plugin processes per kubectl command, through a wrapper named like the plugin, first on PATH.
    const countDir = join(dir, 'count-bin');
    const countFile = join(dir, 'plugin-runs.log');
    mkdirSync(countDir, { recursive: true });
    writeFileSync(join(countDir, 'kubectl-oidc_login'), `#!/bin/sh\necho run >> '${countFile}'\nexec '${bin}' "$@"\n`, { mode: 0o755 });
    const countEnv: Env = { ...baseEnv, PATH: `${countDir}:${baseEnv.PATH ?? ''}` };
    const countRuns = async (v: Variant): Promise<number> => {
      writeFileSync(countFile, '');
      const run = await whoami(v, [], countEnv);
      if (run.code !== 0) throw describeFailure(`${v.label}: kubectl auth whoami through the counting wrapper`, run);
      return readFileSync(countFile, 'utf8').split('\n').filter((line) => line !== '').length;
    };
    const pluginRunsPerCommand = { plugin: await countRuns(pluginVariant), kubectlPlugin: await countRuns(kubectlVariant) };
    const versionNote = `kubectl ${clientVersion}${dispatcher ? ' (the Cloud SDK dispatcher: it re-executes a versioned kubectl, running the plugin twice, when the server is too far from its own minor version)' : ''}; ` +
      `the emulator reports ${serverVersion}; plugin processes per command: ${pluginRunsPerCommand.plugin} for (b), ${pluginRunsPerCommand.kubectlPlugin} for (c)`;

    // Interleaved rounds, rotating order.
    idp.resetCounts();
    server.reset();
    const samples = new Map<string, number[]>(variants.map((v) => [v.id, []]));
    let timedRuns = 0;
    let timedApiRequests = 0;
    for (let round = 0; round < settings.kubectlWarmup + settings.kubectlRounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(round + i) % variants.length] as Variant;
        const before = server.requests.length;
        const run = await whoami(v);
        if (run.code !== 0) throw describeFailure(`${v.label}, round ${round}`, run);
        if (server.requests.slice(before).some((r) => !r.authenticated)) throw new Error(`${v.label}, round ${round}: a request was not authenticated`);
        if (round >= settings.kubectlWarmup) {
          samples.get(v.id)?.push(run.closedAt - run.startedAt);
          timedRuns += 1;
          timedApiRequests += server.requests.length - before;
        }
      }
    }
    const providerRequestsDuringTiming = idp.counts.requests;
    const base = median(samples.get('static') ?? []);
    const stats: KubectlVariantStats[] = variants.map((v) => {
      const s = summarize(samples.get(v.id) ?? []);
      return { id: v.id, label: v.label, ...s, ratio: s.medianMs / base, deltaMs: s.medianMs - base };
    });
    const ratio = (id: string) => stats.find((s) => s.id === id)?.ratio ?? NaN;
    const result: KubectlResults = {
      kubectl, clientVersion, dispatcher, serverVersion, versionNote, rounds: settings.kubectlRounds, warmupRounds: settings.kubectlWarmup,
      pluginRunsPerCommand, apiRequestsPerCommand: timedRuns ? timedApiRequests / timedRuns : NaN, providerRequestsDuringTiming,
      variants: stats, ratios: { pluginOverStatic: ratio('plugin'), kubectlPluginOverStatic: ratio('kubectl-plugin') },
    };
    console.log(`\nkubectl auth whoami against the HTTPS API-server emulator (warm, own kubeconfig and --cache-dir per variant), ` +
      `${result.rounds} rounds + ${result.warmupRounds} warm-up, interleaved; ms:`);
    printTable(['variant', 'median ms', 'min', 'max', 'ratio to (a)', 'delta ms', 'n'], stats.map((s) => [
      s.label, f1(s.medianMs), f1(s.minMs), f1(s.maxMs), f2(s.ratio), s.id === 'static' ? '—' : signed(s.deltaMs), String(s.n),
    ]));
    console.log(`b/a ${f2(result.ratios.pluginOverStatic)}, c/a ${f2(result.ratios.kubectlPluginOverStatic)}; API requests per command: ${f1(result.apiRequestsPerCommand)}; ` +
      `requests to the provider during the timed rounds: ${providerRequestsDuringTiming}`);
    console.log(versionNote);
    return result;
  }
}
