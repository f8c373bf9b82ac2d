/** Renders a report as one self-contained HTML page: inline CSS and SVG, no scripts, no network. */
import type { ColumnDrift } from '../drift/data-drift.js';
import type { Overlay, ReportColumn, ReportDocument } from './report-builder.js';

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(3);
  return String(Number(x.toPrecision(5)));
}

const W = 360;
const H = 120;

function overlaySvg(o: Overlay): string {
  const n = o.reference.length;
  const max = Math.max(1e-12, ...o.reference, ...o.current);
  const bw = W / n;
  const bars = (vals: number[], cls: string, shift: number) =>
    vals
      .map((v, i) => {
        const h = (v / max) * (H - 14);
        return `<rect class="${cls}" x="${(i * bw + shift).toFixed(1)}" y="${(H - 14 - h).toFixed(1)}" width="${Math.max(1, bw / 2 - 0.5).toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(o.type === 'histogram' ? `[${num(o.edges[i])}, ${num(o.edges[i + 1])})` : o.labels[i])}: ${num(v * 100)}%</title></rect>`;
      })
      .join('');
  const axis =
    o.type === 'histogram'
      ? `<text x="0" y="${H - 2}">${esc(num(o.edges[0]))}</text><text x="${W}" y="${H - 2}" text-anchor="end">${esc(num(o.edges[o.edges.length - 1]))}</text>`
      : `<text x="0" y="${H - 2}">${esc(o.labels.slice(0, 4).join(' · '))}${o.labels.length > 4 ? ' …' : ''}</text>`;
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="reference and current distributions">${bars(o.reference, 'ref', 0)}${bars(o.current, 'cur', bw / 2)}${axis}</svg>`;
}

function driftRow(d: ColumnDrift): string {
  return `<tr class="${d.status}"><td>${esc(d.column)}</td><td>${esc(d.kind)}</td><td>${esc(d.test ?? '—')}</td><td>${num(d.score)}${d.scoreKind === 'p-value' ? ' (p)' : ''}</td><td>${num(d.threshold)}</td><td>${num(d.statistic)}</td><td><b>${esc(d.status)}</b>${d.approximate ? ' ≈' : ''}</td><td>${esc(d.note ?? '')}</td></tr>`;
}

function columnSection(c: ReportColumn, d: ColumnDrift | undefined): string {
  const r = c.reference;
  const k = c.current;
  const stats = (s: typeof r | null) => (s ? `${s.rows} rows, ${s.missing} missing, ${s.distinct} distinct${s.mean !== undefined ? `, mean ${num(s.mean)}, std ${num(s.std)}, min ${num(s.min)}, median ${num(s.median)}, max ${num(s.max)}` : ''}` : 'absent');
  return `<section class="col"><h3>${esc(c.name)} <small>${esc(c.kind)}${d ? ` · ${esc(d.status)}` : ''}</small></h3>${c.overlay ? overlaySvg(c.overlay) : '<p class="muted">No plot (no values on one side, or text).</p>'}<p class="muted"><span class="key ref"></span>reference: ${esc(stats(r))}<br><span class="key cur"></span>current: ${esc(stats(k))}</p></section>`;
}

/** The report as a self-contained HTML page. */
export function reportToHtml(doc: ReportDocument): string {
  const byCol = new Map(doc.drift.columns.map((d) => [d.column, d]));
  const ordered = [...doc.columns].sort((a, b) => (byCol.get(b.name)?.severity ?? 0) - (byCol.get(a.name)?.severity ?? 0));
  const q = doc.quality;
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
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:16px}
.col{border:1px solid #e3e6ec;border-radius:6px;padding:10px}
svg text{font-size:10px;fill:#555}rect.ref{fill:#5b7fbf}rect.cur{fill:#e08a3c}
.muted{color:#666;font-size:12px}.key{display:inline-block;width:10px;height:10px;margin-right:4px}.key.ref{background:#5b7fbf}.key.cur{background:#e08a3c}
</style></head><body>
<h1>Monitoring report <span class="badge b-${esc(doc.status)}">${esc(doc.status)}</span></h1>
<p>Reference <b>${esc(doc.reference.source)}</b> (${doc.reference.rows} rows) vs current <b>${esc(doc.current.source)}</b> (${doc.current.rows} rows). Generated ${esc(doc.generatedAt)}.</p>
<p>Dataset drift: <b>${doc.drift.drifted ? 'detected' : 'not detected'}</b> — ${doc.drift.driftedColumns} of ${doc.drift.testedColumns} columns drifted (share ${num(doc.drift.share)}, threshold ${num(doc.drift.driftShare)}).
Quality: ${q.counts.pass} pass, ${q.counts.warn} warn, ${q.counts.fail} fail, ${q.counts.error} error.</p>
<h2>Drift by column (most severe first)</h2>
<table><thead><tr><th>column</th><th>kind</th><th>test</th><th>score</th><th>threshold</th><th>statistic</th><th>status</th><th>note</th></tr></thead><tbody>
${doc.drift.columns.map(driftRow).join('\n')}
</tbody></table>
<h2>Data quality</h2>
<table><thead><tr><th>test</th><th>column</th><th>status</th><th>value</th><th>condition</th><th>message</th></tr></thead><tbody>
${q.tests.map((t) => `<tr class="${t.status}"><td>${esc(t.name)}</td><td>${esc(t.column ?? '')}</td><td><b>${esc(t.status)}</b></td><td>${num(t.value)}</td><td>${esc(t.condition)}</td><td>${esc(t.message)}</td></tr>`).join('\n')}
</tbody></table>
<h2>Distributions</h2>
<div class="grid">
${ordered.map((c) => columnSection(c, byCol.get(c.name))).join('\n')}
</div>
</body></html>
`;
}
