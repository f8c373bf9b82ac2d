/**
 * The registry as serving's `ModelSource`: resolves `models:/NAME@ALIAS` and
 * `models:/NAME/VERSION` to a local ONNX file and its input columns, lists servable
 * models, and tells serving when aliases or stages move — at once for changes made
 * in this process, and by polling for changes made by another process (the CLI).
 */
import { join } from 'node:path';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { SlipwayError, errors } from '../core/errors.js';
import type { ModelRef, ModelSource, ResolvedModel } from '../core/model-source.js';
import { columnsFromDatasetSchema, columnsFromPerFeatureInputs, columnsFromTag, COLUMNS_TAG } from './model-columns.js';
import type { RegistryService } from './registry-service.js';
import type { ModelVersion } from './registry-types.js';
import { DELETED_STAGE } from './registry-validation.js';
import { ARTIFACTS_SCHEME, artifactPathOf, localPathOf } from './version-source.js';

/** Options of the registry model source. */
export interface RegistryModelSourceOptions {
  /** Where ONNX files are materialised from; defaults to the registry's artifact store. */
  artifacts?: ArtifactStore;
  /**
   * How often to look for alias and stage moves made by other processes, in ms; 0 turns it off.
   * @default 0
   */
  pollIntervalMs?: number;
  /**
   * Notices of registry changes made by other processes (PostgreSQL LISTEN): each one triggers a
   * look at once, so alias moves and new versions reach serving without waiting for the poll.
   */
  changes?: RegistryChangeFeed;
}

/** A feed of registry changes made elsewhere: a model's name, or undefined when anything may have changed. */
export interface RegistryChangeFeed {
  subscribe(listener: (name: string | undefined) => void): () => void;
}

/** Resolves registered models for serving. */
export class RegistryModelSource implements ModelSource {
  private readonly artifacts: ArtifactStore | undefined;
  private readonly listeners = new Set<(name: string) => void>();
  private snapshot: Map<string, string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeFeed: (() => void) | undefined;
  private polling: Promise<void> | undefined;
  private pollAgain = false;

  constructor(
    private readonly registry: RegistryService,
    opts: RegistryModelSourceOptions = {},
  ) {
    this.artifacts = opts.artifacts ?? registry.artifacts;
    this.unsubscribe = registry.onChange((name) => this.emit(name));
    if (opts.changes) this.unsubscribeFeed = opts.changes.subscribe(() => void this.lookNow());
    if (opts.pollIntervalMs && opts.pollIntervalMs > 0) {
      // The first look is the baseline, so take it now rather than one interval late.
      void this.poll().catch(() => {});
      this.timer = setInterval(() => void this.poll().catch(() => {}), opts.pollIntervalMs);
      // Polling must never keep a process alive on its own.
      this.timer.unref();
    }
  }

  private emit(name: string): void {
    for (const l of this.listeners) {
      try {
        l(name);
      } catch {
        // A listener's failure is its own; the others still hear about the change.
      }
    }
  }

  /** Resolves a reference to a READY version with an ONNX file materialised on local disk. */
  async resolve(ref: ModelRef): Promise<ResolvedModel> {
    const version = await this.registry.resolveRef(ref);
    const label = `${version.name}/${version.version}`;
    if (version.status !== 'READY') {
      throw new SlipwayError('MODEL_NOT_READY', `Model version ${label} is ${version.status}${version.statusMessage ? `: ${version.statusMessage}` : ''}.`, {
        name: version.name,
        version: version.version,
      });
    }
    if (!version.signature) {
      const unreadable = await this.unreadableLocation(version);
      const why = unreadable ? `: ${unreadable}` : '.';
      throw errors.state(`Model version ${label} has no ONNX file this server can read, so it cannot be served here${why}`, { name: version.name, version: version.version });
    }
    // A signature read from a local source (inside an allowed folder) records the file's absolute path; serving checks it again.
    const local = version.signature.path.startsWith('/');
    if (!local && !this.artifacts) throw new SlipwayError('UNAVAILABLE', 'No artifact store is configured to load model files from.');
    const onnxPath = local ? version.signature.path : await this.localModelFile(this.artifacts as ArtifactStore, version.signature.path);
    const resolved: ResolvedModel = { name: version.name, version: version.version, onnxPath };
    const columns = await this.columnsOf(version);
    if (columns) resolved.columns = columns;
    return resolved;
  }

