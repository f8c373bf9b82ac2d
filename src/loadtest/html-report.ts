/**
 * Self-contained HTML reports of a load test and of a capacity search: inline SVG
 * charts, thresholds with verdicts and the run's settings. No scripts, fonts or
 * styles are fetched, so a report opens offline and can be kept as a CI artifact.
 *
 * The charts are hand-written SVG rather than a charting library: none ships with
 * the package, and a few hundred bytes of SVG per chart keep reports small. Hover
 * values come from SVG <title> elements on one band per x value, so no script runs.
 */
import type { CapacitySearchResult } from './capacity-search.js';
import type { LoadTestResult, SecondStats } from './load-test-result.js';
import { parseThresholds, type Threshold } from './threshold-parser.js';

interface Series {
  name: string;
  color: string;
  /** Non-finite y values leave a gap. */
  points: Array<[number, number]>;
  dashed?: boolean;
}

/** A horizontal reference line, e.g. an SLO limit. */
interface RefLine {
  label: string;
  y: number;
}

interface ChartSpec {
  title: string;
  yUnit: string;
  series: Series[];
  xTicks: number[];
  /** Tick text of an x value. */
  xTick: (x: number) => string;
  /** Hover heading of an x value. */
  xHover: (x: number) => string;
  /** Hover text of a y value. */
  yHover: (y: number) => string;
  refLines?: RefLine[];
  /** x values to mark (e.g. the step that broke). */
  marks?: Array<{ x: number; label: string }>;
  /** Keep both axes from 0 even when the data starts later. */
  xFrom?: number;
}

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function fmt(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** An axis number without trailing zeros: 62.5, 0.25, 1000. */
const axisText = (v: number): string => String(Number(v.toFixed(3)));

const msText = (v: number): string => (Number.isFinite(v) ? `${fmt(v)} ms` : '–');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p + 1e-12) return m * p;
  return 10 * p;
}

