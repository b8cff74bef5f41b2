/**
 * bench/results/latest.svg, written as text (no plotting dependency): bars of the cache-hit start-up medians and of
 * the kubectl medians with their ratio labels on one shared ms scale; the login and the refresh split into phases on
 * a second scale; the parallel cold invocations against one login and their target on a third.
 */

export interface ChartBar {
  label: string;
  medianMs: number;
  /** Shown as "1.15×"; omitted when undefined. */
  ratio?: number;
  /** 'base' for the reference bar of a group. */
  kind?: 'base' | 'main' | 'other' | 'alt';
}

export interface ChartStack {
  label: string;
  segments: { id: string; label: string; ms: number }[];
  totalMs: number;
}

export interface ChartInput {
  title: string;
  subtitle: string;
  startup: ChartBar[];
  /** A dashed marker across the start-up bars (the ratio target). */
  startupTarget?: { ms: number; label: string };
  kubectl: ChartBar[] | undefined;
  kubectlNote?: string;
  stacks: ChartStack[];
  parallel?: { heading: string; label: string; wallMs: number; oneLoginMs: number; targetMs: number };
}

const WIDTH = 900;
const LABEL_W = 360;
const BAR_X = LABEL_W + 10;
const BAR_W = WIDTH - BAR_X - 170;
const ROW = 22;
const BAR_H = 14;
const COLORS: Record<string, string> = { base: '#9aa0a6', main: '#1f6feb', other: '#9dbce8', alt: '#e8710a' };
const PHASE_COLORS: Record<string, string> = {
  startup: '#4e79a7', discovery: '#76b7b2', authorize: '#f28e2b', token: '#59a14f', verification: '#b07aa1', exit: '#bab0ac',
};
const FALLBACK = ['#edc948', '#e15759', '#9c755f', '#ff9da7'];

