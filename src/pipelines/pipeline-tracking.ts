/**
 * Every stage run is a tracking run: a `StageObserver` that opens a run in the pipeline's
 * experiment when a stage starts (its id reaches the command as SLIPWAY_RUN_ID / MLFLOW_RUN_ID),
 * and when it ends logs the stage's params, the numbers of its metrics files, the code revision and
 * environment as tags, its data deps as dataset inputs, its metrics and plots files and an
 * `outs.json` of its outputs' digests as artifacts, registers its `dataset:` outs and its model,
 * and closes the run FINISHED or FAILED.
 *
 * A stage restored from the run cache, or skipped as unchanged, is not recorded again: no command
 * ran, and the run that produced those outputs already holds the record.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { basename, join, posix } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { POINTER_SUFFIX } from '../data/data-types.js';
import { readPointerFile } from '../data/pointer-file.js';
import { captureEnvironment, usesPython } from './environment.js';
import { flattenValues, gitState, paramText, readMetricsFile, readPipelineSettings, safeKey, workspaceFile, type GitState } from './pipeline-tracking-values.js';
import type { LockedPath, Pipeline, Stage, StageDecision, StageObserver, StageResult } from './pipeline-types.js';
import type { SlipwayClient } from '../client/slipway-client.js';
import type { RegisterDatasetBody } from '../client/schemas/datasets.js';
import type { LogInputsBody } from '../client/schemas/runs.js';

/** The parts of the SDK client tracking uses (a `SlipwayClient` has them all). */
export type PipelineTrackingClient = Pick<SlipwayClient, 'experiments' | 'runs' | 'artifacts' | 'models' | 'datasets'>;

/** What the observer needs. */
export interface TrackingObserverOptions {
  client: PipelineTrackingClient;
  /** Absolute path of the workspace root. */
  root: string;
  pipeline: Pipeline;
  /** The experiment to record in; default `pipeline.experiment` of slipway.yaml, else `pipeline`. */
  experiment?: string;
  /** The server's URL when a server is used: each stage's command gets it as MLFLOW_TRACKING_URI (unless its env sets one). */
  trackingUri?: string;
  /** Where a problem that does not stop the pipeline is told (an artifact too large to upload). */
  warn?: (message: string) => void;
}

/** A model version a stage registered. */
export interface RegisteredByStage {
  stage: string;
  runId: string;
  name: string;
  version: string;
  aliases: string[];
}

/** The observer, with what it recorded. */
export interface TrackingObserver extends StageObserver {
  /** The experiment's name (known once the first stage started). */
  experimentName(): Promise<string>;
  /** The run of each stage recorded so far, by stage name. */
  readonly runs: ReadonlyMap<string, string>;
  /** Model versions registered so far. */
  readonly registered: readonly RegisteredByStage[];
  /** Dataset versions registered from `dataset:` outs so far (`NAME@VERSION` by out path). */
  readonly datasets: ReadonlyMap<string, string>;
}

// Tag keys of a stage run.
/** The tag naming the stage a run recorded. */
export const STAGE_TAG = 'slipway.stage';
/** The tag holding the stage's command. */
export const STAGE_CMD_TAG = 'slipway.stage.cmd';
/** The tag saying why the stage ran (new, deps-changed, …). */
export const STAGE_REASON_TAG = 'slipway.stage.reason';
/** The tag saying whether the workspace had uncommitted changes. */
export const GIT_DIRTY_TAG = 'slipway.git.dirty';
/** The tag holding the last lines of a failed command's output. */
export const OUTPUT_TAIL_TAG = 'slipway.stage.output_tail';
/** An out's digest tag is `slipway.out.<path>.sha256` (the suffix keeps `….onnx` from reading as an environment tag). */
export const OUT_TAG_PREFIX = 'slipway.out.';

