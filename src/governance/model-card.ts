/**
 * Model cards built from the store: the card tags of a version and its model, the signature, the
 * lineage, the gate figures of its releases, the monitoring reference and the latest live windows.
 * Rendered as JSON, Markdown (for a repository) or one self-contained, escaped HTML page.
 */
import type { ModelCard } from '../client/schemas/governance.js';
import { findReference } from '../monitoring/reference/reference-repository.js';
import { listWindows } from '../monitoring/live/window-repository.js';
import { buildLineage, type GovernanceSources } from './lineage.js';

/**
 * The version and model tags a card shows, in its order. A version's tag wins over its model's,
 * so a model states its purpose once and a version refines it.
 */
export const CARD_TAGS = ['intended_use', 'out_of_scope', 'limitations', 'training_data', 'evaluation_data', 'ethical_considerations', 'owner', 'license', 'contact'] as const;

// Live windows read for the drift status: a day of hourly windows.
const DRIFT_WINDOWS = 24;

/** Builds the card of `model` version `version` from what the store holds now. */
export async function buildModelCard(src: GovernanceSources, model: string, version: string, now: number = Date.now()): Promise<ModelCard> {
  const lineage = await buildLineage(src, { name: model, version });
  const [registered, mv] = await Promise.all([src.registry.getRegisteredModel(model), src.registry.getModelVersion(model, version)]);
  const details: Record<string, string> = {};
  for (const key of CARD_TAGS) {
    const value = mv.tags[key] ?? registered.tags[key];
    if (value !== undefined && value !== '') details[key] = value;
  }
  const evaluations = lineage.releases.flatMap((r) =>
    r.gates.filter((g) => g.kind !== 'approval').map((g) => ({ releaseId: r.id, environment: r.environment, gate: g.name, kind: g.kind, verdict: g.verdict, reason: g.reason, figures: g.figures })),
  );
  return {
    model: lineage.model,
    version: lineage.version,
    generatedTime: now,
    description: mv.description || registered.description || null,
    details,
    signature: lineage.artifact.signature,
    lineage,
    evaluations,
    monitoring: { baseline: await baselineOf(src, model, version), drift: await driftOf(src, model, version) },
  };
}

async function baselineOf(src: GovernanceSources, model: string, version: string): Promise<ModelCard['monitoring']['baseline']> {
  const ref = await findReference(src.store, model, version);
  if (!ref) return null;
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  const columns = [...ref.profile.columns.values()].map((c) => {
    const numeric = c.kind === 'numerical' && c.count > 0;
    return {
      name: c.name,
      kind: c.kind,
      missingShare: c.rows > 0 ? c.missing / c.rows : 0,
      mean: numeric ? finite(c.mean) : null,
      min: numeric ? finite(c.min) : null,
      max: numeric ? finite(c.max) : null,
      distinct: c.kind === 'numerical' ? null : c.distinct(),
    };
  });
  return { rows: ref.rows, source: ref.source, createdTime: ref.createdTime, columns };
}

async function driftOf(src: GovernanceSources, model: string, version: string): Promise<ModelCard['monitoring']['drift']> {
  const windows = await listWindows(src.store, model, { version, limit: DRIFT_WINDOWS });
  const latest = windows[0];
  if (!latest) return { status: 'no data', windows: 0, driftedWindows: 0, latest: null };
  const figure = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    status: latest.figures.dataset_drift === 1 ? 'drift' : latest.figures.dataset_drift === 0 ? 'no drift' : 'no data',
    windows: windows.length,
    driftedWindows: windows.filter((w) => w.figures.dataset_drift === 1).length,
    latest: { windowStart: latest.windowStart, windowEnd: latest.windowEnd, rows: latest.rows, driftShare: figure(latest.figures.drift_share), driftedColumns: figure(latest.figures.drifted_columns) },
  };
}

// ---- rendering ----

/** One labelled fact of a card, in plain text. */
interface Line {
  label: string;
  value: string;
}

const TITLES: Record<string, string> = {
  intended_use: 'Intended use',
  out_of_scope: 'Out of scope',
  limitations: 'Limitations',
  training_data: 'Training data',
  evaluation_data: 'Evaluation data',
  ethical_considerations: 'Ethical considerations',
  owner: 'Owner',
  license: 'Licence',
  contact: 'Contact',
};

function iso(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toISOString();
}