/** Whole-number ticks from 0 (or `from`) to `to`, at most about 8 of them, on a step a reader counts in. */
function niceTicks(from: number, to: number, steps: readonly number[]): number[] {
  const span = Math.max(to - from, 1);
  const step = steps.find((s) => span / s <= 8) ?? niceMax(span / 8);
  const out: number[] = [];
  for (let x = Math.ceil(from / step) * step; x <= to + 1e-9; x += step) out.push(x);
  return out;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

/** Seconds as `7s`, or `2m30s` from two minutes on. */
function timeText(x: number): string {
  const s = Math.round(x);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** An SVG line chart at the page's full width, with SLO lines and a hover band per x value. */
function lineChart(c: ChartSpec): string {
  const W = 1000;
  const H = 300;
  const L = 64;
  const R = 24;
  const T = 34;
  const B = 40;
  const finite = c.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (finite.length === 0) return `<figure><figcaption>${esc(c.title)}</figcaption><p class="empty">No data.</p></figure>`;
  const xs = [...new Set(finite.map(([x]) => x))].sort((a, b) => a - b);
  const x0 = Math.min(c.xFrom ?? Infinity, xs[0] as number);
  const x1 = (xs.at(-1) as number) === x0 ? x0 + 1 : (xs.at(-1) as number);
  const dataMax = Math.max(...finite.map(([, y]) => y));
  // An SLO far above the data would flatten it; such a line is named above the chart instead.
  const refs = c.refLines ?? [];
  const shown = refs.filter((r) => r.y <= Math.max(dataMax, Number.MIN_VALUE) * 4);
  const yMax = niceMax(Math.max(dataMax, ...shown.map((r) => r.y)) * 1.05);
  const px = (x: number): number => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" class="grid"/><text x="${L - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${esc(axisText(y))}</text>`);
  }
  for (const x of c.xTicks.filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9)) parts.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${H - B}" y2="${H - B + 4}" class="axis"/><text x="${px(x).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${esc(c.xTick(x))}</text>`);
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/>`);
  for (const m of c.marks ?? []) parts.push(`<line x1="${px(m.x).toFixed(1)}" x2="${px(m.x).toFixed(1)}" y1="${T}" y2="${H - B}" class="mark"/><text x="${(px(m.x) - 4).toFixed(1)}" y="${T + 12}" text-anchor="end" class="mark-label">${esc(m.label)}</text>`);
  for (const r of shown) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py(r.y).toFixed(1)}" y2="${py(r.y).toFixed(1)}" class="slo"><title>${esc(r.label)}</title></line><text x="${L + 6}" y="${(py(r.y) - 5).toFixed(1)}" class="slo-label">${esc(r.label)}</text>`);
  }
  const dense = xs.length > 60;
  for (const s of c.series) {
    let d = '';
    let pen = 'M';
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) {
        pen = 'M';
        continue;
      }
      d += `${pen}${px(x).toFixed(1)},${py(y).toFixed(1)} `;
      pen = 'L';
    }
    parts.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!dense) for (const [x, y] of s.points) if (Number.isFinite(y)) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
  }
  // Hover: one transparent band per x value whose <title> lists every series there.
  xs.forEach((x, i) => {
    const left = i === 0 ? L : (px(xs[i - 1] as number) + px(x)) / 2;
    const right = i === xs.length - 1 ? W - R : (px(x) + px(xs[i + 1] as number)) / 2;
    const values = c.series.map((s) => {
      const y = s.points.find(([px_]) => px_ === x)?.[1];
      return y === undefined ? null : `${s.name} ${Number.isFinite(y) ? c.yHover(y) : '–'}`;
    });
    parts.push(`<rect x="${left.toFixed(1)}" y="${T}" width="${Math.max(right - left, 0.5).toFixed(1)}" height="${H - T - B}" class="hover"><title>${esc(`${c.xHover(x)}: ${values.filter((v) => v !== null).join(', ')}`)}</title></rect>`);
  });
  // The unit sits above the y axis; the legend starts to its right.
  const lx = (i: number): number => L + 110 + i * 110;
  const legend = c.series.map((s, i) => `<line x1="${lx(i)}" x2="${lx(i) + 18}" y1="14" y2="14" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${lx(i) + 24}" y="18">${esc(s.name)}</text>`);
  if (shown.length) legend.push(`<line x1="${lx(c.series.length)}" x2="${lx(c.series.length) + 18}" y1="14" y2="14" class="slo"/><text x="${lx(c.series.length) + 24}" y="18">SLO</text>`);
  const offScale = refs.filter((r) => !shown.includes(r));
  const note = offScale.length ? `<p class="note">Off the scale, above the data: ${offScale.map((r) => esc(r.label)).join(', ')}.</p>` : '';
  return `<figure><figcaption>${esc(c.title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="${esc(c.title)}">
<text x="8" y="18" class="unit">${esc(c.yUnit)}</text>${parts.join('')}${legend.join('')}</svg>${note}</figure>`;
}

/** SLO lines for latency thresholds that set an upper bound (`p99<50ms`, `mean<=5ms`). */
function latencySloLines(thresholds: readonly Threshold[]): RefLine[] {
  return thresholds.filter((t) => t.metric === 'latency' && (t.op === '<' || t.op === '<=')).map((t) => ({ label: `SLO ${t.expression}`, y: t.limit }));
}

/**
 * The seconds a per-second chart shows: only whole seconds of the measured window.
 * A trailing partial second (and answers that landed after the window) hold a
 * fraction of a second's requests and would read as a collapse of throughput.
 */
export function chartedSeconds(r: LoadTestResult): SecondStats[] {
  const whole = Math.floor(r.settings.durationMs / 1000);
  return r.timeSeries.filter((s) => s.second < whole);
}

