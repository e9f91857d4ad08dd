/** The tuner's reports: a console table of the Pareto front and a self-contained HTML page with the chart. */
import type { Measurement } from './measurement.js';
import type { TuneResult } from './tune-result.js';

const row = (m: Measurement) => `${m.throughput.toFixed(1).padStart(12)}  ${m.p99Ms.toFixed(2).padStart(9)}  ${String(m.concurrency).padStart(4)}  ${m.feasible ? 'yes' : 'no '}  ${m.key}`;

export function formatFront(result: TuneResult): string {
  const lines = [
    `Strategy ${result.strategy} (seed ${result.seed}), objective ${result.objective === 'latency' ? 'minimise p99 latency' : 'maximise throughput'}: ${result.measurements.length} measurements, ${result.measuredSeconds.toFixed(1)} s measured, ${result.candidatesInSpace} candidates in the space (${result.stoppedBy})`,
    'Pareto front (throughput vs p99):',
    `${'infer/sec'.padStart(12)}  ${'p99 ms'.padStart(9)}  ${'conc'.padStart(4)}  ok   config`,
    ...result.front.map(row),
    result.best ? `Best: ${result.best.key} — ${result.best.throughput.toFixed(1)} infer/sec, p99 ${result.best.p99Ms.toFixed(2)} ms` : 'Best: no candidate met the constraints',
  ];
  return `${lines.join('\n')}\n`;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch] ?? ch);

export function tuneHtmlReport(result: TuneResult): string {
  const points = result.measurements.filter((m) => m.error === undefined && Number.isFinite(m.p99Ms));
  const width = 640;
  const height = 400;
  const pad = 50;
  const maxX = Math.max(1, ...points.map((m) => m.p99Ms)) * 1.1;
  const maxY = Math.max(1, ...points.map((m) => m.throughput)) * 1.1;
  const x = (v: number) => pad + (v / maxX) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / maxY) * (height - 2 * pad);
  const front = new Set(result.front);
  const circles = points
    .map((m) => `<circle cx="${x(m.p99Ms).toFixed(1)}" cy="${y(m.throughput).toFixed(1)}" r="${front.has(m) ? 5 : 3}" fill="${front.has(m) ? '#c0392b' : '#7f8c8d'}"><title>${escape(m.key)}: ${m.throughput.toFixed(1)} infer/s, p99 ${m.p99Ms.toFixed(2)} ms</title></circle>`)
    .join('\n');
  const line = result.front
    .slice()
    .sort((a, b) => a.p99Ms - b.p99Ms)
    .map((m) => `${x(m.p99Ms).toFixed(1)},${y(m.throughput).toFixed(1)}`)
    .join(' ');
  const rows = result.front
    .map((m) => `<tr><td>${m.throughput.toFixed(1)}</td><td>${m.p99Ms.toFixed(2)}</td><td>${m.concurrency}</td><td>${m.feasible ? 'yes' : 'no'}</td><td>${escape(m.key)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>nereid tune: ${escape(result.model)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style></head>
<body><h1>nereid tune: ${escape(result.model)}</h1>
<p>Strategy ${result.strategy}, seed ${result.seed}: ${result.measurements.length} measurements, ${result.measuredSeconds.toFixed(1)} s measured (${result.stoppedBy}).</p>
<svg width="${width}" height="${height}" role="img" aria-label="throughput against p99 latency">
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#000"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="#000"/>
<text x="${width / 2}" y="${height - 10}" text-anchor="middle">p99 latency (ms, 0–${maxX.toFixed(1)})</text>
<text x="15" y="${height / 2}" transform="rotate(-90 15 ${height / 2})" text-anchor="middle">throughput (infer/s, 0–${maxY.toFixed(0)})</text>
<polyline points="${line}" fill="none" stroke="#c0392b"/>
${circles}
</svg>
<h2>Pareto front</h2>
<table><tr><th>infer/s</th><th>p99 ms</th><th>concurrency</th><th>meets constraints</th><th>config</th></tr>
${rows}
</table>
<p>Best: ${result.best ? escape(result.best.key) : 'no candidate met the constraints'}</p>
</body></html>
`;
}
