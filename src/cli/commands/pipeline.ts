/** `slipway repro`, `slipway dag`: run the stages of slipway.yaml whose inputs changed, and show their graph. */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Pipeline, StageObserver } from '../../pipelines/pipeline-types.js';
import type { TrackingObserver } from '../../pipelines/pipeline-tracking.js';
import { addTargetOptions, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, errorLine, formatJson, positiveInt, processStreams, runAction, usageErrorsExit2, warningLine } from '../output.js';
import { registerPipelineReports } from './pipeline-report.js';

interface ReproFlags extends ConnectionFlags {
  jobs?: number;
  force?: boolean;
  dryRun?: boolean;
  runCache: boolean;
  track: boolean;
  json?: boolean;
  config?: string;
}

/**
 * The tracking observer, opened only when a stage first starts: a repro with nothing to run never
 * reaches a server or opens the store. `close` ends the connection it opened.
 */
function lazyTracking(flags: ReproFlags, pipeline: Pipeline, warn: (message: string) => void) {
  let inner: Promise<TrackingObserver> | undefined;
  let connection: Promise<void> | undefined;
  let finish = (): void => {};
  const done = new Promise<void>((r) => (finish = r));
  const open = (): Promise<TrackingObserver> => {
    inner ??= new Promise<TrackingObserver>((resolve, reject) => {
      connection = (async () => {
        const { withConnection } = await import('../connection.js');
        // Without a server or store named anywhere, the embedded store is the workspace's own (beside its
        // object cache), not one under whichever subfolder repro was started from.
        const env = process.env;
        if (flags.server === undefined && flags.backendStoreUri === undefined && !env.SLIPWAY_HOME && !env.SLIPWAY_SERVER && !env.SLIPWAY_BACKEND_STORE_URI && !env.MLFLOW_TRACKING_URI) {
          env.SLIPWAY_HOME = join(pipeline.root, '.slipway');
        }
        const { createTrackingObserver } = await import('../../pipelines/pipeline-tracking.js');
        await withConnection(flags, async (client, conn) => {
          resolve(createTrackingObserver({ client, root: pipeline.root, pipeline, ...(conn.target.kind === 'server' ? { trackingUri: conn.target.url } : {}), warn }));
          await done;
        });
      })().catch((err: unknown) => reject(err as Error));
    });
    return inner;
  };
  const observer: StageObserver = {
    stageStarted: async (stage, decision) => (await open()).stageStarted(stage, decision),
    // A restored stage records nothing new: no reason to open the store for it alone.
    stageFinished: async (result) => (inner || (result.status !== 'restored' && result.status !== 'skipped') ? (await open()).stageFinished(result) : undefined),
  };
  return {
    observer,
    registered: async () => (inner ? (await inner.catch(() => undefined))?.registered ?? [] : []),
    close: async () => {
      finish();
      await connection?.catch(() => {});
    },
  };
}

