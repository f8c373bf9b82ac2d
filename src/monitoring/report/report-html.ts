/** Renders a report as one self-contained HTML page: inline CSS and SVG, no scripts, no network. */
import type { ColumnDrift } from '../drift/data-drift.js';
import type { TextDrift } from '../drift/text-drift.js';
import type { ConfusionMatrix, ModelTask, SidePerformance } from '../performance/labelled-performance.js';
import type { ColumnSummary, Overlay, ReportColumn, ReportDocument, ReportImportance, ReportPerformance } from './report-builder.js';

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(3);
  return String(Number(x.toPrecision(5)));
}

const W = 300;
const H = 132;
/** Plot area inside the SVG: room on the left for share ticks, below for value ticks and the axis title. */
const PLOT = { left: 52, right: 10, top: 8, bottom: 34 };

/** A share as a short percentage for tick labels. */
function pct(v: number): string {
  const p = v * 100;
  return `${p === 0 ? '0' : p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)}%`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** A histogram (or category bars) of reference vs current shares, with labelled axes. */
function overlaySvg(o: Overlay): string {
  const n = o.reference.length;
  const pw = W - PLOT.left - PLOT.right;
  const ph = H - PLOT.top - PLOT.bottom;
  const x0 = PLOT.left;
  const y0 = PLOT.top + ph;
  const max = Math.max(1e-12, ...o.reference, ...o.current);
  const bw = pw / n;
  const bars = (vals: number[], cls: string, shift: number) =>
    vals
      .map((v, i) => {
        const h = (v / max) * ph;
        return `<rect class="${cls}" x="${(x0 + i * bw + shift).toFixed(1)}" y="${(y0 - h).toFixed(1)}" width="${Math.max(1, bw / 2 - 0.5).toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(o.type === 'histogram' ? `[${num(o.edges[i])}, ${num(o.edges[i + 1])})` : o.labels[i])}: ${num(v * 100)}%</title></rect>`;
      })
      .join('');
  const yTicks = [0, max / 2, max]
    .map((v) => {
      const y = (y0 - (v / max) * ph).toFixed(1);
      return `<line x1="${x0 - 3}" y1="${y}" x2="${x0}" y2="${y}"/><text x="${x0 - 5}" y="${y}" text-anchor="end" dominant-baseline="middle">${pct(v)}</text>`;
    })
    .join('');
  let xTicks: string;
  if (o.type === 'histogram') {
    const at = [0, Math.floor(n / 2), n];
    xTicks = at
      .map((i, k) => {
        const x = (x0 + i * bw).toFixed(1);
        return `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 3}"/><text x="${x}" y="${y0 + 13}" text-anchor="${k === 0 ? 'start' : k === at.length - 1 ? 'end' : 'middle'}">${esc(num(o.edges[i]))}</text>`;
      })
      .join('');
  } else {
    const step = Math.ceil(n / 6);
    xTicks = o.labels
      .map((l, i) => (i % step === 0 ? `<text x="${(x0 + (i + 0.5) * bw).toFixed(1)}" y="${y0 + 13}" text-anchor="middle">${esc(truncate(l, Math.max(4, Math.floor((bw * step) / 6))))}</text>` : ''))
      .join('');
  }
  const axes =
    `<g class="axis y"><line x1="${x0}" y1="${PLOT.top}" x2="${x0}" y2="${y0}"/>${yTicks}<text class="title" x="10" y="${PLOT.top + ph / 2}" transform="rotate(-90 10 ${PLOT.top + ph / 2})" text-anchor="middle">share</text></g>` +
    `<g class="axis x"><line x1="${x0}" y1="${y0}" x2="${x0 + pw}" y2="${y0}"/>${xTicks}<text class="title" x="${x0 + pw / 2}" y="${H - 4}" text-anchor="middle">${o.type === 'histogram' ? 'value' : 'category'}</text></g>`;
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="reference and current distributions">${bars(o.reference, 'ref', 0)}${bars(o.current, 'cur', bw / 2)}${axes}</svg>`;
}

function stats(s: ColumnSummary | null): string {
  if (!s) return 'absent';
  const base = `${s.rows} rows, ${s.missing} missing, ${s.distinct} distinct`;
  if (s.mean !== undefined) return `${base}, mean ${num(s.mean)}, std ${num(s.std)}, min ${num(s.min)}, median ${num(s.median)}, max ${num(s.max)}`;
  return s.top && s.top.length > 0 ? `${base}, top ${s.top.slice(0, 3).map((t) => `${t.value} (${t.count})`).join(', ')}` : base;
}

/** The distributions cell of a drift row: the overlay and each side's summary. */
function distributionCell(c: ReportColumn | undefined): string {
  if (!c) return '<td class="dist muted">not in the reference</td>';
  const plot = c.overlay ? overlaySvg(c.overlay) : '<p class="muted">No plot (no values on one side, or text).</p>';
  return `<td class="dist">${plot}<div class="muted"><span class="key ref"></span>reference: ${esc(stats(c.reference))}<br><span class="key cur"></span>current: ${esc(stats(c.current))}</div></td>`;
}

const DRIFT_HEAD = '<thead><tr><th>column</th><th>kind</th><th>test</th><th>score</th><th>threshold</th><th>statistic</th><th>status</th><th>note</th><th>distributions <span class="key ref"></span>reference <span class="key cur"></span>current</th></tr></thead>';

function driftRow(d: ColumnDrift, c: ReportColumn | undefined): string {
  return `<tr class="${d.status}"><td>${esc(d.column)}</td><td>${esc(d.kind)}</td><td>${esc(d.test ?? '—')}</td><td>${num(d.score)}${d.scoreKind === 'p-value' ? ' (p)' : ''}</td><td>${num(d.threshold)}</td><td>${num(d.statistic)}</td><td><b>${esc(d.status)}</b>${d.approximate ? ' ≈' : ''}</td><td>${esc(d.note ?? '')}</td>${distributionCell(c)}</tr>`;
}

/** A column without a drift test (skipped by the spec): its distributions only. */
function untestedRow(c: ReportColumn): string {
  return `<tr class="skipped"><td>${esc(c.name)}</td><td>${esc(c.kind)}</td><td>—</td><td>—</td><td>—</td><td>—</td><td><b>not tested</b></td><td>drift skipped by the spec</td>${distributionCell(c)}</tr>`;
}

const METRICS: Record<ModelTask, Array<[string, string]>> = {
  classification: [
    ['rows', 'labelled rows'],
    ['accuracy', 'accuracy'],
    ['precision', 'precision'],
    ['recall', 'recall'],
    ['f1', 'F1'],
    ['rocAuc', 'ROC AUC'],
    ['logLoss', 'log loss'],
  ],
  regression: [
    ['rows', 'labelled rows'],
    ['mae', 'mean absolute error'],
    ['rmse', 'root mean squared error'],
    ['r2', 'R²'],
  ],
};

function confusionTable(m: ConfusionMatrix, caption: string): string {
  const head = `<tr><th>actual ↓ / predicted →</th>${m.labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr>`;
  const body = m.counts.map((row, i) => `<tr><th>${esc(m.labels[i])}</th>${row.map((v, j) => `<td class="${i === j ? 'hit' : v > 0 ? 'miss' : ''}">${v}</td>`).join('')}</tr>`).join('');
  return `<table class="confusion"><caption>${esc(caption)}</caption><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function performanceSection(p: ReportPerformance): string {
  const figure = (side: SidePerformance | null, key: string) => (side ? num((side as unknown as Record<string, number | null>)[key]) : '—');
  const sideNote = (side: SidePerformance | null) => (side && side.task === 'classification' ? ` (${side.average === 'binary' ? `positive label ${esc(side.positiveLabel)}` : 'macro average over labels'})` : '');
  const rows = METRICS[p.task]
    .filter(([key]) => p.task === 'regression' || key === 'rows' || !['rocAuc', 'logLoss'].includes(key) || [p.reference, p.current].some((s) => s?.task === 'classification' && s.threshold !== null))
    .map(([key, label]) => `<tr><td>${esc(label)}</td><td>${figure(p.reference, key)}</td><td>${figure(p.current, key)}</td></tr>`)
    .join('');
  const matrices = [p.current && p.current.task === 'classification' ? confusionTable(p.current.confusionMatrix, 'Confusion matrix, current') : '', p.reference && p.reference.task === 'classification' ? confusionTable(p.reference.confusionMatrix, 'Confusion matrix, reference') : ''].join('');
  return `<h2>Model performance</h2>
<p>${esc(p.task)} (${p.taskFrom === 'spec' ? 'set by the spec' : 'inferred from the target'}): prediction <b>${esc(p.prediction)}</b> against target <b>${esc(p.target)}</b>${sideNote(p.current ?? p.reference)}. Metrics as scikit-learn defines them.</p>
${p.notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('')}
<table class="metrics"><thead><tr><th>metric</th><th>reference</th><th>current</th></tr></thead><tbody>${rows}</tbody></table>
<div class="matrices">${matrices}</div>`;
}

/** The feature-importance table, drifted features marked. */
function importanceSection(imp: ReportImportance, drifted: Set<string>): string {
  const how = imp.method === 'exact' ? 'exact Shapley values' : `KernelSHAP, ${imp.sampleBudget} coalitions per row`;
  const rows = imp.features.map((f) => `<tr class="${drifted.has(f.name) ? 'drift' : ''}"><td>${esc(f.name)}</td><td>${num(f.meanAbsAttribution)}</td><td>${pct(f.share)}</td><td>${drifted.has(f.name) ? '<b>drifted</b>' : ''}</td></tr>`).join('\n');
  return `<h2>Feature importance</h2>
<p class="muted">Mean absolute attribution of ${esc(imp.output)} of model ${esc(imp.model)} version ${esc(imp.version)} over ${imp.rows} rows drawn from the current data, against ${imp.backgroundSize} background rows from its reference (${esc(how)}). A drifted feature high in this list moves the predictions most.</p>
<table class="metrics"><thead><tr><th>feature</th><th>mean |attribution|</th><th>share</th><th>drift</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

/** Text drift of a text model's inputs: lengths, vocabulary, empty and non-text shares, token distribution. */
function textSection(text: Record<string, TextDrift>): string {
  const tables = Object.entries(text).map(([name, d]) => {
    const row = (label: string, c: { reference: number; current: number }, test: string, format: (v: number) => string = num) => `<tr class="${test.includes('drift') ? 'drift' : ''}"><td>${esc(label)}</td><td>${format(c.reference)}</td><td>${format(c.current)}</td><td>${test}</td></tr>`;
    return `<h3>${esc(name)}: ${d.drift ? '<b>drifted</b>' : 'no drift'}</h3>
<table class="metrics"><thead><tr><th>figure</th><th>reference</th><th>current</th><th>test</th></tr></thead><tbody>
${row('texts', d.rows, '', String)}
${row('tokens per text (mean)', d.tokenLength, `KS p = ${num(d.tokenLength.pValue)}${d.tokenLength.drift ? ' (drift)' : ''}`)}
${row('characters per text (mean)', d.charLength, '')}
${row('out-of-vocabulary tokens', d.oovRate, '', pct)}
${row('empty or missing', d.emptyShare, '', pct)}
${row('not text', d.nonTextShare, '', pct)}
<tr class="${d.tokens.drift ? 'drift' : ''}"><td>token distribution</td><td></td><td></td><td>Jensen–Shannon ${num(d.tokens.jensenShannon)} (threshold ${num(d.tokens.threshold)})${d.tokens.drift ? ' (drift)' : ''}</td></tr>
</tbody></table>`;
  });
  return `<h2>Text drift</h2>
<p class="muted">Each text input profiled with the model's tokenizer on both sides.</p>
${tables.join('\n')}`;
}

/** The report as a self-contained HTML page. */
export function reportToHtml(doc: ReportDocument): string {
  const byName = new Map(doc.columns.map((c) => [c.name, c]));
  const q = doc.quality;
  const drifted = doc.drift.columns.filter((d) => d.drifted);
  const calm = doc.drift.columns.filter((d) => !d.drifted);
  const roleNames = new Set([doc.targetDrift?.column, doc.predictionDrift?.column]);
  const tested = new Set(doc.drift.columns.map((d) => d.column));
  const untested = doc.columns.filter((c) => c.role === 'feature' && !tested.has(c.name) && !roleNames.has(c.name));
  const roleRows = [doc.targetDrift, doc.predictionDrift].filter((d): d is ColumnDrift => d !== null);
  const failing = q.tests.filter((t) => t.status !== 'pass');
  const passing = q.tests.filter((t) => t.status === 'pass');
  const qualityRow = (t: (typeof q.tests)[number]) => `<tr class="${t.status}"><td>${esc(t.name)}</td><td>${esc(t.column ?? '')}</td><td><b>${esc(t.status)}</b></td><td>${num(t.value)}</td><td>${esc(t.condition)}</td><td>${esc(t.message)}</td></tr>`;
  const qualityHead = '<thead><tr><th>test</th><th>column</th><th>status</th><th>value</th><th>condition</th><th>message</th></tr></thead>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slipway monitoring report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:14px;margin:0 0 6px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e3e6ec;padding:4px 8px;text-align:left;font-variant-numeric:tabular-nums}
tr.drift td,tr.fail td,tr.error td{background:#fdecec}tr.warn td{background:#fff6e0}tr.skipped td{color:#777}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.b-pass{background:#2e7d32}.b-warn{background:#b26a00}.b-fail,.b-error{background:#c62828}
td.dist{width:${W + 16}px}td.dist .muted{max-width:${W}px}
details.passed{margin-top:10px}details.passed>summary{cursor:pointer;color:#2e7d32;font-weight:600}
table.metrics{width:auto}table.metrics td:not(:first-child){text-align:right}
.matrices{display:flex;gap:24px;flex-wrap:wrap;margin-top:12px}table.confusion{width:auto}table.confusion caption{text-align:left;font-weight:600;padding:4px 0}
table.confusion td{text-align:right;min-width:48px}table.confusion td.hit{background:#e6f4ea}table.confusion td.miss{background:#fdecec}
svg text{font-size:10px;fill:#555}svg text.title{font-size:10px;fill:#333}.axis line{stroke:#888;stroke-width:1}rect.ref{fill:#5b7fbf}rect.cur{fill:#e08a3c}
.muted{color:#666;font-size:12px}.key{display:inline-block;width:10px;height:10px;margin-right:4px}.key.ref{background:#5b7fbf}.key.cur{background:#e08a3c}
</style></head><body>
<h1>Monitoring report <span class="badge b-${esc(doc.status)}">${esc(doc.status)}</span></h1>
<p>Reference <b>${esc(doc.reference.source)}</b> (${doc.reference.rows} rows) vs current <b>${esc(doc.current.source)}</b> (${doc.current.rows} rows). Generated ${esc(doc.generatedAt)}.</p>
<p>Dataset drift: <b>${doc.drift.drifted ? 'detected' : 'not detected'}</b> — ${doc.drift.driftedColumns} of ${doc.drift.testedColumns} feature columns drifted (share ${num(doc.drift.share)}, threshold ${num(doc.drift.driftShare)}).
Quality: ${q.counts.pass} pass, ${q.counts.warn} warn, ${q.counts.fail} fail, ${q.counts.error} error.</p>
${doc.text ? textSection(doc.text) : ''}
${doc.performance ? performanceSection(doc.performance) : ''}
${doc.importance ? importanceSection(doc.importance, new Set(drifted.map((d) => d.column))) : doc.importanceNote ? `<h2>Feature importance</h2>\n<p class="muted">${esc(doc.importanceNote)}</p>` : ''}
${
  roleRows.length > 0
    ? `<h2>Target and prediction drift</h2>
<table class="drift-table">${DRIFT_HEAD}<tbody>${roleRows.map((d) => driftRow(d, byName.get(d.column))).join('')}</tbody></table>`
    : ''
}
<h2>Feature drift by column (most severe first)</h2>
${drifted.length > 0 ? '' : '<p>No feature drifted.</p>\n'}<table class="drift-table">${DRIFT_HEAD}<tbody>
${drifted.map((d) => driftRow(d, byName.get(d.column))).join('\n')}
</tbody></table>
${
  calm.length + untested.length > 0
    ? `<details class="passed"><summary>${calm.length + untested.length} column${calm.length + untested.length === 1 ? '' : 's'} without drift (${calm.filter((d) => d.status === 'ok').length} passed, ${calm.filter((d) => d.status === 'skipped').length + untested.length} not tested)</summary>
<table class="drift-table">${DRIFT_HEAD}<tbody>${calm.map((d) => driftRow(d, byName.get(d.column))).join('\n')}${untested.map(untestedRow).join('\n')}</tbody></table></details>`
    : ''
}
<h2>Data quality</h2>
${failing.length > 0 ? `<table>${qualityHead}<tbody>${failing.map(qualityRow).join('\n')}</tbody></table>` : '<p>Every check passed.</p>'}
${passing.length > 0 ? `<details class="passed"><summary>${passing.length} passing check${passing.length === 1 ? '' : 's'}</summary><table>${qualityHead}<tbody>${passing.map(qualityRow).join('\n')}</tbody></table></details>` : ''}
</body></html>
`;
}
