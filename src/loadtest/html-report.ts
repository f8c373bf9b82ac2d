/**
 * A self-contained HTML report of a load test: inline SVG charts (latency and
 * throughput over time, the percentile curve), thresholds with verdicts and the
 * run's settings. No scripts, fonts or styles are fetched, so it opens offline.
 */
import type { LoadTestResult } from './load-test-result.js';

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function fmt(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** An SVG line chart; `xLabels` maps an x value to its tick text. */
function lineChart(title: string, yUnit: string, series: Series[], xLabel: (x: number) => string, xTicks?: number[]): string {
  const W = 720;
  const H = 260;
  const L = 60;
  const R = 20;
  const T = 30;
  const B = 40;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (all.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p class="empty">No data.</p></figure>`;
  const xs = all.map(([x]) => x);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const yMax = niceMax(Math.max(...all.map(([, y]) => y)));
  const px = (x: number): number => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const grid: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    grid.push(`<line x1="${L}" x2="${W - R}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" class="grid"/><text x="${L - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${esc(fmt(y))}</text>`);
  }
  const ticks = xTicks ?? Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  for (const x of ticks) grid.push(`<text x="${px(x).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${esc(xLabel(x))}</text>`);
  const lines = series.map((s) => {
    const d = s.points
      .filter(([, y]) => Number.isFinite(y))
      .map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
  });
  const legend = series.map((s, i) => `<rect x="${L + i * 110}" y="8" width="12" height="12" fill="${s.color}"/><text x="${L + 16 + i * 110}" y="18">${esc(s.name)}</text>`);
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">
<text x="12" y="${T - 8}" class="unit">${esc(yUnit)}</text>${grid.join('')}<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/>${lines.join('')}${legend.join('')}</svg></figure>`;
}

/** Renders the report. */
export function renderHtmlReport(r: LoadTestResult): string {
  const ts = r.timeSeries;
  const latency = lineChart(
    'Latency over time',
    'ms',
    [
      { name: 'p50', color: '#2b8a3e', points: ts.map((s) => [s.second, s.p50]) },
      { name: 'p90', color: '#1971c2', points: ts.map((s) => [s.second, s.p90]) },
      { name: 'p99', color: '#e8590c', points: ts.map((s) => [s.second, s.p99]) },
      { name: 'max', color: '#c92a2a', points: ts.map((s) => [s.second, s.max]), dashed: true },
    ],
    (x) => `${Math.round(x)}s`,
  );
  const throughputSeries: Series[] = [{ name: 'achieved', color: '#1971c2', points: ts.map((s) => [s.second, s.completed]) }];
  if (r.settings.mode === 'open') throughputSeries.push({ name: 'offered', color: '#868e96', points: ts.map((s) => [s.second, s.offered ?? Number.NaN]), dashed: true });
  throughputSeries.push({ name: 'errors', color: '#c92a2a', points: ts.map((s) => [s.second, s.errors]) });
  const throughput = lineChart('Throughput over time', 'requests/s', throughputSeries, (x) => `${Math.round(x)}s`);
  // Percentiles on the classic HdrHistogram axis: x = log10(1 / (1 - p)), so the tail gets room.
  const curvePoints = r.percentileCurve.filter((p) => p.percentile < 100).map((p) => [Math.log10(1 / (1 - p.percentile / 100)), p.ms] as [number, number]);
  const curve = lineChart('Latency by percentile', 'ms', [{ name: 'latency', color: '#5f3dc4', points: curvePoints }], (x) => `${fmt(100 * (1 - 10 ** -x), 3)}%`, [0, 1, 2, 3, 4, 5].filter((x) => x <= Math.max(...curvePoints.map(([px]) => px), 0) + 1e-9));
  const verdict = (ok: boolean): string => `<span class="${ok ? 'pass' : 'fail'}">${ok ? 'PASS' : 'FAIL'}</span>`;
  const thresholdRows = r.thresholds
    .map((t) => {
      const unit = t.metric === 'latency' ? ' ms' : t.metric === 'throughput' ? '/s' : '';
      const actual = t.metric === 'error_rate' ? `${fmt(t.actual * 100, 3)}%` : `${fmt(t.actual)}${unit}`;
      return `<tr><td><code>${esc(t.expression)}</code></td><td>${esc(actual)}</td><td>${verdict(t.passed)}</td></tr>`;
    })
    .join('');
  const l = r.latencyMs;
  const s = r.settings;
  const settings: Array<[string, unknown]> = [
    ['Target', `${r.target.method} ${r.target.url}`],
    ['Protocol', r.target.protocol],
    ['Model', r.target.model ? `${r.target.model.name}${r.target.model.version ? ` v${r.target.model.version}` : ''}${r.target.model.alias ? ` (@${r.target.model.alias})` : ''}` : '–'],
    ['Load model', s.mode === 'open' ? `open: ${s.profile.map((p) => (p.from === p.to ? `${fmt(p.from)}/s for ${fmt(p.durationMs / 1000)}s` : `${fmt(p.from)}→${fmt(p.to)}/s over ${fmt(p.durationMs / 1000)}s`)).join(', ')}` : `closed: ${s.clients} clients`],
    ['Duration (measured)', `${fmt(s.durationMs / 1000)} s`],
    ['Warm-up (excluded)', `${fmt(s.warmupMs / 1000)} s`],
    ['Workers / connections', `${s.workers} / ${s.connections}`],
    ['Timeout', `${fmt(s.timeoutMs)} ms`],
    ['Payloads', `${s.payloads} distinct, ${s.rowsPerRequest} row(s) per request, ${s.sampling}${s.seed !== null ? ` (seed ${s.seed})` : ''}`],
    ['Data', s.data ?? '–'],
    ['Started / finished', `${r.startedAt} / ${r.finishedAt}`],
  ];
  const errors = Object.entries({ ...r.errorsByKind, ...Object.fromEntries(Object.entries(r.errorsByStatus).map(([k, v]) => [`HTTP ${k}`, v])) });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test — ${esc(r.target.model?.name ?? r.target.url)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212529;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #dee2e6;padding:4px 10px;text-align:left}
.pass{color:#2b8a3e;font-weight:bold}.fail{color:#c92a2a;font-weight:bold}
figure{margin:16px 0}figcaption{font-weight:bold;margin-bottom:4px}
svg text{font-size:11px;fill:#495057}.grid{stroke:#e9ecef}.axis{stroke:#868e96}.unit{font-weight:bold}
.stats td:nth-child(2){text-align:right}.empty{color:#868e96}
</style></head><body>
<h1>Load test ${verdict(r.passed)} — ${esc(r.target.model?.name ?? r.target.url)}</h1>
${r.failures.length ? `<ul>${r.failures.map((f) => `<li class="fail">${esc(f)}</li>`).join('')}</ul>` : ''}
<h2>Summary</h2>
<table class="stats"><tr><th>Statistic</th><th>Value</th></tr>
<tr><td>Requests sent / completed / ok</td><td>${r.requests.sent} / ${r.requests.completed} / ${r.requests.ok}</td></tr>
<tr><td>Throughput achieved / offered</td><td>${fmt(r.throughput.achieved)}/s / ${r.throughput.offered === null ? '–' : `${fmt(r.throughput.offered)}/s`}</td></tr>
<tr><td>Error rate</td><td>${fmt(r.errorRate * 100, 3)}%</td></tr>
${(['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max'] as const).map((k) => `<tr><td>Latency ${k}</td><td>${fmt(l[k])} ms</td></tr>`).join('')}
<tr><td>Generator</td><td>${r.generator.behind ? `<span class="fail">fell behind</span>: ${esc(r.generator.reason)}` : 'kept its schedule'} (late sends ${r.generator.late}, dropped ${r.generator.dropped}, mean send lag ${fmt(r.generator.meanLagMs, 3)} ms, worst ${fmt(r.generator.maxLateMs)} ms)</td></tr>
</table>
${errors.length ? `<h2>Errors</h2><table><tr><th>Kind</th><th>Count</th></tr>${errors.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`).join('')}</table>` : ''}
<h2>Thresholds</h2>
${r.thresholds.length ? `<table><tr><th>Threshold</th><th>Measured</th><th>Verdict</th></tr>${thresholdRows}</table>` : '<p class="empty">No thresholds were set.</p>'}
${r.baseline ? `<h2>Baseline</h2><table><tr><th></th><th>Baseline</th><th>This run</th><th>Change</th></tr><tr><td>p99</td><td>${fmt(r.baseline.baseline.p99Ms)} ms</td><td>${fmt(r.baseline.current.p99Ms)} ms</td><td>${fmt(r.baseline.change.p99 * 100, 1)}%</td></tr><tr><td>Throughput</td><td>${fmt(r.baseline.baseline.throughput)}/s</td><td>${fmt(r.baseline.current.throughput)}/s</td><td>${fmt(r.baseline.change.throughput * 100, 1)}%</td></tr></table><p>Source: ${esc(r.baseline.baseline.source)} — ${verdict(r.baseline.passed)}</p>` : ''}
<h2>Charts</h2>
${latency}
${throughput}
${curve}
<h2>Settings</h2>
<table>${settings.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
</body></html>
`;
}
