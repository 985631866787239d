/**
 * The benchmark's chart, as a plain SVG string (no charting dependency): throughput applied end
 * to end against offered load (top), and latency sent → visible, p50/p95/p99 on a log scale
 * (bottom). Fixed-rate steps are joined by lines; maximum runs are separate markers, one per
 * replica count, placed at the rate the producer reached. Pure.
 */

export interface ChartPoint {
  /** Offered wagers/s; null for a maximum run (as fast as the producer goes). */
  readonly offered: number | null;
  /** What the producer sent, wagers/s: the x of a maximum run. */
  readonly sent: number;
  /** Applied and visible in the projector, wagers/s. */
  readonly applied: number;
  readonly replicas: number;
  /** Sent → visible, ms; null when no probe was seen. */
  readonly latency: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
}

export interface ChartInput {
  readonly title: string;
  readonly subtitle: string;
  readonly points: readonly ChartPoint[];
}

const W = 880;
const PANEL_H = 260;
const M = { left: 80, right: 170, top: 60, gap: 70, bottom: 50 };
const H = M.top + PANEL_H + M.gap + PANEL_H + M.bottom;
const PLOT_W = W - M.left - M.right;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above x (x > 0); 1 for anything else. */
export function niceCeil(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

/** Five equal steps from 0 to `max`. */
export function linearTicks(max: number): number[] {
  return Array.from({ length: 6 }, (_, i) => (max * i) / 5);
}

/** Powers of ten covering [lo, hi] (lo, hi > 0). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** 12000 → "12k", 1500 → "1.5k", 250 → "250". */
export function shortNumber(x: number): string {
  if (Math.abs(x) >= 1e6) return `${+(x / 1e6).toFixed(1)}M`;
  if (Math.abs(x) >= 1e3) return `${+(x / 1e3).toFixed(1)}k`;
  return `${+x.toFixed(1)}`;
}

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

const SERIES = [
  { key: 'p50', color: '#2b8a3e', label: 'p50' },
  { key: 'p95', color: '#e67700', label: 'p95' },
  { key: 'p99', color: '#c92a2a', label: 'p99' },
] as const;

export function renderChart(input: ChartInput): string {
  const steps = input.points.filter((p) => p.offered !== null).sort((a, b) => a.sent - b.sent);
  const maxRuns = input.points.filter((p) => p.offered === null);
  const xOf = (p: ChartPoint): number => p.offered ?? p.sent;
  const xMax = niceCeil(Math.max(1, ...input.points.map((p) => Math.max(xOf(p), p.sent, p.applied))));
  const yMax = xMax;
  const lat = input.points.flatMap((p) => (p.latency === null ? [] : [p.latency.p50, p.latency.p99]));
  const latLo = Math.max(1, Math.min(10, ...lat));
  const latHi = Math.max(1000, ...lat);
  const lTicks = logTicks(latLo, latHi);
  const lMin = lTicks[0] ?? 1;
  const lMax = lTicks[lTicks.length - 1] ?? 1000;

  const top1 = M.top;
  const top2 = M.top + PANEL_H + M.gap;
  const x = (v: number): number => M.left + (v / xMax) * PLOT_W;
  const y1 = (v: number): number => top1 + PANEL_H - (v / yMax) * PANEL_H;
  const y2 = (v: number): number =>
    top2 +
    PANEL_H -
    ((Math.log10(Math.max(lMin, v)) - Math.log10(lMin)) / (Math.log10(lMax) - Math.log10(lMin))) * PANEL_H;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="24" font-size="16" font-weight="bold">${escapeXml(input.title)}</text>`,
    `<text x="${M.left}" y="42" fill="#555">${escapeXml(input.subtitle)}</text>`,
  );

  // Axes and grid.
  for (const [top, label] of [
    [top1, 'applied and visible, wagers/s'],
    [top2, 'sent → visible, ms (log)'],
  ] as const) {
    parts.push(
      `<rect x="${M.left}" y="${top}" width="${PLOT_W}" height="${PANEL_H}" fill="none" stroke="#999"/>`,
      `<text x="16" y="${fmt(top + PANEL_H / 2)}" transform="rotate(-90 16 ${fmt(top + PANEL_H / 2)})" text-anchor="middle">${escapeXml(label)}</text>`,
    );
    for (const t of linearTicks(xMax))
      parts.push(
        `<line x1="${fmt(x(t))}" y1="${top}" x2="${fmt(x(t))}" y2="${top + PANEL_H}" stroke="#eee"/>`,
        `<text x="${fmt(x(t))}" y="${top + PANEL_H + 16}" text-anchor="middle">${shortNumber(t)}</text>`,
      );
  }
  parts.push(
    `<text x="${fmt(M.left + PLOT_W / 2)}" y="${H - 12}" text-anchor="middle">offered load, wagers/s (maximum runs at the rate the producer reached)</text>`,
  );
  for (const t of linearTicks(yMax))
    parts.push(
      `<line x1="${M.left}" y1="${fmt(y1(t))}" x2="${M.left + PLOT_W}" y2="${fmt(y1(t))}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${fmt(y1(t) + 4)}" text-anchor="end">${shortNumber(t)}</text>`,
    );
  for (const t of lTicks)
    parts.push(
      `<line x1="${M.left}" y1="${fmt(y2(t))}" x2="${M.left + PLOT_W}" y2="${fmt(y2(t))}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${fmt(y2(t) + 4)}" text-anchor="end">${shortNumber(t)}</text>`,
    );
  // Applied = offered: where a pipeline that keeps up lies.
  parts.push(
    `<line x1="${fmt(x(0))}" y1="${fmt(y1(0))}" x2="${fmt(x(xMax))}" y2="${fmt(y1(yMax))}" stroke="#adb5bd" stroke-dasharray="4 4"/>`,
  );

  // Throughput.
  if (steps.length > 0)
    parts.push(
      `<polyline fill="none" stroke="#1c7ed6" stroke-width="2" points="${steps.map((p) => `${fmt(x(xOf(p)))},${fmt(y1(p.applied))}`).join(' ')}"/>`,
    );
  for (const p of steps)
    parts.push(`<circle cx="${fmt(x(xOf(p)))}" cy="${fmt(y1(p.applied))}" r="4" fill="#1c7ed6"/>`);
  for (const p of maxRuns)
    parts.push(
      `<rect x="${fmt(x(p.sent) - 5)}" y="${fmt(y1(p.applied) - 5)}" width="10" height="10" fill="#7048e8"/>`,
      `<text x="${fmt(x(p.sent) + 8)}" y="${fmt(y1(p.applied) + 4)}" fill="#7048e8">max, ${p.replicas} repl.: ${shortNumber(p.applied)}/s</text>`,
    );

  // Latency.
  const withLatency = steps.filter((p) => p.latency !== null);
  for (const s of SERIES) {
    if (withLatency.length > 0)
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${withLatency
          .map((p) => `${fmt(x(xOf(p)))},${fmt(y2(p.latency?.[s.key] ?? lMin))}`)
          .join(' ')}"/>`,
      );
    for (const p of withLatency)
      parts.push(
        `<circle cx="${fmt(x(xOf(p)))}" cy="${fmt(y2(p.latency?.[s.key] ?? lMin))}" r="3" fill="${s.color}"/>`,
      );
    for (const p of maxRuns)
      if (p.latency !== null)
        parts.push(
          `<rect x="${fmt(x(p.sent) - 3)}" y="${fmt(y2(p.latency[s.key]) - 3)}" width="6" height="6" fill="${s.color}"/>`,
        );
  }

  // Legend.
  const lx = M.left + PLOT_W + 16;
  const legend: [string, string, 'line' | 'box'][] = [
    ['applied (fixed rate)', '#1c7ed6', 'line'],
    ['maximum run', '#7048e8', 'box'],
    ...SERIES.map((s): [string, string, 'line' | 'box'] => [`latency ${s.label}`, s.color, 'line']),
  ];
  legend.forEach(([label, color, shape], i) => {
    const ly = top1 + 10 + i * 20;
    parts.push(
      shape === 'line'
        ? `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${color}" stroke-width="2"/>`
        : `<rect x="${lx + 5}" y="${ly - 5}" width="10" height="10" fill="${color}"/>`,
      `<text x="${lx + 26}" y="${ly + 4}">${escapeXml(label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