const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');
const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function renderChart(input: ChartInput): string {
  const out: string[] = [];
  let y = 28;
  out.push(`<text x="16" y="${y}" font-size="16" font-weight="bold">${esc(input.title)}</text>`);
  y += 18;
  out.push(`<text x="16" y="${y}" fill="#555">${esc(input.subtitle)}</text>`);
  y += 14;

  // Start-up and kubectl share one ms scale, so that their bars compare.
  const fastMax = Math.max(...input.startup.map((b) => b.medianMs), ...(input.kubectl ?? []).map((b) => b.medianMs), 1);
  const bars = (heading: string, list: readonly ChartBar[], note?: string, target?: { ms: number; label: string }): void => {
    y += 22;
    out.push(`<text x="16" y="${y}" font-weight="bold">${esc(heading)}</text>`);
    if (note !== undefined) {
      y += 16;
      out.push(`<text x="16" y="${y}" fill="#555" font-size="11">${esc(note)}</text>`);
    }
    y += 8;
    const top = y;
    // Value labels start right of the target marker, so that it never crosses them.
    const targetX = target !== undefined && Number.isFinite(target.ms) ? BAR_X + (target.ms / fastMax) * BAR_W : 0;
    for (const bar of list) {
      const w = Number.isFinite(bar.medianMs) ? Math.max(1, (bar.medianMs / fastMax) * BAR_W) : 0;
      out.push(`<text x="${LABEL_W}" y="${y + 11}" text-anchor="end">${esc(clip(bar.label, 58))}</text>`);
      out.push(`<rect x="${BAR_X}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[bar.kind ?? 'main']}"/>`);
      const ratio = bar.ratio === undefined || !Number.isFinite(bar.ratio) ? '' : ` · ${bar.ratio.toFixed(2)}×`;
      out.push(`<text x="${(Math.max(BAR_X + w, targetX) + 6).toFixed(1)}" y="${y + 11}">${num(bar.medianMs)} ms${ratio}</text>`);
      y += ROW;
    }
    if (targetX > 0 && target !== undefined) {
      const tx = targetX;
      out.push(`<line x1="${tx.toFixed(1)}" y1="${top - 4}" x2="${tx.toFixed(1)}" y2="${y - 4}" stroke="#333" stroke-dasharray="3,2"/>`);
      out.push(`<text x="${tx.toFixed(1)}" y="${y + 8}" text-anchor="middle" font-size="11" fill="#333">${esc(target.label)}</text>`);
      y += 12;
    }
  };
  bars('Cache-hit start-up, median ms per process (ratio to node -e 0)', input.startup, undefined, input.startupTarget);
  if (input.kubectl !== undefined) bars('kubectl auth whoami against the HTTPS API-server emulator, median ms (ratio to the static token)', input.kubectl, input.kubectlNote);

  // Login and refresh by phase: a second scale.
  if (input.stacks.length > 0) {
    const slowMax = Math.max(...input.stacks.map((s) => Math.max(s.totalMs, s.segments.reduce((sum, seg) => sum + (Number.isFinite(seg.ms) ? seg.ms : 0), 0))), 1);
    const scale = (ms: number): number => (Number.isFinite(ms) ? (Math.max(0, ms) / slowMax) * BAR_W : 0);
    y += 22;
    out.push(`<text x="16" y="${y}" font-weight="bold">Full login and forced refresh by phase, median ms (another scale)</text>`);
    y += 8;
    const legend = new Map<string, string>();
    for (const stack of input.stacks) {
      out.push(`<text x="${LABEL_W}" y="${y + 11}" text-anchor="end">${esc(clip(stack.label, 58))}</text>`);
      let x = BAR_X;
      stack.segments.forEach((seg, i) => {
        const color = PHASE_COLORS[seg.id] ?? FALLBACK[i % FALLBACK.length] ?? '#999';
        if (!legend.has(seg.label)) legend.set(seg.label, color);
        const w = scale(seg.ms);
        out.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color}"><title>${esc(`${seg.label}: ${num(seg.ms)} ms`)}</title></rect>`);
        x += w;
      });
      out.push(`<text x="${(x + 6).toFixed(1)}" y="${y + 11}">${num(stack.totalMs)} ms</text>`);
      y += ROW;
    }
    let lx = BAR_X;
    for (const [label, color] of legend) {
      const width = 14 + label.length * 6.2;
      if (lx + width > WIDTH - 16) {
        lx = BAR_X;
        y += 16;
      }
      out.push(`<rect x="${lx}" y="${y}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${y + 9}" font-size="11">${esc(label)}</text>`);
      lx += width + 10;
    }
    y += 14;
  }

  // The parallel cold invocations against one login alone and the target: a third scale.
  if (input.parallel !== undefined) {
    const p = input.parallel;
    const max = Math.max(p.wallMs, p.targetMs, p.oneLoginMs, 1);
    const scale = (ms: number): number => (Number.isFinite(ms) ? (Math.max(0, ms) / max) * BAR_W : 0);
    y += 22;
    out.push(`<text x="16" y="${y}" font-weight="bold">${esc(p.heading)}</text>`);
    y += 8;
    const met = p.wallMs <= p.targetMs;
    const rows: [string, number, string, string][] = [
      ['one login alone (spawn → token)', p.oneLoginMs, COLORS.base ?? '#999', ''],
      [p.label, p.wallMs, met ? '#59a14f' : '#e15759', met ? ' · met' : ' · not met'],
    ];
    const top = y;
    for (const [label, ms, color, suffix] of rows) {
      const w = scale(ms);
      out.push(`<text x="${LABEL_W}" y="${y + 11}" text-anchor="end">${esc(clip(label, 58))}</text>`);
      out.push(`<rect x="${BAR_X}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`);
      out.push(`<text x="${(BAR_X + w + 6).toFixed(1)}" y="${y + 11}">${num(ms)} ms${suffix}</text>`);
      y += ROW;
    }
    if (Number.isFinite(p.targetMs)) {
      const tx = BAR_X + scale(p.targetMs);
      out.push(`<line x1="${tx.toFixed(1)}" y1="${top - 4}" x2="${tx.toFixed(1)}" y2="${y - 4}" stroke="#333" stroke-dasharray="3,2"/>`);
      out.push(`<text x="${tx.toFixed(1)}" y="${y + 8}" text-anchor="middle" font-size="11" fill="#333">target: one login + 1 s = ${num(p.targetMs)} ms</text>`);
      y += 12;
    }
  }
  y += 14;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="Helvetica, Arial, sans-serif" font-size="12">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${out.join('\n')}\n</svg>\n`;
}
