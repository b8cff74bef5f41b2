/** Small helpers shared by the bench's scenario sections (bench/scenarios.ts, bench/targets.ts, bench/chart.ts). */

export type Env = Record<string, string | undefined>;

/** Median, min and max of a sample (NaN when empty). */
export interface Summary {
  n: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  return { n: values.length, medianMs: median(values), minMs: values.length ? Math.min(...values) : NaN, maxMs: values.length ? Math.max(...values) : NaN };
}

/** A plain-text table: the first `left` columns left-aligned (default 1), the others right-aligned. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[], left = 1): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i < left ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

export const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');
export const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
export const signed = (n: number): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(1)}` : '—');

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution (comparable with Date.now()). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** The value of `--name N` or `--name=N` on the command line, or undefined. */
export function numberFlag(argv: readonly string[], name: string, min: number, max: number): number | undefined {
  const index = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return undefined;
  const text = argv[index]?.includes('=') ? argv[index]?.split('=')[1] : argv[index + 1];
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${text ?? ''}"`);
  return value;
}

/** The value of `--name X` or `--name=X`, or undefined. */
export function stringFlag(argv: readonly string[], name: string): string | undefined {
  const index = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index < 0) return undefined;
  return argv[index]?.includes('=') ? argv[index]?.slice(argv[index].indexOf('=') + 1) : argv[index + 1];
}
