/** `slipway runs list|show`: search and inspect runs in the local store. */
import type { Command } from 'commander';
import type { Run, ViewType } from '../../tracking/index.js';
import { addHelpEpilogue, addStoreOptions, formatDuration, formatRecord, formatTable, formatTime, positiveInt, printList, printValue, runAction, usageErrorsExit2, type StoreFlags } from '../output.js';
import { findExperiment, withTracking } from './experiments.js';

interface ListFlags extends StoreFlags {
  experiment?: string[];
  filter?: string;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string;
  view: string;
  json?: boolean;
}

const VIEWS: Record<string, ViewType> = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function metricText(value: number): string {
  return Number.isInteger(value) ? String(value) : Number(value.toPrecision(6)).toString();
}

function metricsSummary(run: Run): string {
  return run.data.metrics.map((m) => `${m.key}=${metricText(m.value)}`).join(', ');
}

function duration(run: Run): string {
  return run.info.endTime === undefined ? '-' : formatDuration(run.info.endTime - run.info.startTime);
}

/** Registers `slipway runs`. */
export function register(program: Command): void {
  const runs = program.command('runs').description('Search and inspect runs');

  addStoreOptions(
    runs
      .command('list')
      .description('List runs, newest first, or as ordered; filter with the MLflow search grammar')
      .option('--experiment <id-or-name>', 'only runs of this experiment (repeatable; default: every active experiment)', collect)
      .option('--filter <filter>', "MLflow filter, e.g. \"metrics.auc > 0.9 and params.model = 'mlp'\"")
      .option('--order-by <clause>', 'order clause, e.g. "metrics.auc DESC" (repeatable)', collect)
      .option('--max-results <n>', 'most runs to list', positiveInt('--max-results'), 100)
      .option('--page-token <token>', 'continue a previous listing')
      .option('--view <view>', 'active, deleted or all', 'active')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ListFlags) => {
      const { SlipwayError } = await import('../../core/errors.js');
      const runViewType = VIEWS[flags.view.toLowerCase()];
      if (!runViewType) throw new SlipwayError('INVALID_ARGUMENT', `--view must be one of active, deleted, all; got '${flags.view}'.`);
      const { page, names } = await withTracking(flags, async (t) => {
        const experiments = flags.experiment
          ? await Promise.all(flags.experiment.map((e) => findExperiment(t, e)))
          : (await t.searchExperiments({ maxResults: 50_000 })).experiments;
        const names = new Map(experiments.map((e) => [e.experimentId, e.name]));
        const page = await t.searchRuns({
          experimentIds: experiments.map((e) => e.experimentId),
          filter: flags.filter,
          orderBy: flags.orderBy,
          maxResults: flags.maxResults,
          pageToken: flags.pageToken,
          runViewType,
        });
        return { page, names };
      });
      printList(
        page.runs,
        [
          { header: 'RUN ID', value: (r) => r.info.runId },
          { header: 'NAME', value: (r) => r.info.runName, maxWidth: 30 },
          { header: 'EXPERIMENT', value: (r) => names.get(r.info.experimentId) ?? r.info.experimentId, maxWidth: 30 },
          { header: 'STATUS', value: (r) => r.info.status },
          { header: 'STARTED', value: (r) => formatTime(r.info.startTime) },
          { header: 'DURATION', value: duration, alignRight: true },
          { header: 'METRICS', value: metricsSummary, maxWidth: 50 },
        ],
        { json: flags.json, emptyText: '(no runs)' },
      );
      if (page.nextPageToken) process.stderr.write(`note: more runs follow; continue with --page-token ${page.nextPageToken}\n`);
    }),
  );

  addStoreOptions(
    runs
      .command('show')
      .description('Show one run: info, params, latest metrics and tags')
      .argument('<run-id>', 'the 32-character run id')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (runId: string, flags: StoreFlags & { json?: boolean }) => {
      const { SlipwayError } = await import('../../core/errors.js');
      if (!/^[0-9a-f]{32}$/.test(runId)) throw new SlipwayError('INVALID_ARGUMENT', `'${runId}' is not a run id: expected 32 hexadecimal characters.`);
      const run = await withTracking(flags, (t) => t.getRun(runId));
      printValue(run, flags, () => {
        const { info, data } = run;
        const head = formatRecord([
          ['run id', info.runId],
          ['name', info.runName],
          ['experiment', info.experimentId],
          ['status', info.status],
          ['stage', info.lifecycleStage],
          ['user', info.userId],
          ['started', formatTime(info.startTime)],
          ['ended', formatTime(info.endTime)],
          ['duration', duration(run)],
          ['artifacts', info.artifactUri],
        ]);
        const params = formatTable(data.params, [
          { header: 'PARAM', value: (p) => p.key },
          { header: 'VALUE', value: (p) => p.value, maxWidth: 80 },
        ], '(no params)');
        const metrics = formatTable(data.metrics, [
          { header: 'METRIC', value: (m) => m.key },
          { header: 'VALUE', value: (m) => metricText(m.value), alignRight: true },
          { header: 'STEP', value: (m) => m.step, alignRight: true },
          { header: 'TIME', value: (m) => formatTime(m.timestamp) },
        ], '(no metrics)');
        const tags = formatTable(data.tags, [
          { header: 'TAG', value: (t) => t.key },
          { header: 'VALUE', value: (t) => t.value, maxWidth: 80 },
        ], '(no tags)');
        const inputs = run.inputs.datasetInputs.map((d) => `${d.dataset.name} (${d.dataset.digest}) from ${d.dataset.source}`).join('\n');
        return `${head}\nParams\n${params}\nMetrics\n${metrics}\nTags\n${tags}${inputs ? `\nDatasets\n${inputs}\n` : ''}`;
      });
    }),
  );

  usageErrorsExit2(runs);
  addHelpEpilogue(runs, {
    examples: [
      'slipway runs list --experiment fraud --filter "metrics.auc > 0.9" --order-by "metrics.auc DESC"',
      'slipway runs show 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19 --json',
    ],
    exitCodes: { 1: 'no run with that id, or a runtime failure' },
    docs: ['tracking.md', 'cli.md'],
  });
}
