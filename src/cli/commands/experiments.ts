/** `slipway experiments …`: list, inspect, create, rename, delete and restore experiments, on a server or the embedded store. */
import { InvalidArgumentError, type Command } from 'commander';
import type { SlipwayClient } from '../../client/slipway-client.js';
import type { Experiment } from '../../client/schemas/experiments.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, formatRecord, formatTable, formatTime, positiveInt, printList, printValue, runAction, usageErrorsExit2 } from '../output.js';

interface ListFlags extends ConnectionFlags {
  view: string;
  filter?: string;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string;
  json?: boolean;
}

type JsonFlags = ConnectionFlags & { json?: boolean };

/** The lifecycle views `--view` takes, as the API names them. */
export const VIEWS = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' } as const;

/** Parses `--view`, or fails naming the choices. */
export async function viewOf(view: string): Promise<(typeof VIEWS)[keyof typeof VIEWS]> {
  const key = view.toLowerCase();
  if (Object.hasOwn(VIEWS, key)) return VIEWS[key as keyof typeof VIEWS];
  const { SlipwayError } = await import('../../core/errors.js');
  throw new SlipwayError('INVALID_ARGUMENT', `--view must be one of active, deleted, all; got '${view}'.`);
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Finds an experiment by id, else by name (deleted ones too); NOT_FOUND names what was looked for. */
export async function findExperiment(client: SlipwayClient, idOrName: string): Promise<Experiment> {
  const [{ isSlipwayApiError }, { SlipwayError }] = await Promise.all([import('../../client/api-error.js'), import('../../core/errors.js')]);
  const notFound = (err: unknown) => isSlipwayApiError(err) && (err.code === 'NOT_FOUND' || err.status === 404);
  if (/^\d+$/.test(idOrName)) {
    try {
      return await client.experiments.get(idOrName);
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }
  try {
    return await client.experiments.getByName(idOrName);
  } catch (err) {
    if (notFound(err)) throw new SlipwayError('NOT_FOUND', `No experiment with id or name '${idOrName}'.`, { experiment: idOrName });
    throw err;
  }
}

function tagText(e: Experiment): string {
  return e.tags.map((t) => `${t.key}=${t.value}`).join(', ');
}

/** Parses a repeatable `--tag key=value`. */
export function tagOption(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--tag takes key=value; got '${value}'.`);
  return { ...(previous ?? {}), [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Registers `slipway experiments`. */
export function register(program: Command): void {
  const experiments = program.command('experiments').description('List, inspect, create, rename, delete and restore experiments');

  addConnectionOptions(
    experiments
      .command('list')
      .description('List experiments, newest first, or as --order-by says')
      .option('--view <view>', 'active, deleted or all', 'active')
      .option('--filter <filter>', "MLflow filter, e.g. \"name LIKE 'fraud%' and tags.team = 'risk'\"")
      .option('--order-by <clause>', 'order clause, e.g. "name ASC" (repeatable)', collect)
      .option('--max-results <n>', 'most experiments to list', positiveInt('--max-results'), 100)
      .option('--page-token <token>', 'continue a previous listing')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ListFlags) => {
      const view = await viewOf(flags.view);
      const page = await withConnection(
        flags,
        (client) => client.experiments.list({ view, filter: flags.filter, orderBy: flags.orderBy, maxResults: flags.maxResults, pageToken: flags.pageToken }),
        { readOnly: true },
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

  addConnectionOptions(
    experiments
      .command('show')
      .description('Show one experiment by id or name, with its latest runs')
      .argument('<id-or-name>', 'experiment id (e.g. 0) or name')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (idOrName: string, flags: JsonFlags) => {
      const { experiment, runs } = await withConnection(
        flags,
        async (client) => {
          const experiment = await findExperiment(client, idOrName);
          const runs = await client.runs.search({ experimentIds: [experiment.experimentId], runViewType: 'ALL', maxResults: 10 });
          return { experiment, runs: runs.runs };
        },
        { readOnly: true },
      );
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

  addConnectionOptions(
    experiments
      .command('create')
      .description('Create an experiment')
      .argument('<name>', 'experiment name')
      .option('--artifact-location <uri>', 'where its runs store artifacts (default: the server’s artifact root)')
      .option('--tag <key=value>', 'set a tag (repeatable)', tagOption)
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, flags: JsonFlags & { artifactLocation?: string; tag?: Record<string, string> }) => {
      const experiment = await withConnection(flags, (client) =>
        client.experiments.create({ name, ...(flags.artifactLocation ? { artifactLocation: flags.artifactLocation } : {}), ...(flags.tag ? { tags: flags.tag } : {}) }),
      );
      printValue(experiment, flags, () => `created experiment ${experiment.experimentId} '${experiment.name}'\n`);
    }),
  );

  addConnectionOptions(
    experiments
      .command('rename')
      .description('Rename an experiment')
      .argument('<id-or-name>', 'experiment id or current name')
      .argument('<new-name>', 'the new name')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (idOrName: string, newName: string, flags: JsonFlags) => {
      const experiment = await withConnection(flags, async (client) => {
        const found = await findExperiment(client, idOrName);
        return client.experiments.update(found.experimentId, { name: newName });
      });
      printValue(experiment, flags, () => `renamed experiment ${experiment.experimentId} to '${experiment.name}'\n`);
    }),
  );

  addConnectionOptions(
    experiments
      .command('delete')
      .description('Mark an experiment and its runs deleted (restore brings them back)')
      .argument('<id-or-name>', 'experiment id or name')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (idOrName: string, flags: JsonFlags) => {
      const experiment = await withConnection(flags, async (client) => {
        const found = await findExperiment(client, idOrName);
        await client.experiments.delete(found.experimentId);
        return client.experiments.get(found.experimentId);
      });
      printValue(experiment, flags, () => `deleted experiment ${experiment.experimentId} '${experiment.name}' (restore with: slipway experiments restore ${experiment.experimentId})\n`);
    }),
  );

  addConnectionOptions(
    experiments
      .command('restore')
      .description('Restore a deleted experiment and its runs')
      .argument('<id-or-name>', 'experiment id or name')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (idOrName: string, flags: JsonFlags) => {
      const experiment = await withConnection(flags, async (client) => client.experiments.restore((await findExperiment(client, idOrName)).experimentId));
      printValue(experiment, flags, () => `restored experiment ${experiment.experimentId} '${experiment.name}'\n`);
    }),
  );

  usageErrorsExit2(experiments);
  addHelpEpilogue(experiments, {
    examples: [
      "slipway experiments list --filter \"name LIKE 'fraud%'\" --order-by \"name ASC\"",
      'slipway experiments list --server http://127.0.0.1:5000 --json',
      'slipway experiments show 0 --json',
      'slipway experiments create fraud --tag team=risk',
      'slipway experiments rename fraud fraud-2026',
      'slipway experiments delete fraud-2026',
      'slipway experiments restore fraud-2026',
    ],
    exitCodes: { 1: 'no experiment with that id or name, a server that cannot be reached, or a runtime failure' },
    docs: ['tracking.md', 'cli.md'],
  });
}