  /**
   * The ONNX file on local disk. A file with others beside it (external weights such as
   * `model.onnx.data`, next to MLflow's metadata files) is materialised with its whole folder,
   * because onnxruntime reads external data from paths relative to the model file; a file alone
   * in its folder is used where the store keeps it.
   */
  private async localModelFile(artifacts: ArtifactStore, path: string): Promise<string> {
    const slash = path.lastIndexOf('/');
    if (slash < 0 || !artifacts.localFolder) return artifacts.localPath(path);
    const dir = path.slice(0, slash);
    const entries = await artifacts.list(dir);
    if (entries.length === 1 && entries[0]?.isDir === false) return artifacts.localPath(path);
    return join(await artifacts.localFolder(dir), ...path.slice(slash + 1).split('/'));
  }

  /**
   * Input column names: the `slipway.columns` version tag, else the input names when
   * the model takes one single-column tensor per feature, else the training dataset's
   * columns when their count matches the input width.
   */
  async columnsOf(version: ModelVersion): Promise<string[] | undefined> {
    const fromTag = columnsFromTag(version.tags[COLUMNS_TAG]);
    if (fromTag) return fromTag;
    const inputs = version.signature?.inputs ?? [];
    const perFeature = columnsFromPerFeatureInputs(inputs);
    if (perFeature) return perFeature;
    if (inputs.length !== 1 || !version.runId) return undefined;
    const width = inputs[0]?.shape[1];
    const datasets = await this.registry.store.db
      .selectFrom('inputs as i')
      .innerJoin('datasets as d', 'd.dataset_uuid', 'i.source_id')
      .leftJoin('input_tags as t', (j) => j.onRef('t.input_uuid', '=', 'i.input_uuid').on('t.name', '=', 'mlflow.data.context'))
      .select(['d.schema', 't.value as context'])
      .where('i.destination_type', '=', 'RUN')
      .where('i.destination_id', '=', version.runId)
      .where('i.source_type', '=', 'DATASET')
      .execute();
    // Prefer the dataset logged as training data.
    datasets.sort((a, b) => Number(b.context === 'training') - Number(a.context === 'training'));
    for (const d of datasets) {
      const cols = columnsFromDatasetSchema(d.schema, typeof width === 'number' ? width : undefined);
      if (cols) return cols;
    }
    return undefined;
  }

  /** Every alias of every model that points at a servable (READY, ONNX) version, and each model's newest servable version. */
  async list(): Promise<ModelRef[]> {
    const db = this.registry.store.db;
    const servable = db
      .selectFrom('model_versions')
      .select(['name', 'version'])
      .where('status', '=', 'READY')
      .where('signature', 'is not', null)
      .where('current_stage', '<>', DELETED_STAGE);
    const aliases = await db
      .selectFrom('registered_model_aliases as a')
      .innerJoin(servable.as('s'), (j) => j.onRef('s.name', '=', 'a.name').onRef('s.version', '=', 'a.version'))
      .select(['a.name', 'a.alias'])
      .orderBy('a.name')
      .orderBy('a.alias')
      .execute();
    const newest = await servable
      .clearSelect()
      .select(['name'])
      .select((eb) => eb.fn.max('version').as('version'))
      .groupBy('name')
      .orderBy('name')
      .execute();
    const out: ModelRef[] = [];
    for (const n of newest) {
      out.push({ name: n.name, version: String(n.version) });
      for (const a of aliases) if (a.name === n.name) out.push({ name: a.name, alias: a.alias });
    }
    return out;
  }

  /**
   * Why the files of a version without a signature were never read here, when that is the reason: its `runs:/`
   * source names a run this server does not know, its location is outside this server's artifact store, or it is
   * a local folder serving may not read. Undefined when the files were read and hold no ONNX file.
   */
  private async unreadableLocation(version: ModelVersion): Promise<string | undefined> {
    const location = version.storageLocation;
    if (location.startsWith(ARTIFACTS_SCHEME)) return undefined;
    if (location.startsWith('runs:')) {
      const run = /^runs:\/+([^/]+)/.exec(location)?.[1] ?? '';
      return (
        `its files are at ${location}, in run '${run}', which this server does not know, so they were never read. ` +
        'Log the model to a run on this server and register runs:/<run_id>/<path>, or register the .onnx file (slipway models register FILE).'
      );
    }
    const local = localPathOf(location);
    if (local !== undefined) {
      if (await this.registry.modelFiles.allows(local)) return undefined;
      return (
        `its files are in the local folder ${local}, outside the artifact store and the folders allowed by --model-source-allowed-dirs, so they were never read. ` +
        'Allow that folder with --model-source-allowed-dirs and register the version again.'
      );
    }
    return `its files are at ${location}, outside this server's artifact store, which serving does not read. Register the .onnx file into the artifact store (slipway models register FILE).`;
  }