// Metrics and plots files larger than this are not uploaded (they are outs in the cache anyway).
const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;
// Files of one plots folder uploaded at most.
const MAX_FOLDER_FILES = 200;
// Files of a registered model folder at most (a model is a handful of files: graph, weights, tokenizer).
const MAX_MODEL_FILES = 10_000;
// Per-call limits of the run log route.
const LOG_BATCH = 100;
const MAX_TAG_VALUE = 5000;
const MAX_PARAM_VALUE = 6000;
// Out digests recorded as tags at most; outs.json holds them all.
const MAX_OUT_TAGS = 50;
// The input tag MLflow's clients use for what a run used a dataset for.
const DATASET_CONTEXT_TAG = 'mlflow.data.context';
// Characters of a digest an MLflow dataset input keeps.
const MLFLOW_DIGEST_LENGTH = 36;
// Table files profiled when registered as a dataset version, at most this large.
const MAX_PROFILE_BYTES = 256 * 1024 * 1024;
const TABLE_FILE = /\.(csv|tsv|jsonl|ndjson|parquet)$/i;
// Extensions of data files: a dep with one is recorded as a dataset input even when git tracks it.
const DATA_EXTENSIONS = /\.(csv|tsv|txt|json|jsonl|ndjson|parquet|arrow|feather|avro|orc|npy|npz|h5|hdf5|pkl|pickle|xlsx?|xml|zip|gz|bz2|xz|zst|tar|tfrecord|jpg|jpeg|png|wav|mp3)$/i;

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The stage's params as run params: `train.lr`, and `FILE/key` for a file other than the pipeline's params file. */
export function stageParams(locked: Record<string, Record<string, unknown>> | undefined, defaultFile: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, values] of Object.entries(locked ?? {})) {
    for (const [key, value] of Object.entries(values)) {
      const flat = value !== null && typeof value === 'object' && !Array.isArray(value) ? flattenValues(value, key) : { [key]: value };
      for (const [k, v] of Object.entries(flat)) {
        // '/' is the one separator a param name may hold besides '.'.
        const name = safeKey(file === defaultFile ? k : `${file}/${k}`);
        out[name] = clip(paramText(v), MAX_PARAM_VALUE);
      }
    }
  }
  return out;
}

/**
 * Whether a dep is data (a dataset input) rather than code, a model or a report: a path tracked by a
 * pointer file, an out declared with `dataset:`, or a data file by its extension; never a metrics or
 * plots file of a stage, nor a params file.
 */
export function isDataDep(root: string, pipeline: Pipeline, dep: string): boolean {
  const reports = pipeline.stages.some((s) => [...s.metrics, ...s.plots].some((o) => dep === o.path || dep.startsWith(`${o.path}/`)));
  if (reports || dep === pipeline.paramsFile || pipeline.stages.some((s) => s.params.some((p) => p.file === dep))) return false;
  if (existsSync(join(root, `${dep}${POINTER_SUFFIX}`))) return true;
  if (pipeline.stages.some((s) => s.outs.some((o) => o.dataset !== undefined && (dep === o.path || dep.startsWith(`${o.path}/`))))) return true;
  return DATA_EXTENSIONS.test(dep);
}

/** A dataset input of a run: a stage's data dep by its path and digest. */
export interface StageDatasetInput {
  name: string;
  digest: string;
  source: string;
  sourceType: string;
  context: 'training' | 'input';
  path: LockedPath;
}

/** The dataset inputs of a stage run, from its locked deps. */
export function stageDatasetInputs(root: string, pipeline: Pipeline, stage: Stage, deps: LockedPath[]): StageDatasetInput[] {
  const context = stage.register ? 'training' : 'input';
  return deps
    .filter((d) => isDataDep(root, pipeline, d.path))
    .map((d) => ({
      name: d.path,
      digest: d.sha256,
      source: JSON.stringify({ path: d.path, digest: d.sha256, ...(d.kind === 'folder' ? { kind: 'folder', files: d.files } : {}) }),
      sourceType: 'local',
      context,
      path: d,
    }));
}

