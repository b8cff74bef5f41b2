/**
 * The end of a bench run: the targets table, the SVG chart, and the scenario fields of the JSON results.
 * Called by bench/bench.ts with its start-up figures.
 */
import { renderChart, type ChartBar, type ChartInput, type ChartStack } from './chart.js';
import type { ScenarioResults } from './scenarios.js';
import { STARTUP_RATIO_TARGET, evaluateTargets, printTargets, type StartupFigures, type TargetRow } from './targets.js';

export interface StartupRow {
  id: string;
  label: string;
  medianMs: number;
  ratio: number;
}

const STARTUP_LABELS: Record<string, string> = {
  baseline: 'node -e 0',
  floor: '/bin/true (harness floor)',
  bundle: 'cache hit: node dist/kubectl-oidc_login.cjs',
  bin: 'cache hit: bin/kubectl-oidc_login (installed form)',
  fullcli: 'cache hit through the full CLI',
  crypto: "node -e \"require('node:crypto')…\"",
};

export function chartInput(main: readonly StartupRow[], scenarios: ScenarioResults | undefined, subtitle: string): ChartInput {
  const startup: ChartBar[] = main.map((row) => ({
    label: STARTUP_LABELS[row.id] ?? row.label,
    medianMs: row.medianMs,
    ratio: row.ratio,
    kind: row.id === 'baseline' || row.id === 'floor' ? 'base' : row.id === 'bin' || row.id === 'bundle' ? 'main' : 'other',
  }));
  const input: ChartInput = { title: 'kubectl-oidc-login bench', subtitle, startup, kubectl: undefined, stacks: [] };
  const baseline = main.find((row) => row.id === 'baseline');
  if (baseline !== undefined) input.startupTarget = { ms: baseline.medianMs * STARTUP_RATIO_TARGET, label: `target: ${STARTUP_RATIO_TARGET.toFixed(2)}× node -e 0` };
  if (scenarios === undefined) return input;
  const k = scenarios.kubectl;
  if ('variants' in k) {
    const labels: Record<string, string> = { static: '(a) static token', plugin: '(b) command: kubectl-oidc_login', 'kubectl-plugin': '(c) command: kubectl oidc-login get-token' };
    input.kubectl = k.variants.map((v) => ({ label: labels[v.id] ?? v.label, medianMs: v.medianMs, ratio: v.ratio, kind: v.id === 'static' ? 'base' : v.id === 'plugin' ? 'main' : 'alt' }));
    input.kubectlNote = `${k.clientVersion} against an emulator reporting ${k.serverVersion}; plugin runs per command: ${k.pluginRunsPerCommand.plugin} (b), ${k.pluginRunsPerCommand.kubectlPlugin} (c)`;
  }
  const short: Record<string, string> = {
    startup: 'start-up', discovery: 'discovery', authorize: 'authorize (browser + login form)', token: 'token request', verification: 'verification (JWKS + signature)', exit: 'exit',
  };
  const stack = (label: string, phases: readonly { id: string; level: number; medianMs: number }[], totalMs: number): ChartStack => ({
    label,
    segments: phases.filter((p) => p.level === 0).map((p) => ({ id: p.id, label: short[p.id] ?? p.id, ms: p.medianMs })),
    totalMs,
  });
  if ('phases' in scenarios.login) input.stacks.push(stack('full login, HTTP-client browser (spawn → exit)', scenarios.login.phases, scenarios.login.exit.medianMs));
  if ('phases' in scenarios.refresh) input.stacks.push(stack('--force-refresh (spawn → exit)', scenarios.refresh.phases, scenarios.refresh.exit.medianMs));
  const p = scenarios.parallel;
  if ('authorizations' in p) {
    input.parallel = {
      heading: `${p.processes} parallel cold invocations (empty cache, released at once), median of ${p.repeats}, ms`,
      label: `${p.processes} parallel: all printed a token`, wallMs: p.wall.medianMs, oneLoginMs: p.oneLoginMs, targetMs: p.targetMs,
    };
  }
  return input;
}

export interface Finished {
  targets: TargetRow[];
  svg: string;
}

/** Prints the targets table and renders the chart. */
export function finishReport(startup: StartupFigures, main: readonly StartupRow[], scenarios: ScenarioResults | undefined, subtitle: string): Finished {
  const targets = evaluateTargets(startup, scenarios);
  printTargets(targets);
  return { targets, svg: renderChart(chartInput(main, scenarios, subtitle)) };
}
