/** `slipway experiments list|show`: experiments in the local store. */
import type { Command } from 'commander';
import type { Experiment, TrackingService, ViewType } from '../../tracking/index.js';
import { addHelpEpilogue, addStoreOptions, formatRecord, formatTable, formatTime, positiveInt, printList, printValue, runAction, usageErrorsExit2, withLocalStore, type StoreFlags } from '../output.js';

interface ListFlags extends StoreFlags {
  view: string;
  filter?: string;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string;
  json?: boolean;
}

const VIEWS: Record<string, ViewType> = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };

/** Opens the store and a tracking service over it for one command that only reads. */
export async function withTracking<R>(flags: StoreFlags, fn: (tracking: TrackingService) => Promise<R>): Promise<R> {
  const { TrackingService } = await import('../../tracking/index.js');
  return withLocalStore(flags, (store) => fn(new TrackingService(store)), { readOnly: true });
}

/** Finds an experiment by id, else by name; NOT_FOUND names what was looked for. */
export async function findExperiment(tracking: TrackingService, idOrName: string): Promise<Experiment> {
  const { SlipwayError } = await import('../../core/errors.js');
  if (/^\d+$/.test(idOrName)) {
    try {
      return await tracking.getExperiment(idOrName);
    } catch (err) {
      if (!(err instanceof SlipwayError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  try {
    return await tracking.getExperimentByName(idOrName);
  } catch (err) {
    if (err instanceof SlipwayError && err.code === 'NOT_FOUND') throw new SlipwayError('NOT_FOUND', `No experiment with id or name '${idOrName}'.`, { experiment: idOrName });
    throw err;
  }
}

function tagText(e: Experiment): string {
  return e.tags.map((t) => `${t.key}=${t.value}`).join(', ');
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Registers `slipway experiments`. */
export function register(program: Command): void {
  const experiments = program.command('experiments').description('List and inspect experiments');

  addStoreOptions(
    experiments
      .command('list')
      .description('List experiments, most recently updated first')
      .option('--view <view>', 'active, deleted or all', 'active')
      .option('--filter <filter>', "MLflow filter, e.g. \"name LIKE 'fraud%' and tags.team = 'risk'\"")
      .option('--order-by <clause>', 'order clause, e.g. "name ASC" (repeatable)', collect)
      .option('--max-results <n>', 'most experiments to list', positiveInt('--max-results'), 100)
      .option('--page-token <token>', 'continue a previous listing')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ListFlags) => {
      const viewType = VIEWS[flags.view.toLowerCase()];
      const { SlipwayError } = await import('../../core/errors.js');
      if (!viewType) throw new SlipwayError('INVALID_ARGUMENT', `--view must be one of active, deleted, all; got '${flags.view}'.`);
      const page = await withTracking(flags, (t) =>
        t.searchExperiments({ viewType, filter: flags.filter, orderBy: flags.orderBy, maxResults: flags.maxResults, pageToken: flags.pageToken }),
      );
      printList(
        page.experiments,
        [
          { header: 'ID', value: (e) => e.experimentId, alignRight: true },
          { header: 'NAME', value: (e) => e.name },
          { header: 'STAGE', value: (e) => e.lifecycleStage },
          { header: 'CREATED', value: (e) => formatTime(e.creationTime) },
          { header: 'UPDATED', value: (e) => formatTime(e.lastUpdateTime) },
          { header: 'TAGS', value: (e) => tagText(e), maxWidth: 40 },
        ],
        { json: flags.json, emptyText: '(no experiments)' },
      );
      if (page.nextPageToken) process.stderr.write(`note: more experiments follow; continue with --page-token ${page.nextPageToken}\n`);
    }),
  );

  addStoreOptions(
    experiments
      .command('show')
      .description('Show one experiment by id or name')
      .argument('<id-or-name>', 'experiment id (e.g. 0) or name')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (idOrName: string, flags: StoreFlags & { json?: boolean }) => {
      const { experiment, runs } = await withTracking(flags, async (t) => {
        const experiment = await findExperiment(t, idOrName);
        const runs = await t.searchRuns({ experimentIds: [experiment.experimentId], runViewType: 'ALL', maxResults: 10 });
        return { experiment, runs: runs.runs };
      });
      printValue(experiment, flags, () => {
        const head = formatRecord([
          ['id', experiment.experimentId],
          ['name', experiment.name],
          ['stage', experiment.lifecycleStage],
          ['artifact location', experiment.artifactLocation],
          ['created', formatTime(experiment.creationTime)],
          ['updated', formatTime(experiment.lastUpdateTime)],
        ]);
        const tags = formatTable(experiment.tags, [
          { header: 'TAG', value: (t) => t.key },
          { header: 'VALUE', value: (t) => t.value, maxWidth: 80 },
        ], '(no tags)');
        const recent = formatTable(runs, [
          { header: 'RUN ID', value: (r) => r.info.runId },
          { header: 'NAME', value: (r) => r.info.runName },
          { header: 'STATUS', value: (r) => r.info.status },
          { header: 'STARTED', value: (r) => formatTime(r.info.startTime) },
        ], '(no runs)');
        return `${head}\nTags\n${tags}\nLatest runs\n${recent}`;
      });
    }),
  );

  usageErrorsExit2(experiments);
  addHelpEpilogue(experiments, {
    examples: [
      "slipway experiments list --filter \"name LIKE 'fraud%'\" --order-by \"name ASC\"",
      'slipway experiments show 0 --json',
    ],
    exitCodes: { 1: 'no experiment with that id or name, or a runtime failure' },
    docs: ['tracking.md', 'cli.md'],
  });
}