async function filesUnder(root: string, path: string, limit = MAX_FOLDER_FILES): Promise<string[]> {
  const real = await workspaceFile(root, path);
  if (real === undefined) return [];
  const info = await stat(real);
  if (info.isFile()) return [path];
  if (!info.isDirectory()) return [];
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (out.length >= limit) return;
      const child = posix.join(rel, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  await walk(path);
  return out;
}

// A file streamed as it is read, so a large model never sits in memory whole.
function fileBody(file: string): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
}

/** Creates the observer that records each stage run as a tracking run. */
export function createTrackingObserver(opts: TrackingObserverOptions): TrackingObserver {
  const { client, root, pipeline } = opts;
  const warn = opts.warn ?? (() => undefined);
  const runs = new Map<string, string>();
  const registered: RegisteredByStage[] = [];
  // Dataset versions registered by this pipeline run, by digest and by out path.
  const registeredDigests = new Map<string, { name: string; version: number }>();
  const datasets = new Map<string, string>();
  let experiment: Promise<{ id: string; name: string }> | undefined;
  let repo: Promise<GitState> | undefined;
  const environments = new Map<boolean, Promise<Record<string, string>>>();

  const experimentOf = (): Promise<{ id: string; name: string }> => {
    experiment ??= (async () => {
      const name = opts.experiment ?? (await readPipelineSettings(root, pipeline.file)).experiment;
      return { id: await experimentId(client, name), name };
    })();
    return experiment;
  };
  const environmentOf = (python: boolean): Promise<Record<string, string>> => {
    let env = environments.get(python);
    if (!env) {
      env = captureEnvironment({ root, python });
      environments.set(python, env);
    }
    return env;
  };

  async function log(runId: string, body: { params?: Record<string, string>; metrics?: Record<string, number>; tags?: Record<string, string> }): Promise<void> {
    const now = Date.now();
    const params = Object.entries(body.params ?? {}).map(([key, value]) => ({ key, value }));
    const metrics = Object.entries(body.metrics ?? {}).map(([key, value]) => ({ key, value: Number.isFinite(value) ? value : Number.isNaN(value) ? ('NaN' as const) : value > 0 ? ('Infinity' as const) : ('-Infinity' as const), timestamp: now, step: 0 }));
    const tags = Object.entries(body.tags ?? {}).map(([key, value]) => ({ key, value: clip(value, MAX_TAG_VALUE) }));
    const n = Math.max(chunks(params, LOG_BATCH).length, chunks(metrics, LOG_BATCH).length, chunks(tags, LOG_BATCH).length);
    for (let i = 0; i < n; i++) {
      await client.runs.log(runId, {
        params: params.slice(i * LOG_BATCH, (i + 1) * LOG_BATCH),
        metrics: metrics.slice(i * LOG_BATCH, (i + 1) * LOG_BATCH),
        tags: tags.slice(i * LOG_BATCH, (i + 1) * LOG_BATCH),
      });
    }
  }

  async function upload(runId: string, path: string, artifactPath: string): Promise<void> {
    const real = await workspaceFile(root, path);
    if (real === undefined) return;
    const info = await stat(real);
    if (!info.isFile()) return;
    if (info.size > MAX_UPLOAD_BYTES) {
      warn(`${path} is ${info.size} bytes, more than the ${MAX_UPLOAD_BYTES} uploaded as a run artifact; its digest is in outs.json.`);
      return;
    }
    await client.artifacts.upload(runId, artifactPath, fileBody(real));
  }

  async function recordOutputs(runId: string, stage: Stage, result: StageResult): Promise<Record<string, string>> {
    const tags: Record<string, string> = {};
    // Metrics and plots files themselves, where the run's page shows them.
    for (const out of [...stage.metrics, ...stage.plots]) {
      for (const file of await filesUnder(root, out.path)) await upload(runId, file, file);
    }
    const outs = result.lock?.outs ?? [];
    if (outs.length > 0) {
      const cached = new Set([...stage.outs, ...stage.metrics, ...stage.plots].filter((o) => o.cache).map((o) => o.path));
      const record = { stage: stage.name, outs: outs.map((o) => ({ ...o, cached: cached.has(o.path) })) };
      await client.artifacts.upload(runId, 'outs.json', `${JSON.stringify(record, null, 2)}\n`);
      for (const o of outs.slice(0, MAX_OUT_TAGS)) tags[safeKey(`${OUT_TAG_PREFIX}${o.path}.sha256`)] = o.sha256;
    }
    return tags;
  }

  async function registerModel(runId: string, stage: Stage): Promise<RegisteredByStage | undefined> {
    const reg = stage.register;
    if (!reg) return undefined;
    const real = await workspaceFile(root, reg.path);
    if (real === undefined) throw new SlipwayError('DATA_ERROR', `Stage '${stage.name}' registers ${reg.path}, which the stage did not produce.`, { stage: stage.name, path: reg.path });
    const info = await stat(real);
    const files = info.isDirectory() ? await filesUnder(root, reg.path, MAX_MODEL_FILES + 1) : [reg.path];
    if (files.length > MAX_MODEL_FILES) throw new SlipwayError('DATA_ERROR', `Stage '${stage.name}' registers ${reg.path}, a folder of more than ${MAX_MODEL_FILES} files; register the model's own folder.`, { stage: stage.name, path: reg.path });
    if (files.length === 0) throw new SlipwayError('DATA_ERROR', `Stage '${stage.name}' registers ${reg.path}, an empty folder.`, { stage: stage.name, path: reg.path });
    // The model's files become the run's `model/` artifacts, so the version's source is the run (runs:/ID/model).
    for (const file of files) {
      const inside = info.isDirectory() ? posix.relative(reg.path, file) : basename(file);
      const full = await workspaceFile(root, file);
      if (full === undefined) continue;
      await client.artifacts.upload(runId, `model/${inside}`, fileBody(full));
    }
    try {
      await client.models.create({ name: reg.name });
    } catch (err) {
      if (codeOf(err) !== 'ALREADY_EXISTS') throw err;
    }
    const version = await client.models.createVersion(reg.name, { source: `runs:/${runId}/model`, runId, description: `Registered by stage '${stage.name}' of ${pipeline.file}.` });
    if (version.status === 'FAILED_REGISTRATION') {
      throw new SlipwayError('DATA_ERROR', `Stage '${stage.name}': ${reg.path} was registered as ${reg.name} version ${version.version} but cannot be read: ${version.statusMessage ?? 'unreadable model'}`, { stage: stage.name });
    }
    for (const alias of reg.aliases) await client.models.setAlias(reg.name, alias, version.version);
    return { stage: stage.name, runId, name: reg.name, version: String(version.version), aliases: [...reg.aliases] };
  }

  /** The registered dataset version a dep's content is, when one is known: by its pointer, this run's registrations, or its producer's `dataset:`. */
  async function registeredVersionOf(dep: LockedPath): Promise<{ name: string; version: number } | undefined> {
    const pointerAbs = join(root, `${dep.path}${POINTER_SUFFIX}`);
    if (existsSync(pointerAbs)) {
      try {
        const pointer = readPointerFile(pointerAbs, `${dep.path}${POINTER_SUFFIX}`);
        const spec = datasetSpec(pointer.dataset);
        if (spec && pointer.sha256 === dep.sha256) return spec;
      } catch {
        // An unreadable pointer links nothing; the dep is still logged by its digest.
      }
    }
    const mine = registeredDigests.get(dep.sha256);
    if (mine) return mine;
    const producer = pipeline.stages.flatMap((s) => [...s.outs, ...s.metrics, ...s.plots]).find((o) => o.path === dep.path && o.dataset !== undefined);
    if (producer?.dataset) {
      try {
        const page = await client.datasets.listVersions(producer.dataset, { maxResults: 100 });
        const found = page.versions.find((v) => v.digest === dep.sha256);
        if (found) return { name: found.name, version: found.version };
      } catch (err) {
        if (codeOf(err) !== 'NOT_FOUND') throw err;
      }
    }
    return undefined;
  }

  async function logDatasetInputs(runId: string, inputs: StageDatasetInput[]): Promise<void> {
    const plain: LogInputsBody['datasets'] = [];
    for (const input of inputs) {
      const version = await registeredVersionOf(input.path);
      if (version) await client.datasets.logInput(runId, version.name, version.version, input.context);
      else plain.push(plainDatasetInput(input));
    }
    for (const batch of chunks(plain, 500)) await client.runs.logInputs(runId, { datasets: batch });
  }

  /** Registers each `dataset:` out the stage wrote as the next version of that dataset (the same content keeps its version). */
  async function registerDatasets(runId: string, stage: Stage, result: StageResult): Promise<Record<string, string>> {
    const tags: Record<string, string> = {};
    for (const out of [...stage.outs, ...stage.metrics, ...stage.plots]) {
      if (!out.dataset) continue;
      const locked = result.lock?.outs.find((o) => o.path === out.path);
      if (!locked) continue;
      const body: RegisterDatasetBody = {
        digest: locked.sha256,
        kind: locked.kind,
        files: locked.files ?? 1,
        bytes: locked.size,
        source: out.path,
        description: `Written by stage '${stage.name}' of ${pipeline.file}.`,
        runId,
      };
      if (locked.kind === 'file' && TABLE_FILE.test(out.path) && locked.size <= MAX_PROFILE_BYTES) Object.assign(body, await tableProfile(join(root, out.path), out.path, warn));
      const version = await client.datasets.register(out.dataset, body);
      registeredDigests.set(locked.sha256, { name: version.name, version: version.version });
      datasets.set(out.path, `${version.name}@${version.version}`);
      tags[safeKey(`slipway.dataset.${out.path}`)] = `${version.name}@${version.version}`;
    }
    return tags;
  }

  return {
    runs,
    datasets,
    registered,
    experimentName: async () => (await experimentOf()).name,

    async stageStarted(stage: Stage, decision: StageDecision): Promise<{ runId?: string } | void> {
      if (!decision.run) return undefined;
      // The contract hands the command only the run id; the server to log into travels in the stage's own env.
      if (opts.trackingUri && stage.env.MLFLOW_TRACKING_URI === undefined) stage.env.MLFLOW_TRACKING_URI = opts.trackingUri;
      const exp = await experimentOf();
      repo ??= gitState(root);
      const git = await repo;
      const env = await environmentOf(usesPython(stage));
      const tags: Record<string, string> = {
        'mlflow.source.name': pipeline.file,
        'mlflow.source.type': 'PROJECT',
        [STAGE_TAG]: stage.name,
        [STAGE_CMD_TAG]: clip(stage.cmd, MAX_TAG_VALUE),
        [STAGE_REASON_TAG]: decision.reason,
        ...env,
      };
      if (git.commit) tags['mlflow.source.git.commit'] = git.commit;
      if (git.dirty !== undefined) tags[GIT_DIRTY_TAG] = String(git.dirty);
      const run = await client.runs.create({ experimentId: exp.id, runName: stage.name, startTime: Date.now(), tags });
      runs.set(stage.name, run.info.runId);
      return { runId: run.info.runId };
    },

    async stageFinished(result: StageResult): Promise<{ runId?: string } | void> {
      const { stage } = result;
      const runId = runs.get(stage.name);
      if (result.status === 'restored' || result.status === 'skipped') return result.lock?.runId ? { runId: result.lock.runId } : undefined;
      if (runId === undefined) return undefined;
      if (result.status === 'failed') {
        const tags: Record<string, string> = {};
        if (result.outputTail) tags[OUTPUT_TAIL_TAG] = clip(result.outputTail, MAX_TAG_VALUE);
        if (result.exitCode !== undefined) tags['slipway.stage.exit_code'] = String(result.exitCode);
        if (result.error) tags['slipway.stage.error'] = clip(result.error, MAX_TAG_VALUE);
        try {
          await log(runId, { tags });
        } finally {
          await client.runs.update(runId, { status: 'FAILED', endTime: result.endTime });
        }
        return { runId };
      }
      try {
        const params = stageParams(result.lock?.params, pipeline.paramsFile);
        const metrics: Record<string, number> = {};
        for (const m of stage.metrics) Object.assign(metrics, Object.fromEntries(Object.entries((await readMetricsFile(root, m.path)) ?? {}).map(([k, v]) => [safeKey(k), v])));
        const outTags = await recordOutputs(runId, stage, result);
        const datasetTags = await registerDatasets(runId, stage, result);
        await log(runId, { params, metrics, tags: { ...outTags, ...datasetTags } });
        const inputs = stageDatasetInputs(root, pipeline, stage, result.lock?.deps ?? []);
        if (inputs.length > 0) await logDatasetInputs(runId, inputs);
        const version = await registerModel(runId, stage);
        if (version) {
          registered.push(version);
          await log(runId, { tags: { 'slipway.registered_model': `${version.name}/${version.version}` } });
        }
      } catch (err) {
        await client.runs.update(runId, { status: 'FAILED', endTime: Date.now() }).catch(() => undefined);
        throw err;
      }
      await client.runs.update(runId, { status: 'FINISHED', endTime: result.endTime });
      return { runId };
    },
  };
}

