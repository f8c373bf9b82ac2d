/** `slipway metrics diff`, `slipway params diff`: compare a pipeline's metrics and params across git revisions or runs. */
import type { Command } from 'commander';
import type { DiffRow, PipelineSnapshot } from '../../pipelines/pipeline-report.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, formatTable, printValue, printWarning, runAction, usageErrorsExit2 } from '../output.js';

interface DiffFlags extends ConnectionFlags {
  runs?: string[];
  all?: boolean;
  json?: boolean;
}

interface ShowFlags {
  rev?: string;
  json?: boolean;
}

type Which = 'metrics' | 'params';

function valueText(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)));
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function changeText(row: DiffRow): string {
  if (row.change === null) return row.changed ? (row.old === null ? 'added' : row.new === null ? 'removed' : 'changed') : '-';
  if (row.change === 0) return '0';
  const rounded = Number(row.change.toPrecision(6));
  return rounded > 0 ? `+${rounded}` : String(rounded);
}

function sourceJson(s: PipelineSnapshot): Record<string, string> {
  if (s.source.kind === 'revision') return { kind: 'revision', rev: s.source.rev, commit: s.source.commit };
  if (s.source.kind === 'run') return { kind: 'run', runId: s.source.runId };
  return { kind: 'workspace' };
}

async function snapshots(revs: string[], flags: DiffFlags): Promise<[PipelineSnapshot, PipelineSnapshot]> {
  const { SlipwayError } = await import('../../core/errors.js');
  const report = await import('../../pipelines/pipeline-report.js');
  if (flags.runs !== undefined) {
    if (revs.length > 0) throw new SlipwayError('INVALID_ARGUMENT', 'Give either revisions or --runs RUN1 RUN2, not both.');
    if (flags.runs.length !== 2) throw new SlipwayError('INVALID_ARGUMENT', `--runs takes two run ids (RUN1 RUN2); got ${flags.runs.length}.`);
    for (const id of flags.runs) if (!/^[0-9a-f]{32}$/.test(id)) throw new SlipwayError('INVALID_ARGUMENT', `'${id}' is not a run id: expected 32 hexadecimal characters.`);
    const [a, b] = flags.runs as [string, string];
    return withConnection(flags, async (client) => [report.runSnapshot(await client.runs.get(a)), report.runSnapshot(await client.runs.get(b))], { readOnly: true });
  }
  if (revs.length > 2) throw new SlipwayError('INVALID_ARGUMENT', `Give at most two revisions (REV1 [REV2]); got ${revs.length}.`);
  const { findWorkspaceRoot } = await import('../../data/workspace.js');
  const root = findWorkspaceRoot();
  const oldSide = await report.revisionSnapshot(root, revs[0] ?? 'HEAD');
  const newSide = revs[1] !== undefined ? await report.revisionSnapshot(root, revs[1]) : await report.workspaceSnapshot(root);
  return [oldSide, newSide];
}

function diffText(which: Which, rows: DiffRow[], oldSide: PipelineSnapshot, newSide: PipelineSnapshot): string {
  const head = `${which} of ${oldSide.label} -> ${newSide.label}\n`;
  const empty = which === 'params' ? '(no params differ; --all lists them all)' : '(no metrics)';
  return `${head}${formatTable(
    rows,
    [
      { header: 'PATH', value: (r) => r.path },
      { header: 'KEY', value: (r) => r.key, maxWidth: 50 },
      { header: 'OLD', value: (r) => valueText(r.old), alignRight: which === 'metrics', maxWidth: 40 },
      { header: 'NEW', value: (r) => valueText(r.new), alignRight: which === 'metrics', maxWidth: 40 },
      { header: 'CHANGE', value: (r) => changeText(r), alignRight: which === 'metrics' },
    ],
    empty,
  )}`;
}

