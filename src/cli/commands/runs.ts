/** `slipway runs …`: search, inspect, delete and restore runs, on a server or the embedded store. */
import type { Command } from 'commander';
import type { Run } from '../../client/schemas/runs.js';
import type { SlipwayClient } from '../../client/slipway-client.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, formatDuration, formatRecord, formatTable, formatTime, positiveInt, printList, printValue, runAction, usageErrorsExit2 } from '../output.js';
import { collect, findExperiment, viewOf } from './experiments.js';

interface ListFlags extends ConnectionFlags {
  experiment?: string[];
  filter?: string;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string;
  view: string;
  json?: boolean;
}

type JsonFlags = ConnectionFlags & { json?: boolean };

function metricText(value: number | string): string {
  if (typeof value === 'string') return value;
  return Number.isInteger(value) ? String(value) : Number(value.toPrecision(6)).toString();
}

function metricsSummary(run: Run): string {
  return run.data.metrics.map((m) => `${m.key}=${metricText(m.value)}`).join(', ');
}

function duration(run: Run): string {
  return run.info.endTime === undefined ? '-' : formatDuration(run.info.endTime - run.info.startTime);
}

async function checkRunId(runId: string): Promise<void> {
  const { SlipwayError } = await import('../../core/errors.js');
  if (!/^[0-9a-f]{32}$/.test(runId)) throw new SlipwayError('INVALID_ARGUMENT', `'${runId}' is not a run id: expected 32 hexadecimal characters.`);
}

/** Registers `slipway runs`. */
export function register(program: Command): void {
  const runs = program.command('runs').description('Search, inspect, delete and restore runs');

  addConnectionOptions(
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
      const runViewType = await viewOf(flags.view);
      const { page, names } = await withConnection(
        flags,
        async (client) => {
          const named = flags.experiment ? await Promise.all(flags.experiment.map((e) => findExperiment(client, e))) : undefined;
          const page = await client.runs.search({
            ...(named ? { experimentIds: named.map((e) => e.experimentId) } : {}),
            filter: flags.filter,
            orderBy: flags.orderBy,
            maxResults: flags.maxResults,
            pageToken: flags.pageToken,
            runViewType,
          });
          // Names for the EXPERIMENT column: those named, else those of the runs listed.
          const names = new Map((named ?? []).map((e) => [e.experimentId, e.name]));
          if (!flags.json) {
            for (const id of new Set(page.runs.map((r) => r.info.experimentId))) {
              if (!names.has(id)) names.set(id, (await client.experiments.get(id)).name);
            }
          }
          return { page, names };
        },
        { readOnly: true },
      );
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

  addConnectionOptions(
    runs
      .command('show')
      .description('Show one run: info, params, latest metrics and tags')
      .argument('<run-id>', 'the 32-character run id')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (runId: string, flags: JsonFlags) => {
      await checkRunId(runId);
      const run = await withConnection(flags, (client) => client.runs.get(runId), { readOnly: true });
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

  // delete and restore: the same shape, one change per run id, each run printed as it is afterwards.
  const lifecycle = [
    { name: 'delete', description: 'Mark runs deleted (restore brings them back)', done: 'deleted', change: async (client: SlipwayClient, id: string) => (await client.runs.delete(id), client.runs.get(id)) },
    { name: 'restore', description: 'Restore deleted runs', done: 'restored', change: (client: SlipwayClient, id: string) => client.runs.restore(id) },
  ];
  for (const step of lifecycle) {
    addConnectionOptions(
      runs.command(step.name).description(step.description).argument('<run-id...>', 'one or more 32-character run ids').option('--json', 'print JSON'),
    ).action(
      runAction(async (runIds: string[], flags: JsonFlags) => {
        for (const id of runIds) await checkRunId(id);
        const done = await withConnection(flags, async (client) => {
          const out: Run[] = [];
          for (const id of runIds) out.push(await step.change(client, id));
          return out;
        });
        printValue(done, flags, () => done.map((r) => `${step.done} run ${r.info.runId}\n`).join(''));
      }),
    );
  }

  usageErrorsExit2(runs);
  addHelpEpilogue(runs, {
    examples: [
      'slipway runs list --experiment fraud --filter "metrics.auc > 0.9" --order-by "metrics.auc DESC"',
      'slipway runs list --server http://127.0.0.1:5000 --view deleted',
      'slipway runs show 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19 --json',
      'slipway runs delete 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19',
      'slipway runs restore 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19',
    ],
    exitCodes: { 1: 'no run with that id, a server that cannot be reached, or a runtime failure' },
    docs: ['tracking.md', 'cli.md'],
  });
}