/** The id of the experiment `name`, created when it does not exist; a deleted one is refused. */
export async function experimentId(client: PipelineTrackingClient, name: string): Promise<string> {
  try {
    const exp = await client.experiments.getByName(name);
    if (exp.lifecycleStage === 'deleted') {
      throw new SlipwayError('INVALID_STATE', `Experiment '${name}', where the pipeline records its stage runs, is deleted: restore it (slipway experiments restore ${exp.experimentId}) or name another in slipway.yaml (pipeline.experiment).`, { experiment: name });
    }
    return exp.experimentId;
  } catch (err) {
    if (codeOf(err) !== 'NOT_FOUND') throw err;
  }
  try {
    return (await client.experiments.create({ name })).experimentId;
  } catch (err) {
    // Another pipeline created it at the same moment.
    if (codeOf(err) === 'ALREADY_EXISTS') return (await client.experiments.getByName(name)).experimentId;
    throw err;
  }
}

// `NAME@VERSION` as a pointer file's `dataset` holds it.
function datasetSpec(spec: string | undefined): { name: string; version: number } | undefined {
  const m = spec === undefined ? null : /^(.+)@([1-9]\d{0,8})$/.exec(spec);
  return m ? { name: m[1] as string, version: Number(m[2]) } : undefined;
}

/** The generic run input of a data dep: its path as the name, the digest's first 36 characters, and the full digest in the source. */
export function plainDatasetInput(input: StageDatasetInput): LogInputsBody['datasets'][number] {
  return {
    dataset: { name: input.name, digest: input.digest.slice(0, MLFLOW_DIGEST_LENGTH), sourceType: input.sourceType, source: input.source },
    tags: [{ key: DATASET_CONTEXT_TAG, value: input.context }],
  };
}

/** The schema and profile of a table file, for its dataset version; none (with a warning) when it cannot be read as a table. */
async function tableProfile(file: string, path: string, warn: (message: string) => void): Promise<Pick<RegisterDatasetBody, 'schema' | 'profile'>> {
  try {
    const [{ readTable, profileTable }, { schemaOfTable }] = await Promise.all([import('../monitoring/index.js'), import('../data/dataset-schema.js')]);
    const table = await readTable(file);
    return { schema: schemaOfTable(table), profile: profileTable(table).toJSON() as unknown as Record<string, unknown> };
  } catch (err) {
    warn(`${path} was registered without a schema or profile: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
}