function diffAction(which: Which) {
  return runAction(async (revs: string[], flags: DiffFlags) => {
    const { diffMetrics, diffParams } = await import('../../pipelines/pipeline-report.js');
    const [oldSide, newSide] = await snapshots(revs, flags);
    const rows = which === 'metrics' ? diffMetrics(oldSide, newSide) : diffParams(oldSide, newSide, flags.all === true);
    const key = which === 'metrics' ? 'missingMetrics' : 'missingParams';
    const missing = [...oldSide[key].map((m) => `${oldSide.label}: ${m}`), ...newSide[key].map((m) => `${newSide.label}: ${m}`)];
    if (!flags.json) for (const m of missing) printWarning(`cannot read ${m}`);
    const json = {
      old: sourceJson(oldSide),
      new: sourceJson(newSide),
      [which]: rows.map((r) => ({ path: r.path, key: r.key, old: r.old, new: r.new, change: r.change, changed: r.changed })),
      missing,
    };
    printValue(json, flags, () => diffText(which, rows, oldSide, newSide));
  });
}

function addDiff(parent: Command, which: Which): void {
  const cmd = parent.command('diff');
  if (which === 'params') cmd.option('--all', 'list params that did not change too');
  addConnectionOptions(
    cmd
      .description(
        which === 'metrics'
          ? "Compare the pipeline's metrics files between two git revisions (default HEAD and the workspace) or two tracking runs"
          : "Compare the pipeline's params files between two git revisions (default HEAD and the workspace) or two tracking runs; only params that differ unless --all",
      )
      .argument('[revisions...]', 'REV1 [REV2]: git revisions (default: HEAD, then the workspace)')
      .option('--runs <ids...>', 'compare two tracking runs instead: RUN1 RUN2')
      .option('--json', 'print JSON'),
  ).action(diffAction(which));
}

/** Registers `slipway metrics` and `slipway params`. */
export function registerPipelineReports(program: Command): void {
  const metrics = program.command('metrics').description("Show and compare the pipeline's metrics files (JSON or YAML numbers written by stages)");
  metrics
    .command('show')
    .description('Show the metrics of every metrics file the pipeline declares, in the workspace or at a git revision')
    .option('--rev <revision>', 'read the files at this git revision instead of the workspace')
    .option('--json', 'print JSON')
    .action(
      runAction(async (flags: ShowFlags) => {
        const report = await import('../../pipelines/pipeline-report.js');
        const { findWorkspaceRoot } = await import('../../data/workspace.js');
        const root = findWorkspaceRoot();
        const snap = flags.rev !== undefined ? await report.revisionSnapshot(root, flags.rev) : await report.workspaceSnapshot(root);
        if (!flags.json) for (const m of snap.missingMetrics) printWarning(`cannot read ${m}`);
        const rows = Object.entries(snap.metrics).flatMap(([path, values]) => Object.entries(values).map(([key, value]) => ({ path, key, value })));
        printValue({ source: sourceJson(snap), metrics: snap.metrics, missing: snap.missingMetrics }, flags, () =>
          formatTable(
            rows,
            [
              { header: 'PATH', value: (r) => r.path },
              { header: 'KEY', value: (r) => r.key, maxWidth: 50 },
              { header: 'VALUE', value: (r) => valueText(r.value), alignRight: true },
            ],
            '(no metrics: declare metrics files under a stage in slipway.yaml and run slipway repro)',
          ),
        );
      }),
    );
  addDiff(metrics, 'metrics');
  const params = program.command('params').description("Compare the pipeline's params files (params.yaml and those stages name)");
  addDiff(params, 'params');
  for (const cmd of [metrics, params]) {
    usageErrorsExit2(cmd);
    addHelpEpilogue(cmd, {
      examples: [
        'slipway metrics show',
        'slipway metrics diff                       # HEAD against the workspace',
        'slipway metrics diff HEAD~1 HEAD --json',
        'slipway metrics diff --runs $RUN_A $RUN_B',
        'slipway params diff main',
        'slipway params diff HEAD~1 --all',
      ],
      exitCodes: { 1: 'a run or store that cannot be found or reached, or a runtime failure', 2: 'bad usage, an unknown git revision, or an unreadable metrics or params file' },
      docs: ['pipelines.md'],
    });
  }
}
