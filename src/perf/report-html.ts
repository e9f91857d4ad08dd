/**
 * `--report FILE.html`: one self-contained page (inline CSS and SVG, no scripts,
 * nothing fetched) with the throughput-versus-latency chart across the load
 * levels and the table of every level, so that it can be mailed or attached to
 * an issue as it is.
 */
import type { LevelResult, PerfResult } from './perf-result.js';

const WIDTH = 760;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 130, top: 20, bottom: 50 };

interface Series {
  name: string;
  color: string;
  latencyMs: (level: LevelResult) => number;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Tick values at 1, 2 or 5 × a power of ten, about five of them up to `max`. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString());

function loadLabel(level: LevelResult): string {
  return level.concurrency !== undefined ? `c=${level.concurrency}` : `${level.requestRate}/s`;
}

export function throughputLatencyChart(levels: readonly LevelResult[], percentile: number | null): string {
  const series: Series[] = [
    { name: 'avg', color: '#1f77b4', latencyMs: (l) => l.latencyUs.avg / 1000 },
    { name: 'p50', color: '#2ca02c', latencyMs: (l) => (l.latencyUs.percentiles['50'] ?? 0) / 1000 },
    { name: 'p90', color: '#ff7f0e', latencyMs: (l) => (l.latencyUs.percentiles['90'] ?? 0) / 1000 },
    { name: 'p99', color: '#d62728', latencyMs: (l) => (l.latencyUs.percentiles['99'] ?? 0) / 1000 },
  ];
  if (percentile !== null && ![50, 90, 99].includes(percentile)) {
    series.push({ name: `p${percentile}`, color: '#9467bd', latencyMs: (l) => (l.latencyUs.percentiles[String(percentile)] ?? 0) / 1000 });
  }
  const xTicks = niceTicks(Math.max(0, ...levels.map((l) => l.throughput)));
  const yTicks = niceTicks(Math.max(0, ...levels.flatMap((l) => series.map((s) => s.latencyMs(l)))));
  const xMax = xTicks[xTicks.length - 1];
  const yMax = yTicks[yTicks.length - 1];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number) => MARGIN.left + (v / xMax) * plotW;
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="Latency versus throughput">`);
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#999"/>`);
  for (const t of xTicks) {
    parts.push(`<line x1="${x(t)}" y1="${MARGIN.top}" x2="${x(t)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" font-size="12">${fmt(t)}</text>`);
  }
  for (const t of yTicks) {
    parts.push(`<line x1="${MARGIN.left}" y1="${y(t)}" x2="${MARGIN.left + plotW}" y2="${y(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${y(t) + 4}" text-anchor="end" font-size="12">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle" font-size="13">throughput (infer/s)</text>`);
  parts.push(`<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">latency (ms)</text>`);
  series.forEach((s, i) => {
    const points = levels.map((l) => `${x(l.throughput).toFixed(1)},${y(s.latencyMs(l)).toFixed(1)}`);
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(' ')}"/>`);
    for (const l of levels) {
      const title = `${loadLabel(l)}: ${l.throughput.toFixed(1)} infer/s, ${s.name} ${s.latencyMs(l).toFixed(3)} ms`;
      parts.push(`<circle cx="${x(l.throughput).toFixed(1)}" cy="${y(s.latencyMs(l)).toFixed(1)}" r="3.5" fill="${s.color}"><title>${escapeHtml(title)}</title></circle>`);
    }
    const ly = MARGIN.top + 14 + i * 20;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 16}" y1="${ly - 4}" x2="${WIDTH - MARGIN.right + 40}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 46}" y="${ly}" font-size="12">${escapeHtml(s.name)}</text>`);
  });
  for (const l of levels) {
    parts.push(`<text x="${x(l.throughput).toFixed(1)}" y="${(y(series[0].latencyMs(l)) - 8).toFixed(1)}" text-anchor="middle" font-size="10" fill="#555">${escapeHtml(loadLabel(l))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function levelRow(level: LevelResult, withServer: boolean): string {
  const ms = (v: number) => (v / 1000).toFixed(3);
  const cells = [
    String(level.concurrency ?? level.requestRate),
    level.throughput.toFixed(1),
    ms(level.latencyUs.avg),
    ms(level.latencyUs.percentiles['50'] ?? 0),
    ms(level.latencyUs.percentiles['90'] ?? 0),
    ms(level.latencyUs.percentiles['95'] ?? 0),
    ms(level.latencyUs.percentiles['99'] ?? 0),
    String(level.errorCount),
    level.stable ? 'yes' : 'no',
    `${level.generator.cpuPercent.toFixed(0)} %`,
  ];
  if (withServer) {
    const s = level.server;
    cells.push(...(s ? [ms(s.queueUs), ms(s.computeInputUs), ms(s.computeInferUs), ms(s.computeOutputUs), ms(s.networkUs)] : ['', '', '', '', '']));
  }
  const cls = level.stable && level.withinLatencyThreshold ? '' : ' class="dim"';
  return `<tr${cls}>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}

export function htmlReport(result: PerfResult, generatedAt = new Date()): string {
  const withServer = result.serverStatistics.available;
  const title = `nereid perf: ${result.model}${result.version ? ` v${result.version}` : ''}`;
  const header = [result.mode === 'concurrency' ? 'concurrency' : 'rate/s', 'infer/s', 'avg ms', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'errors', 'stable', 'generator CPU'];
  if (withServer) header.push('queue ms', 'compute input ms', 'compute infer ms', 'compute output ms', 'network+server I/O ms');
  const facts: Array<[string, string]> = [
    ['server', `${result.url} (${result.protocol}${result.streaming ? ', streaming' : ''}${result.sharedMemory === 'system' ? ', system shared memory' : ''})`],
    ['batch size', String(result.batchSize)],
    ...(result.tensorFormat ? [['tensors', `${result.tensorFormat.inputs} inputs, ${result.tensorFormat.outputs} outputs`] as [string, string]] : []),
    ['load', result.mode === 'concurrency' ? 'concurrency' : `request rate, ${result.requestDistribution} distribution`],
    [
      'measurement window',
      `${result.measurementMode === 'time_windows' ? `${result.measurementIntervalMs} ms` : `whole seconds until ${result.measurementRequestCount} requests completed`}, stability ${result.stabilityPercentage} %, at most ${result.maxTrials} windows`],
    ['stabilising on', result.percentile === null ? 'average latency' : `p${result.percentile} latency`],
    ['generator threads', String(result.threads)],
    ['failed requests', String(result.errorCount)],
    ['server-side split', withServer ? 'from the statistics extension' : `unavailable: ${result.serverStatistics.reason ?? ''}`],
    ['generated', generatedAt.toISOString()],
  ];
  const notes = [...(result.stopReason ? [`Stopped: ${result.stopReason}`] : []), ...result.warnings];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f4f4f4; }
table.facts td:first-child { text-align: left; font-weight: 600; }
table.facts td { text-align: left; }
tr.dim td { color: #999; }
.notes { color: #a33; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<table class="facts">${facts.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
${notes.length > 0 ? `<ul class="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<h2>Latency versus throughput</h2>
${result.levels.length > 0 ? throughputLatencyChart(result.levels, result.percentile) : '<p>No load level was measured.</p>'}
<h2>Load levels</h2>
<p>Greyed rows were not stable or went over the latency threshold; perf_analyzer leaves them out of its CSV.</p>
<table>
<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>
${result.levels.map((level) => levelRow(level, withServer)).join('\n')}
</table>
</body>
</html>
`;
}