function figureText(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function tensors(specs: ReadonlyArray<{ name: string; type: string; shape: Array<number | string> }>): string {
  return specs.map((s) => `${s.name} ${s.type} [${s.shape.join(',')}]`).join(', ');
}

/** The card's content as plain-text facts, shared by the Markdown and HTML renderers so the two never disagree. */
function facts(card: ModelCard): { overview: Line[]; lineage: Line[]; unknown: string[] } {
  const l = card.lineage;
  const run = l.run;
  const overview: Line[] = [
    { label: 'Model', value: card.model },
    { label: 'Version', value: card.version },
    { label: 'Registered', value: `${iso(l.createdTime)}${l.registeredBy ? ` by ${l.registeredBy}` : ''}` },
    { label: 'Serving now', value: l.serving.aliases.length > 0 ? l.serving.aliases.join(', ') : 'no alias points at this version' },
    { label: 'Stage', value: l.stage },
  ];
  const lineage: Line[] = [
    { label: 'Source', value: l.artifact.source },
    { label: 'Model file', value: l.artifact.file ?? 'unknown' },
    { label: 'sha256', value: l.artifact.sha256 ?? 'unknown' },
  ];
  if (run) {
    lineage.push(
      { label: 'Run', value: `${run.runId} (${run.runName})` },
      { label: 'Experiment', value: `${run.experimentName ?? 'unknown'} (${run.experimentId})` },
      { label: 'Code revision', value: run.codeRevision ?? 'unknown' },
      { label: 'Source name', value: run.sourceName ?? 'unknown' },
      { label: 'Parameters', value: Object.entries(run.params).map(([k, v]) => `${k}=${v}`).join(', ') || 'none logged' },
      { label: 'Datasets', value: run.datasets.map((d) => `${d.datasetVersion ? `${d.datasetVersion.name}@${d.datasetVersion.version}` : d.name}${d.context ? ` (${d.context})` : ''}${d.digest ? ` digest ${d.digest}` : ''}`).join('; ') || 'unknown' },
      { label: 'Environment', value: Object.entries(run.environment).map(([k, v]) => `${k}=${v}`).join(', ') || 'unknown' },
    );
  } else {
    lineage.push({ label: 'Run', value: 'unknown (not registered from a run)' });
  }
  return { overview, lineage, unknown: l.unknown };
}

function md(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/([*_`[\]<>#])/g, '\\$1').replace(/\r?\n/g, ' ');
}

function mdTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

/** Renders a card as Markdown, fit to commit next to the model's code. */
export function cardToMarkdown(card: ModelCard): string {
  const f = facts(card);
  const out: string[] = [`# Model card: ${md(card.model)} version ${md(card.version)}`, '', `Generated from the Slipway store at ${iso(card.generatedTime)}.`, ''];
  out.push(mdTable(['Field', 'Value'], f.overview.map((x) => [x.label, x.value])), '');
  out.push('## Description', '', card.description ? md(card.description) : '_No description._', '');
  out.push('## Intended use and limitations', '');
  const details = Object.entries(card.details);
  out.push(details.length > 0 ? mdTable(['', ''], details.map(([k, v]) => [TITLES[k] ?? k, v])) : '_No card tags (intended_use, limitations, …) are set on this version or its model._', '');
  out.push('## Signature', '');
  out.push(card.signature ? mdTable(['Side', 'Tensors'], [['Inputs', tensors(card.signature.inputs)], ['Outputs', tensors(card.signature.outputs)]]) : '_Unknown: no ONNX file._', '');
  out.push('## Lineage', '', mdTable(['Field', 'Value'], f.lineage.map((x) => [x.label, x.value])), '');
  if (f.unknown.length > 0) out.push('Not known:', '', ...f.unknown.map((u) => `- ${md(u)}`), '');
  out.push('## Evaluation and load-test results', '');
  out.push(
    card.evaluations.length > 0
      ? mdTable(['Release', 'Environment', 'Gate', 'Kind', 'Verdict', 'Figures'], card.evaluations.map((e) => [e.releaseId, e.environment, e.gate, e.kind, e.verdict, Object.entries(e.figures).map(([k, v]) => `${k}: ${figureText(v)}`).join('; ')]))
      : '_No release of this version ran an evaluation, load-test or other gate._',
    '',
  );
  out.push('## Monitoring', '');
  const b = card.monitoring.baseline;
  if (b) {
    out.push(`Baseline: ${b.rows} rows${b.source ? ` from ${md(b.source)}` : ''}, attached ${iso(b.createdTime)}.`, '');
    out.push(mdTable(['Column', 'Kind', 'Missing', 'Mean', 'Min', 'Max', 'Distinct'], b.columns.map((c) => [c.name, c.kind, figureText(c.missingShare), ...[c.mean, c.min, c.max, c.distinct].map((x) => (x === null ? '—' : figureText(x)))])), '');
  } else {
    out.push('_No monitoring baseline (reference profile) is attached._', '');
  }
  const d = card.monitoring.drift;
  out.push(d.latest ? `Drift: **${d.status}** in the latest live window (${iso(d.latest.windowStart)} – ${iso(d.latest.windowEnd)}, ${d.latest.rows} rows, drift share ${d.latest.driftShare === null ? '—' : figureText(d.latest.driftShare)}); ${d.driftedWindows} of the last ${d.windows} windows drifted.` : 'Drift: no live windows recorded for this version.', '');
  out.push('## Release history', '');
  out.push(
    card.lineage.releases.length > 0
      ? mdTable(['Release', 'Environment', 'State', 'Requested by', 'Approved by', 'Started', 'Ended'], card.lineage.releases.map((r) => [r.id, r.environment, r.state, r.requestedBy, r.approvals.map((a) => a.by).join(', ') || '—', iso(r.createdTime), iso(r.endedTime)]))
      : '_This version has not been released._',
    '',
  );
  return out.join('\n');
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function htmlTable(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${html(h)}</th>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${html(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f4f6}.note{color:#555}';

/** Renders a card as one self-contained HTML page (inline style, no scripts, every value escaped). */
export function cardToHtml(card: ModelCard): string {
  const f = facts(card);
  const p = (text: string) => `<p class="note">${html(text)}</p>`;
  const parts: string[] = [];
  parts.push(`<h1>Model card: ${html(card.model)} version ${html(card.version)}</h1>`, p(`Generated from the Slipway store at ${iso(card.generatedTime)}.`));
  parts.push(htmlTable(['Field', 'Value'], f.overview.map((x) => [x.label, x.value])));
  parts.push('<h2>Description</h2>', card.description ? `<p>${html(card.description)}</p>` : p('No description.'));
  const details = Object.entries(card.details);
  parts.push('<h2>Intended use and limitations</h2>', details.length > 0 ? htmlTable(['', ''], details.map(([k, v]) => [TITLES[k] ?? k, v])) : p('No card tags (intended_use, limitations, …) are set on this version or its model.'));
  parts.push('<h2>Signature</h2>', card.signature ? htmlTable(['Side', 'Tensors'], [['Inputs', tensors(card.signature.inputs)], ['Outputs', tensors(card.signature.outputs)]]) : p('Unknown: no ONNX file.'));
  parts.push('<h2>Lineage</h2>', htmlTable(['Field', 'Value'], f.lineage.map((x) => [x.label, x.value])));
  if (f.unknown.length > 0) parts.push(`<p>Not known:</p><ul>${f.unknown.map((u) => `<li>${html(u)}</li>`).join('')}</ul>`);
  parts.push(
    '<h2>Evaluation and load-test results</h2>',
    card.evaluations.length > 0
      ? htmlTable(['Release', 'Environment', 'Gate', 'Kind', 'Verdict', 'Figures'], card.evaluations.map((e) => [e.releaseId, e.environment, e.gate, e.kind, e.verdict, Object.entries(e.figures).map(([k, v]) => `${k}: ${figureText(v)}`).join('; ')]))
      : p('No release of this version ran an evaluation, load-test or other gate.'),
  );
  parts.push('<h2>Monitoring</h2>');
  const b = card.monitoring.baseline;
  if (b) {
    parts.push(p(`Baseline: ${b.rows} rows${b.source ? ` from ${b.source}` : ''}, attached ${iso(b.createdTime)}.`));
    parts.push(htmlTable(['Column', 'Kind', 'Missing', 'Mean', 'Min', 'Max', 'Distinct'], b.columns.map((c) => [c.name, c.kind, figureText(c.missingShare), ...[c.mean, c.min, c.max, c.distinct].map((x) => (x === null ? '—' : figureText(x)))])));
  } else {
    parts.push(p('No monitoring baseline (reference profile) is attached.'));
  }
  const d = card.monitoring.drift;
  parts.push(p(d.latest ? `Drift: ${d.status} in the latest live window (${iso(d.latest.windowStart)} – ${iso(d.latest.windowEnd)}, ${d.latest.rows} rows); ${d.driftedWindows} of the last ${d.windows} windows drifted.` : 'Drift: no live windows recorded for this version.'));
  parts.push(
    '<h2>Release history</h2>',
    card.lineage.releases.length > 0
      ? htmlTable(['Release', 'Environment', 'State', 'Requested by', 'Approved by', 'Started', 'Ended'], card.lineage.releases.map((r) => [r.id, r.environment, r.state, r.requestedBy, r.approvals.map((a) => a.by).join(', ') || '—', iso(r.createdTime), iso(r.endedTime)]))
      : p('This version has not been released.'),
  );
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Model card: ${html(card.model)} v${html(card.version)}</title><style>${STYLE}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`;
}