  /**
   * Why registered model `name` has no servable version: its newest version failed registration,
   * or holds no ONNX file (an MLflow flavour such as `sklearn`, named from its MLmodel file).
   * Undefined when no model of that name is registered.
   */
  async unservableReason(name: string): Promise<string | undefined> {
    const model = await this.registry.store.db.selectFrom('registered_models').select('name').where('name', '=', name).executeTakeFirst();
    if (!model) return undefined;
    const [newest] = await this.registry.listModelVersions(name, 1);
    if (!newest) return `Model '${name}' is registered but has no versions to serve.`;
    const label = `version ${newest.version} (${newest.source})`;
    if (newest.status !== 'READY') return `Model '${name}' has no servable version: its newest, ${label}, is ${newest.status}${newest.statusMessage ? `: ${newest.statusMessage}` : ''}.`;
    const unreadable = await this.unreadableLocation(newest);
    if (unreadable) return `Model '${name}' has no version this server can serve: for its newest, ${label}, ${unreadable}`;
    const flavours = await this.mlflowFlavours(newest.storageLocation);
    const what = flavours ? `an MLflow model of flavour${flavours.length > 1 ? 's' : ''} ${flavours.join(', ')} with no .onnx file` : 'holds no .onnx file';
    return (
      `Model '${name}' has no ONNX version, so it is not served: Slipway serves ONNX models only, and its newest, ${label}, is ${what}. ` +
      `Convert the model to ONNX and register the .onnx file; see "Converting models to ONNX" in docs/serving.md.`
    );
  }

  /** The flavours an MLflow model's MLmodel file names (`sklearn`, `python_function` …), or undefined when there is none to read. */
  private async mlflowFlavours(location: string): Promise<string[] | undefined> {
    const path = artifactPathOf(location);
    if (path === undefined || !this.artifacts) return undefined;
    const file = path === '' ? 'MLmodel' : `${path}/MLmodel`;
    if (!(await this.artifacts.stat(file))) return undefined;
    let text = '';
    for await (const chunk of await this.artifacts.get(file)) {
      text += String(chunk);
      // The flavours come first in the files MLflow writes; the file's head is enough.
      if (text.length > 64 * 1024) break;
    }
    const lines = text.split(/\r?\n/);
    const start = lines.findIndex((l) => /^flavors:\s*$/.test(l));
    if (start < 0) return undefined;
    const names: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (/^\S/.test(line)) break;
      const key = /^ {2}([A-Za-z0-9_.-]+):/.exec(line);
      if (key) names.push(key[1] as string);
    }
    return names.length > 0 ? names : undefined;
  }

  /** Calls `listener(name)` whenever an alias or stage of model `name` moves (or the model or a version is deleted). */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Looks for changes now, after a notice; notices that arrive while a look runs make one more
   * look after it, so a burst costs two looks and the last change is never missed.
   */
  private lookNow(): void {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.poll()
      .catch(() => {})
      .finally(() => {
        this.polling = undefined;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.lookNow();
        }
      });
  }

  /** Stops polling and detaches from the registry. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribeFeed?.();
    this.unsubscribeFeed = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Compares aliases and active stages with the last look and announces models that moved elsewhere. */
  async poll(): Promise<void> {
    const db = this.registry.store.db;
    const next = new Map<string, string>();
    const add = (name: string, part: string) => next.set(name, `${next.get(name) ?? ''}${part};`);
    for (const a of await db.selectFrom('registered_model_aliases').select(['name', 'alias', 'version']).orderBy('name').orderBy('alias').execute()) {
      add(a.name, `@${a.alias}=${a.version}`);
    }
    const staged = await db
      .selectFrom('model_versions')
      .select(['name', 'version', 'current_stage'])
      .where('current_stage', 'in', ['Staging', 'Production'])
      .orderBy('name')
      .orderBy('version')
      .execute();
    for (const v of staged) add(v.name, `${v.current_stage}=${v.version}`);
    // A new servable version moves what "the newest version" serves.
    const newest = await db
      .selectFrom('model_versions')
      .select(['name'])
      .select((eb) => eb.fn.max('version').as('version'))
      .where('status', '=', 'READY')
      .where('signature', 'is not', null)
      .where('current_stage', '<>', DELETED_STAGE)
      .groupBy('name')
      .orderBy('name')
      .execute();
    for (const v of newest) add(v.name, `newest=${String(v.version)}`);
    for (const name of (await db.selectFrom('registered_models').select('name').execute()).map((r) => r.name)) if (!next.has(name)) next.set(name, '');
    const previous = this.snapshot;
    this.snapshot = next;
    if (!previous) return;
    // A model changed here was announced already, but another process may have changed it again since: announce
    // every difference (listeners look the model up again, so a second notice of the same change costs one lookup).
    const names = new Set([...previous.keys(), ...next.keys()]);
    for (const name of names) {
      if (previous.get(name) !== next.get(name)) this.emit(name);
    }
  }
}