interface DagFlags {
  json?: boolean;
  dot?: boolean;
  config?: string;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

async function loadPipeline(config: string | undefined) {
  const { locatePipelineFile, readPipeline } = await import('../../pipelines/pipeline-config.js');
  const { buildGraph } = await import('../../pipelines/pipeline-graph.js');
  const pipeline = readPipeline(locatePipelineFile(config));
  return { pipeline, graph: buildGraph(pipeline) };
}

async function repro(targets: string[], flags: ReproFlags): Promise<number> {
  const io = processStreams;
  const { pipeline, graph } = await loadPipeline(flags.config);
  const { reproduce } = await import('../../pipelines/pipeline-repro.js');
  const { openWorkspaceStorage } = await import('../../pipelines/workspace-storage.js');
  const storage = openWorkspaceStorage(pipeline.root);
  if (flags.track && !flags.dryRun) {
    // A mistake in the pipeline: section is bad input before any stage runs, not a warning after.
    const { readPipelineSettings } = await import('../../pipelines/pipeline-tracking-values.js');
    await readPipelineSettings(pipeline.root, pipeline.file);
  }
  const tracking = flags.track && !flags.dryRun ? lazyTracking(flags, pipeline, (m) => io.err(warningLine(m))) : undefined;
  // Command output goes where it does not mix with --json.
  const say = flags.json ? io.err : io.out;
  const running = new Set<string>();
  const warned = new Set<string>();
  try {
    const report = await reproduce({
      pipeline,
      graph,
      storage,
      targets,
      ...(flags.jobs !== undefined ? { jobs: flags.jobs } : {}),
      force: flags.force ?? false,
      dryRun: flags.dryRun ?? false,
      runCache: flags.runCache,
      ...(tracking ? { observer: tracking.observer } : {}),
      onEvent: (e) => {
        if (e.kind === 'started') {
          running.add(e.stage);
          say(`running '${e.stage}': ${e.decision.detail}\n`);
        } else if (e.kind === 'output') {
          // Lines of stages running side by side carry the stage's name, so they can be told apart.
          say(running.size > 1 ? `${e.stage}| ${e.line}\n` : `${e.line}\n`);
        } else if (e.kind === 'warning') {
          // One broken store would otherwise warn twice per stage.
          if (!warned.has(e.message)) io.err(warningLine(`stage '${e.stage}': ${e.message}`));
          warned.add(e.message);
        } else {
          running.delete(e.report.stage);
          const r = e.report;
          if (flags.json) return;
          if (r.status === 'ran') say(`ran '${r.stage}' in ${seconds(r.durationMs)}\n`);
          else if (r.status === 'restored') say(`'${r.stage}' restored from the run cache (${r.detail ?? 'inputs seen before'})\n`);
          else if (r.status === 'unchanged') say(`'${r.stage}' is up to date\n`);
        }
      },
    });
    if (flags.json) {
      io.out(formatJson(report));
    } else if (flags.dryRun) {
      for (const r of report.stages) io.out(r.status === 'would-run' ? `would run '${r.stage}': ${r.detail}\n` : `'${r.stage}' is up to date\n`);
      const n = report.stages.filter((r) => r.status === 'would-run').length;
      io.out(n === 0 ? 'Everything is up to date; nothing would run.\n' : `${plural(n, 'stage')} would run.\n`);
    } else {
      const count = (s: string) => report.stages.filter((r) => r.status === s).length;
      const [ran, restored, unchanged, notRun, failed, refused] = [count('ran'), count('restored'), count('unchanged'), count('not-run'), count('failed'), count('refused')];
      if (ran + restored === 0 && report.ok) io.out('Everything is up to date.\n');
      else {
        const parts = [
          `${ran} ran`,
          ...(failed > 0 ? [`${failed} failed`] : []),
          ...(refused > 0 ? [`${refused} refused`] : []),
          ...(restored > 0 ? [`${restored} restored from the run cache`] : []),
          `${unchanged} up to date`,
          ...(notRun > 0 ? [`${notRun} not run`] : []),
        ];
        io.out(`${parts.join(', ')}.\n`);
      }
    }
    if (!flags.json) {
      for (const r of (await tracking?.registered()) ?? []) say(`stage '${r.stage}' registered model '${r.name}' version ${r.version}${r.aliases.length > 0 ? ` (${r.aliases.join(', ')})` : ''}\n`);
    }
    if (!report.ok && report.failure) io.err(errorLine(report.failure));
    return report.ok ? 0 : 1;
  } finally {
    await tracking?.close();
    storage.close();
  }
}

async function dag(stage: string | undefined, flags: DagFlags): Promise<number> {
  const { pipeline, graph } = await loadPipeline(flags.config);
  const { graphLayers, graphToDot, selectStages } = await import('../../pipelines/pipeline-graph.js');
  const only = stage !== undefined ? selectStages(graph, [stage]) : undefined;
  const shown = graph.stages.filter((s) => !only || only.has(s.name));
  if (flags.dot) {
    processStreams.out(graphToDot(graph, only));
    return 0;
  }
  if (flags.json) {
    processStreams.out(
      formatJson({
        file: pipeline.file,
        nodes: shown.map((s) => ({ name: s.name, cmd: s.cmd, wdir: s.wdir, deps: s.deps, params: s.params, outs: [...s.outs, ...s.metrics, ...s.plots].map((o) => o.path), declaredAt: s.declaredAt })),
        edges: graph.edges.filter((e) => !only || (only.has(e.from) && only.has(e.to))),
      }),
    );
    return 0;
  }
  const width = Math.max(...shown.map((s) => s.name.length));
  const lines: string[] = [];
  graphLayers(graph, only).forEach((layer, i) => {
    layer.forEach((name, j) => {
      const next = (graph.downstream.get(name) ?? []).filter((d) => !only || only.has(d));
      const label = j === 0 ? `layer ${i + 1}` : '';
      lines.push(`${label.padEnd(9)}${next.length > 0 ? `${name.padEnd(width)}  -> ${next.join(', ')}` : name}`);
    });
  });
  processStreams.out(`${lines.join('\n')}\n`);
  return 0;
}

/** Registers `slipway repro` and `slipway dag` (and the metrics and params comparisons). */
export function register(program: Command): void {
  const reproCmd = addTargetOptions(
    program
      .command('repro')
      .description("Run the pipeline's stages whose command, deps, params or outs changed since slipway.lock, and those downstream")
      .argument('[stages...]', 'bring only these stages (and what they depend on) up to date; a foreach name such as train means every train@…')
      .option('-j, --jobs <n>', 'stages run at once (default: the number of cores)', positiveInt('--jobs'))
      .option('-f, --force', 'run the stages even when nothing changed')
      .option('--dry-run', 'print what would run and why, and run nothing')
      .option('--no-run-cache', 'run changed stages instead of restoring outs from inputs seen before')
      .option('--json', 'print the outcome of each stage as JSON')
      .option('--no-track', 'do not record stage runs as tracking runs')
      .option('--config <file>', 'the pipeline file (default: the nearest slipway.yaml)'),
  ).action(runAction((targets: string[], flags: ReproFlags) => repro(targets, flags)));
  addHelpEpilogue(reproCmd, {
    examples: ['slipway repro', 'slipway repro train --dry-run', 'slipway repro --jobs 4 --force evaluate'],
    exitCodes: { 1: "a stage's command failed or another slipway repro is running one of the stages", 2: 'bad pipeline: YAML error, cycle, an out claimed twice, a dep nothing produces' },
    docs: ['pipelines.md'],
  });
  usageErrorsExit2(reproCmd);

  const dagCmd = program
    .command('dag')
    .description("Show the pipeline's stages and which reads what another writes")
    .argument('[stage]', 'only this stage and what it depends on')
    .option('--dot', "print Graphviz's dot language (pipe it to dot -Tsvg)")
    .option('--json', 'print nodes and edges as JSON')
    .option('--config <file>', 'the pipeline file (default: the nearest slipway.yaml)')
    .action(runAction((stage: string | undefined, flags: DagFlags) => dag(stage, flags)));
  addHelpEpilogue(dagCmd, {
    examples: ['slipway dag', 'slipway dag evaluate', 'slipway dag --dot | dot -Tsvg > pipeline.svg'],
    exitCodes: { 2: 'bad pipeline: YAML error, cycle, an out claimed twice, a dep nothing produces' },
    docs: ['pipelines.md'],
  });
  usageErrorsExit2(dagCmd);
  registerPipelineReports(program);
}