/** Percentile labels used throughout the reports: p50, p99.9, p99.999. */
function percentileLabel(p: number): string {
  return `p${Number(p.toFixed(3))}`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;padding:0 24px;color:#212529;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #dee2e6;padding:4px 10px;text-align:left;vertical-align:top}
.pass{color:#2b8a3e;font-weight:bold}.fail{color:#c92a2a;font-weight:bold}
figure{margin:16px 0;width:100%}figcaption{font-weight:bold;margin-bottom:4px}svg{display:block;max-width:100%;height:auto}
svg text{font-size:12px;fill:#495057}.grid{stroke:#e9ecef}.axis{stroke:#868e96}.unit{font-weight:bold}
.slo{stroke:#c92a2a;stroke-width:1.5;stroke-dasharray:2 3}svg .slo-label{fill:#c92a2a;font-weight:bold;paint-order:stroke;stroke:#fff;stroke-width:3px}
.mark{stroke:#c92a2a;stroke-width:1;stroke-dasharray:4 4}svg .mark-label{fill:#c92a2a;paint-order:stroke;stroke:#fff;stroke-width:3px}
.hover{fill:#1971c2;fill-opacity:0}.hover:hover{fill-opacity:.08}
.stats td:nth-child(2){text-align:right}.num td{text-align:right}.num td:first-child,.num td.why{text-align:left}.empty,.note{color:#868e96}
tr.broke td{background:#fff5f5}.why{max-width:520px}`;
/** Renders the report of one load test. */
export function renderHtmlReport(r: LoadTestResult): string {
  const ts = chartedSeconds(r);
  const lastSecond = ts.at(-1)?.second ?? 0;
  const timeTicks = niceTicks(0, lastSecond, TIME_STEPS);
  const timeHover = (x: number): string => `${timeText(x)}–${timeText(x + 1)}`;
  const latency = lineChart({
    title: 'Latency over time (each whole second)',
    yUnit: 'ms',
    series: [
      { name: 'p50', color: '#2b8a3e', points: ts.map((s) => [s.second, s.p50]) },
      { name: 'p90', color: '#1971c2', points: ts.map((s) => [s.second, s.p90]) },
      { name: 'p99', color: '#e8590c', points: ts.map((s) => [s.second, s.p99]) },
      { name: 'max', color: '#862e9c', points: ts.map((s) => [s.second, s.max]), dashed: true },
    ],
    xTicks: timeTicks,
    xTick: timeText,
    xHover: timeHover,
    yHover: msText,
    refLines: latencySloLines(r.thresholds),
    xFrom: 0,
  });
  const throughputSeries: Series[] = [{ name: 'answered', color: '#1971c2', points: ts.map((s) => [s.second, s.completed]) }];
  if (r.settings.mode === 'open') throughputSeries.push({ name: 'offered', color: '#868e96', points: ts.map((s) => [s.second, s.offered ?? Number.NaN]), dashed: true });
  throughputSeries.push({ name: 'errors', color: '#c92a2a', points: ts.map((s) => [s.second, s.errors]) });
  const throughput = lineChart({
    title: 'Throughput over time (each whole second)',
    yUnit: 'requests/s',
    series: throughputSeries,
    xTicks: timeTicks,
    xTick: timeText,
    xHover: timeHover,
    yHover: (y) => `${fmt(y, 1)}/s`,
    refLines: r.thresholds.filter((t) => t.metric === 'throughput').map((t) => ({ label: `SLO ${t.expression}`, y: t.limit })),
    xFrom: 0,
  });
  const partial = r.timeSeries.length - ts.length;
  const seriesNote = ts.length === 0 ? '<p class="note">The measured window is shorter than a second, so there is no per-second series; see the percentile curve.</p>' : partial > 0 ? `<p class="note">The charts over time show whole seconds only; ${partial === 1 ? 'a partial last second is' : `${partial} trailing partial seconds are`} left out (they hold part of a second's requests).</p>` : '';
  // Percentiles on the classic HdrHistogram axis: x = log10(1 / (1 - p)), so the tail gets room.
  const curveData = r.percentileCurve.filter((p) => p.percentile < 100);
  const toX = (p: number): number => Math.log10(1 / (1 - p / 100));
  const byX = new Map(curveData.map((p) => [toX(p.percentile), p.percentile]));
  const curveMaxX = Math.max(0, ...curveData.map((p) => toX(p.percentile)));
  const curve = lineChart({
    title: 'Latency by percentile',
    yUnit: 'ms',
    series: [{ name: 'latency', color: '#5f3dc4', points: curveData.map((p) => [toX(p.percentile), p.ms]) }],
    xTicks: [0, 1, 2, 3, 4, 5].filter((x) => x <= curveMaxX + 1e-9),
    xTick: (x) => percentileLabel(100 * (1 - 10 ** -x)),
    xHover: (x) => percentileLabel(byX.get(x) ?? 100 * (1 - 10 ** -x)),
    yHover: msText,
    refLines: latencySloLines(r.thresholds),
  });
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
${STYLE}
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
${seriesNote}
${latency}
${throughput}
${curve}
<h2>Settings</h2>
<table>${settings.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
</body></html>
`;
}

/** Renders the report of a capacity search: the rate ladder, each step's percentiles, and the step that broke with why. */
export function renderCapacityReport(c: CapacitySearchResult): string {
  const verdict = (ok: boolean): string => `<span class="${ok ? 'pass' : 'fail'}">${ok ? 'HELD' : 'BROKE'}</span>`;
  const broke = c.steps.find((s) => !s.passed);
  const rates = c.steps.map((s) => s.rate);
  const rateTicks = niceTicks(Math.min(0, ...rates), Math.max(...rates, 1), [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 50_000, 100_000]);
  const rateHover = (x: number): string => {
    const s = c.steps.find((t) => t.rate === x);
    return `${fmt(x, 1)}/s offered${s ? ` (${s.passed ? 'held' : 'broke'})` : ''}`;
  };
  const marks = broke ? [{ x: broke.rate, label: `broke at ${fmt(broke.rate, 1)}/s` }] : [];
  const sloLines = latencySloLines(parseThresholds(c.thresholds));
  const latency = lineChart({
    title: 'Latency by offered rate (one point per step)',
    yUnit: 'ms',
    series: [
      { name: 'p50', color: '#2b8a3e', points: c.steps.map((s) => [s.rate, s.p50Ms]) },
      { name: 'p90', color: '#1971c2', points: c.steps.map((s) => [s.rate, s.p90Ms]) },
      { name: 'p99', color: '#e8590c', points: c.steps.map((s) => [s.rate, s.p99Ms]) },
      { name: 'p99.9', color: '#862e9c', points: c.steps.map((s) => [s.rate, s.p999Ms]), dashed: true },
    ],
    xTicks: rateTicks,
    xTick: (x) => `${fmt(x, 1)}/s`,
    xHover: rateHover,
    yHover: msText,
    refLines: sloLines,
    marks,
  });
  const throughput = lineChart({
    title: 'Throughput by offered rate',
    yUnit: 'requests/s',
    series: [
      { name: 'offered', color: '#868e96', points: c.steps.map((s) => [s.rate, s.rate]), dashed: true },
      { name: 'achieved', color: '#1971c2', points: c.steps.map((s) => [s.rate, s.achieved]) },
    ],
    xTicks: rateTicks,
    xTick: (x) => `${fmt(x, 1)}/s`,
    xHover: rateHover,
    yHover: (y) => `${fmt(y, 1)}/s`,
    marks,
  });
  const rows = c.steps
    .map(
      (s) =>
        `<tr class="${s.passed ? 'held' : 'broke'}"><td>${fmt(s.rate, 1)}/s</td><td>${fmt(s.achieved, 1)}/s</td><td>${msText(s.p50Ms)}</td><td>${msText(s.p90Ms)}</td><td>${msText(s.p99Ms)}</td><td>${msText(s.p999Ms)}</td><td>${msText(s.maxMs)}</td><td>${fmt(s.errorRate * 100, 3)}%</td><td class="why">${verdict(s.passed)}${s.reason ? ` — ${esc(s.reason)}` : ''}</td></tr>`,
    )
    .join('');
  const name = c.target ? (c.target.model?.name ?? c.target.url) : 'no target reached';
  const head =
    c.maxSustainableRate === null
      ? `No rate held; even the first step (${fmt(c.steps[0]?.rate ?? Number.NaN, 1)}/s) broke.`
      : `Highest rate that held: <strong>${fmt(c.maxSustainableRate, 1)}/s</strong>${c.breakingRate !== null ? `; broke at ${fmt(c.breakingRate, 1)}/s.` : '; the ladder ended before anything broke.'}`;
  const settings: Array<[string, unknown]> = [
    ['Target', c.target ? `${c.target.method} ${c.target.url}` : '–'],
    ['Thresholds', c.thresholds.join(', ')],
    ['Ladder', rates.length ? `${fmt(rates[0] as number, 1)}/s upwards, ${rates.length} step(s) of ${fmt(c.stepDurationMs / 1000)} s measured each` : '–'],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Capacity search — ${esc(name)}</title>
<style>
${STYLE}
</style></head><body>
<h1>Capacity search — ${esc(name)}</h1>
<p>${head}</p>
${broke ? `<h2>Why ${fmt(broke.rate, 1)}/s broke</h2><p class="fail breaking-reason">${esc(broke.reason ?? 'the step did not pass')}</p>` : ''}
<h2>Rate ladder</h2>
<table class="num ladder"><tr><th>Offered</th><th>Achieved</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>Errors</th><th>Outcome</th></tr>${rows}</table>
<h2>Charts</h2>
${latency}
${throughput}
<h2>Settings</h2>
<table>${settings.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
</body></html>
`;
}
