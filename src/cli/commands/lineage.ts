/** `slipway lineage MODEL_URI`: which run, code, data and environment produced a model version, and who released it after which gates. */
import type { Command } from 'commander';
import type { Lineage } from '../../client/schemas/governance.js';
import { parseModelUri } from '../../core/model-source.js';
import { SlipwayError } from '../../core/errors.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, formatRecord, formatTime, printValue, runAction, usageErrorsExit2 } from '../output.js';

function pairs(map: Record<string, string | number>): string | undefined {
  const entries = Object.entries(map);
  return entries.length > 0 ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : undefined;
}

/** The lineage as text for a terminal: the version, its run, its artifact, its releases and what is unknown. */
export function lineageText(l: Lineage): string {
  const out: string[] = [];
  out.push(
    formatRecord([
      ['model', l.model],
      ['version', l.version],
      ['registered', `${formatTime(l.createdTime)}${l.registeredBy ? ` by ${l.registeredBy}` : ''}`],
      ['serving now', l.serving.aliases.length > 0 ? l.serving.aliases.join(', ') : '(no alias points at it)'],
      ['stage', l.stage],
    ]),
  );
  out.push('run');
  const r = l.run;
  out.push(
    r
      ? formatRecord([
          ['  id', `${r.runId} (${r.runName}, ${r.status})`],
          ['  experiment', `${r.experimentName ?? '(unknown)'} (${r.experimentId})`],
          ['  user', r.userId || undefined],
          ['  code revision', r.codeRevision ?? '(unknown)'],
          ['  source', r.sourceName ? `${r.sourceName}${r.sourceType ? ` (${r.sourceType})` : ''}` : '(unknown)'],
          ['  params', pairs(r.params) ?? '(none logged)'],
          ['  metrics', pairs(r.metrics)],
          ['  datasets', r.datasets.map((d) => `${d.datasetVersion ? `${d.datasetVersion.name}@${d.datasetVersion.version}` : d.name}${d.context ? ` (${d.context})` : ''}${d.digest ? ` digest ${d.digest}` : ''}`).join('; ') || '(unknown)'],
          ['  environment', pairs(r.environment) ?? '(unknown)'],
          ['  tags', pairs(r.tags)],
        ])
      : '  (unknown: not registered from a run)\n',
  );
  out.push('artifact');
  out.push(
    formatRecord([
      ['  source', l.artifact.source],
      ['  file', l.artifact.file ?? '(unknown)'],
      ['  sha256', l.artifact.sha256 ?? '(unknown)'],
      ['  signature', l.artifact.signature ? `${l.artifact.signature.inputs.map((s) => `${s.name} ${s.type}`).join(', ')} -> ${l.artifact.signature.outputs.map((s) => `${s.name} ${s.type}`).join(', ')}` : '(unknown)'],
    ]),
  );
  out.push(l.releases.length > 0 ? 'releases (oldest first)' : 'releases: (none)');
  for (const rel of l.releases) {
    const gates = rel.gates.map((g) => `${g.name}:${g.verdict}`).join(', ') || 'no gates';
    const approvals = rel.approvals.map((a) => a.by).join(', ') || 'none';
    out.push(`  ${rel.id}  -> ${rel.environment}  ${rel.state}  requested by ${rel.requestedBy}  gates ${gates}  approved by ${approvals}  ${formatTime(rel.createdTime)}`);
  }
  if (l.unknown.length > 0) {
    out.push('unknown');
    for (const u of l.unknown) out.push(`  - ${u}`);
  }
  return `${out.map((s) => s.replace(/\n$/, '')).join('\n')}\n`;
}

/** Registers `slipway lineage`. */
export function register(program: Command): void {
  const cmd = addConnectionOptions(
    program
      .command('lineage')
      .description('Show where a model version came from (run, params, code revision, datasets, environment), its artifact, and who released it after which gates')
      .argument('<model-uri>', 'models:/NAME@ALIAS or models:/NAME/VERSION')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (uri: string, flags: ConnectionFlags & { json?: boolean }) => {
      const ref = parseModelUri(uri);
      if (!ref) throw new SlipwayError('INVALID_ARGUMENT', `MODEL_URI must be models:/NAME@ALIAS or models:/NAME/VERSION, got '${uri}'.`);
      if (ref.version !== undefined && !/^\d+$/.test(ref.version)) throw new SlipwayError('INVALID_ARGUMENT', `The version in '${uri}' must be a number (or use models:/NAME@ALIAS), got '${ref.version}'.`);
      const lineage = await withConnection(
        flags,
        async (client) => client.governance.lineage(ref.name, ref.alias !== undefined ? (await client.models.getByAlias(ref.name, ref.alias)).version : (ref.version as string)),
        { readOnly: true },
      );
      printValue(lineage, flags, () => lineageText(lineage));
    }),
  );
  usageErrorsExit2(cmd);
  addHelpEpilogue(cmd, {
    examples: ['slipway lineage models:/cancer@champion', 'slipway lineage models:/cancer/3 --json', 'slipway lineage models:/cancer@champion --server http://127.0.0.1:5000'],
    exitCodes: { 1: 'unknown model, version or alias, a server that cannot be reached, or a runtime failure', 2: 'bad usage or a malformed model URI' },
    docs: ['governance.md', 'cli.md'],
  });
}
