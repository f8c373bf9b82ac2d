/**
 * A model version's lineage, read from the stores that already hold each piece: the registry
 * (version, source, signature, aliases), tracking (run, params, tags, inputs), the artifact store
 * (the model file's digest) and releases (gates, approvals, who asked). Nothing is copied or cached,
 * so the answer is what the store says now.
 */
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import type { Lineage, LineageDataset, LineageRelease, LineageRun } from '../client/schemas/governance.js';
import { SlipwayError } from '../core/errors.js';
import { DatasetService } from '../data/dataset-service.js';
import type { ModelRef } from '../core/model-source.js';
import type { RegistryService } from '../registry/registry-service.js';
import type { ModelVersion } from '../registry/registry-types.js';
import type { ReleaseService } from '../release/release-service.js';
import type { Store } from '../store/store.js';
import type { TrackingService } from '../tracking/tracking-service.js';
import type { Run } from '../tracking/tracking-types.js';

/** The services lineage and model cards read from. */
export interface GovernanceSources {
  store: Store;
  registry: RegistryService;
  tracking: TrackingService;
  releases: ReleaseService;
  artifacts?: ArtifactStore;
}

/** The run tag holding the code revision (as MLflow's clients set it). */
export const CODE_REVISION_TAG = 'mlflow.source.git.commit';

// A run tag names an environment fact when it says which version of a runtime or library ran.
const ENVIRONMENT_TAG = /^env\.|(^|[._])(python|onnxruntime|onnx|numpy|sklearn|scikit-learn|torch|tensorflow|platform|cuda)([._]version)?$|[._]version$/i;
// A run tag names a dataset when it is `dataset`, `dataset.*`/`dataset_*` or `training_data`.
const DATASET_TAG = /^(dataset([._].+)?|training_data|evaluation_data)$/i;
// Releases read for one model: far above any real model's release count, and still one query.
const MAX_RELEASES = 1000;

/** Reads the lineage of the version `ref` names (a version number or an alias). */
export async function buildLineage(src: GovernanceSources, ref: ModelRef): Promise<Lineage> {
  const mv = await src.registry.resolveRef(ref);
  const unknown: string[] = [];
  const run = await runOf(src, mv, unknown);
  const artifact = await artifactOf(src, mv, unknown);
  const releases = await releasesOf(src, mv);
  if (releases.length === 0) unknown.push(`No release has moved version ${mv.version} of '${mv.name}': it reached its aliases, if any, by a direct alias change.`);
  return {
    model: mv.name,
    version: mv.version,
    createdTime: mv.creationTimestamp,
    registeredBy: mv.userId ?? null,
    status: mv.status,
    stage: mv.currentStage,
    run,
    artifact,
    releases,
    serving: { aliases: [...mv.aliases].sort(), stage: mv.currentStage },
    unknown,
  };
}

async function runOf(src: GovernanceSources, mv: ModelVersion, unknown: string[]): Promise<LineageRun | null> {
  if (!mv.runId) {
    unknown.push(`Version ${mv.version} was registered from '${mv.source}' without a run: the training parameters, code revision, datasets and environment are unknown.`);
    return null;
  }
  let run: Run;
  try {
    run = await src.tracking.getRun(mv.runId);
  } catch (err) {
    if (err instanceof SlipwayError && err.code === 'NOT_FOUND') {
      unknown.push(`Run ${mv.runId}, which produced version ${mv.version}, is no longer in the store: its parameters, code revision and datasets are unknown.`);
      return null;
    }
    throw err;
  }
  const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
  let experimentName: string | null = null;
  try {
    experimentName = (await src.tracking.getExperiment(run.info.experimentId)).name;
  } catch (err) {
    if (!(err instanceof SlipwayError && err.code === 'NOT_FOUND')) throw err;
  }
  const registered = new DatasetService({ store: src.store });
  const datasets: LineageDataset[] = [];
  for (const d of run.inputs.datasetInputs) {
    const version = await registered.versionOfInput(d.dataset);
    datasets.push({
      name: d.dataset.name,
      digest: d.dataset.digest || null,
      source: d.dataset.source || null,
      sourceType: d.dataset.sourceType || null,
      context: d.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? null,
      from: 'input',
      ...(version ? { datasetVersion: { name: version.name, version: version.version } } : {}),
    });
  }
  const environment: Record<string, string> = {};
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags).sort(([a], [b]) => a.localeCompare(b))) {
    if (DATASET_TAG.test(key)) datasets.push({ name: value, digest: null, source: null, sourceType: null, context: key.toLowerCase().startsWith('evaluation') ? 'evaluation' : key.toLowerCase() === 'training_data' ? 'training' : null, from: 'tag' });
    else if (!key.startsWith('mlflow.') && ENVIRONMENT_TAG.test(key)) environment[key] = value;
    else if (!key.startsWith('mlflow.')) other[key] = value;
  }
  const codeRevision = tags[CODE_REVISION_TAG] ?? null;
  if (codeRevision === null) unknown.push(`Run ${run.info.runId} has no ${CODE_REVISION_TAG} tag: the code revision is unknown.`);
  if (datasets.length === 0) unknown.push(`Run ${run.info.runId} logged no dataset (no run input, no dataset tag): the training data is unknown.`);
  if (Object.keys(environment).length === 0) unknown.push(`Run ${run.info.runId} has no environment tags (python or library versions): the training environment is unknown.`);
  return {
    runId: run.info.runId,
    runName: run.info.runName,
    experimentId: run.info.experimentId,
    experimentName,
    status: run.info.status,
    userId: run.info.userId,
    startTime: run.info.startTime,
    endTime: run.info.endTime ?? null,
    params: Object.fromEntries(run.data.params.map((p) => [p.key, p.value])),
    metrics: Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value])),
    codeRevision,
    sourceName: tags['mlflow.source.name'] ?? null,
    sourceType: tags['mlflow.source.type'] ?? null,
    datasets,
    environment,
    tags: other,
  };
}

async function artifactOf(src: GovernanceSources, mv: ModelVersion, unknown: string[]): Promise<Lineage['artifact']> {
  const file = mv.signature?.path ?? null;
  let stat: { size: number; sha256: string } | undefined;
  if (file !== null && src.artifacts) stat = await src.artifacts.stat(file);
  if (file === null) unknown.push(`Version ${mv.version} has no ONNX file in the artifact store: its signature and digest are unknown.`);
  else if (!stat) unknown.push(`The model file ${file} is missing from the artifact store: its digest is unknown.`);
  return { source: mv.source, storageLocation: mv.storageLocation, file, sha256: stat?.sha256 ?? null, size: stat?.size ?? null, signature: mv.signature ?? null };
}

async function releasesOf(src: GovernanceSources, mv: ModelVersion): Promise<LineageRelease[]> {
  const { releases } = await src.releases.list({ model: mv.name, maxResults: MAX_RELEASES });
  return releases
    .filter((r) => r.version === mv.version)
    .reverse()
    .map((r) => ({
      id: r.id,
      environment: r.environment,
      state: r.state,
      reason: r.reason,
      requestedBy: r.requestedBy,
      championVersion: r.championVersion ?? null,
      createdTime: r.createdTime,
      endedTime: r.endedTime ?? null,
      gates: r.gates.map((g) => ({ name: g.name, kind: g.kind, verdict: g.verdict, reason: g.reason, figures: g.figures })),
      approvals: r.approvals.map((a) => ({ by: a.by, time: a.time, ...(a.comment !== undefined ? { comment: a.comment } : {}) })),
    }));
}
