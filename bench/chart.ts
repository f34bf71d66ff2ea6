/**
 * A small SVG chart of the HTTP setups: requests/s and p99 latency side by side, one bar per
 * setup (median over rounds). Hand-written SVG: no dependency, diffable, renders on GitHub.
 */
import { median, type BenchResults } from './report.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly gateway: boolean;
}

function panel(
  x0: number,
  title: string,
  unit: string,
  bars: readonly Bar[],
  width: number,
  rowH: number,
  labelW: number,
  digits: number,
): string {
  const max = niceMax(Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
  const plotW = width - labelW - 70;
  const out: string[] = [`<text x="${x0}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const y = 40 + i * rowH;
    const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max) * plotW) : 0;
    const fill = b.gateway ? '#2f6fde' : '#8a8f98';
    out.push(
      `<text x="${x0 + labelW - 6}" y="${y + rowH / 2 + 4}" font-size="11" text-anchor="end">${esc(b.label)}</text>`,
    );
    out.push(`<rect x="${x0 + labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${fill}"/>`);
    const text = Number.isFinite(b.value) ? `${b.value.toFixed(digits)}${unit ? ` ${unit}` : ''}` : 'n/a';
    out.push(
      `<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${y + rowH / 2 + 4}" font-size="11">${esc(text)}</text>`,
    );
  });
  return out.join('\n');
}

/** The SVG text for `results`. */
export function renderChart(results: BenchResults): string {
  const rows = results.http.filter((s) => !s.skipped && s.rounds.length > 0);
  const rps: Bar[] = rows.map((s) => ({
    label: s.label,
    value: median(s.rounds.map((r) => r.rps)),
    gateway: s.id.startsWith('gw_'),
  }));
  const p99: Bar[] = rows.map((s) => ({
    label: s.label,
    value: median(s.rounds.map((r) => r.p99Ms)),
    gateway: s.id.startsWith('gw_'),
  }));
  const rowH = 24;
  const panelW = 470;
  const labelW = 190;
  const height = 40 + rows.length * rowH + 40;
  const footer = `${esc(String(results.machine.cpus))} CPU · ${esc(String(results.machine.loadgen))} · ${esc(String(results.options.connections))} connections · medians of ${esc(String(results.options.rounds))} alternating rounds · ${esc(results.generatedAt)}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${panelW * 2 + 20}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#ffffff"/>
<g>${panel(10, 'requests/s (higher is better)', '', rps, panelW, rowH, labelW, 0)}</g>
<g>${panel(panelW + 10, 'p99 latency (lower is better)', 'ms', p99, panelW, rowH, labelW, 2)}</g>
<text x="10" y="${height - 12}" font-size="10" fill="#555">${footer}</text>
</svg>
`;
}
