/**
 * Keeps the served models: loads each version in the background, warms it, then
 * swaps it in atomically. Requests already queued on the old version finish there
 * before its session is released. A failed load leaves the old version serving
 * and records why. Loads of one model are serialised and coalesced, so ten rapid
 * alias moves end with the latest version loaded, not ten sessions.
 */
import { resolve as resolvePath } from 'node:path';
import type { ModelFileAllowList } from '../artifacts/model-file-allow-list.js';
import { SlipwayError, isSlipwayError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { parseModelUri, type ModelRef, type ModelSource } from '../core/model-source.js';
import { LoadedModel } from './loaded-model.js';
import { loadRuntime, type Runtime } from './model-runtime.js';
import type { ServingMetrics } from './serving-metrics.js';
import type { ServingOptions } from './serving-options.js';

/** Triton's model states. */
export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE';

/** One row of the repository index. */
export interface ModelStatus {
  name: string;
  /** The version serving now (or the one being loaded when none serves yet). */
  version?: string;
  state: ModelState;
  /** Why the model is not ready, or why the last load failed while an older version keeps serving. */
  reason: string;
  /** Where the model comes from: `models:/…` or a file path. */
  uri: string;
  /** The catalogued code of the last failed load, while `reason` tells of it. */
  errorCode?: ErrorCode;
}

/** How a model is loaded. */
export interface LoadOptions {
  /**
   * A model the server was configured to serve (given at start): readiness waits for it and
   * turns false while it has no version serving. Ad-hoc loads never affect readiness.
   */
  required?: boolean;
}

/** What the manager needs. */
export interface ModelManagerInit {
  options: ServingOptions;
  /** Resolves `models:/…` references; absent when only files are served. */
  source?: ModelSource;
  /** The local files that may be loaded; every model file is checked (symbolic links resolved) before it is read. */
  modelFiles: ModelFileAllowList;
  metrics?: ServingMetrics;
  logger?: Logger;
  /**
   * Processes that serve the same models together (the workers of one server) swap versions
   * together: called when a new version of a served model is loaded and warmed, before it
   * replaces the current one; it serves only when this resolves true, else it is dropped and
   * the current version keeps serving.
   */
  swapGate?: (name: string, version: string) => Promise<boolean>;
  /** Told when loading a new version of a served model failed (the others in `swapGate` call the swap off). */
  onSwapLoadFailed?: (name: string, version: string, reason: string) => void;
  /** Requests queued for model `name` by the other processes serving it with this one; they count toward `maxQueueSize`. */
  queuedElsewhere?: (name: string) => number;
  /**
   * Told whenever the version served as `name` changes (a first load, a swap, a release's swap; undefined once
   * unloaded), so the processes serving together know who serves what when they swap together.
   */
  onServing?: (name: string, version: string | undefined) => void;
}

interface Served {
  name: string;
  uri: string;
  columns: string[] | undefined;
  current: LoadedModel | undefined;
  state: ModelState;
  reason: string;
  loadingVersion: string | undefined;
  /** Counts loads of a file-served model, which has no registry version. */
  fileLoads: number;
  pending: { force: boolean } | undefined;
  loading: Promise<void> | undefined;
  removed: boolean;
  required: boolean;
  errorCode: ErrorCode | undefined;
  /**
   * After a promotion or revert the served version runs ahead of the registry alias until the
   * release moves it: an alias event that still resolves to this version must not swap it back.
   */
  staleVersion: string | undefined;
  /** Refused swaps in a row (swapGate), for the pause before looking again; and the timer of that look. */
  refusals?: number;
  retry?: NodeJS.Timeout;
}

/** Called when a model stops being served (`name`) or the whole manager closes (undefined). */
export type StopHook = (name: string | undefined) => Promise<void>;

/** The set of served models. */
export class ModelManager {
  readonly #models = new Map<string, Served>();
  readonly #init: ModelManagerInit;
  readonly #log: Logger;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #removeGauges: (() => void) | undefined;
  readonly #stopHooks: StopHook[] = [];
  #closed = false;
  /** Resolves when the manager closes: a swap waiting at the gate gives up then. */
  readonly #closedSignal: Promise<false>;
  #signalClosed: () => void = () => {};

  constructor(init: ModelManagerInit) {
    this.#closedSignal = new Promise<false>((r) => (this.#signalClosed = () => r(false)));
    this.#init = init;
    this.#log = init.logger ?? silentLogger;
    this.#unsubscribe = init.source?.onChange?.((name) => {
      const s = this.#models.get(name);
      if (s && !s.removed && parseModelUri(s.uri)?.alias !== undefined) void this.#schedule(s, false);
    });
    this.#removeGauges = init.metrics?.addGaugeSource({
      gauges: () =>
        [...this.#models.values()]
          .filter((s) => s.current)
          .map((s) => ({ model: s.name, version: (s.current as LoadedModel).version, queueDepth: (s.current as LoadedModel).queueDepth, inFlight: (s.current as LoadedModel).inFlight })),
    });
  }

  /** Requests waiting for a batch, per served model (all its versions). */
  queueDepths(): Record<string, number> {
    const depths: Record<string, number> = {};
    for (const s of this.#models.values()) if (s.current) depths[s.name] = (depths[s.name] ?? 0) + s.current.queueDepth;
    return depths;
  }

  /** The serving options in force. */
  get options(): ServingOptions {
    return this.#init.options;
  }

  /**
   * Serves `uri` (`models:/NAME@ALIAS`, `models:/NAME/VERSION` or an .onnx path) as `name`,
   * or reloads `name` (from a new `uri` when given). Resolves once the load has finished
   * or failed; the returned status says which.
   */
  async load(name: string, uri?: string, columns?: string[], opts: LoadOptions = {}): Promise<ModelStatus> {
    if (this.#closed) throw new SlipwayError('UNAVAILABLE', 'The server is shutting down.');
    // Registered names may hold spaces and most punctuation; only what breaks URLs and model URIs is refused.
    // eslint-disable-next-line no-control-regex
    if (name === '' || name.length > 1000 || /[/@\u0000-\u001f\u007f]/.test(name)) {
      throw new SlipwayError('INVALID_ARGUMENT', `Model name '${name}' is invalid: it must be 1 to 1000 characters without '/', '@' or control characters.`);
    }
    let s = this.#models.get(name);
    if (!s || s.removed) {
      uri ??= s?.uri ?? (await this.#defaultUri(name));
      s = { name, uri, columns, current: undefined, state: 'LOADING', reason: '', loadingVersion: undefined, fileLoads: 0, pending: undefined, loading: undefined, removed: false, required: false, errorCode: undefined, staleVersion: undefined };
      this.#models.set(name, s);
    } else {
      if (uri !== undefined) s.uri = uri;
      if (columns !== undefined) s.columns = columns;
    }
    if (opts.required) s.required = true;
    await this.#schedule(s, true);
    return this.#status(s);
  }

  /** Stops serving `name`: new requests get 503, running ones finish, then the session is freed. */
  async unload(name: string): Promise<void> {
    const s = this.#models.get(name);
    if (!s || s.removed) throw new SlipwayError('NOT_FOUND', `Model '${name}' is not loaded.`);
    s.removed = true;
    // An operator who unloads a model no longer asks the server to serve it.
    s.required = false;
    const current = s.current;
    s.current = undefined;
    s.state = 'UNAVAILABLE';
    s.reason = 'unloaded';
    this.#init.onServing?.(name, undefined);
    await Promise.all([current?.retire(), ...this.#stopHooks.map((h) => h(name))]);
  }

  /** Runs `hook` when a model is unloaded or the manager closes (a traffic split releases its extra versions there). */
  onStop(hook: StopHook): void {
    this.#stopHooks.push(hook);
  }

  /** The version serving `name` now, or undefined (unknown, unloaded, or not loaded yet). */
  current(name: string): LoadedModel | undefined {
    const s = this.#models.get(name);
    return s && !s.removed ? s.current : undefined;
  }

  /** Where `name` is served from (`ModelStatus.uri`), or undefined when it is not known or was unloaded. */
  uriOf(name: string): string | undefined {
    const s = this.#models.get(name);
    return s && !s.removed ? s.uri : undefined;
  }

  /**
   * Loads `uri` as another version of served model `name` without serving it (a challenger):
   * resolved through the same model source and file allow-list as `load`, warmed, and handed
   * back for the caller to route to and retire. A copy of the version already serving is refused.
   */
  async loadDetached(name: string, uri: string): Promise<LoadedModel> {
    if (this.#closed) throw new SlipwayError('UNAVAILABLE', 'The server is shutting down.');
    const s = this.#models.get(name);
    if (!s || s.removed || !s.current) throw new SlipwayError('NOT_FOUND', `Model '${name}' is not served here.`, { model: name });
    const started = performance.now();
    try {
      const target = await this.#resolveUri(s, uri);
      if (target.version === s.current.version && target.onnxPath === s.current.source) {
        throw new SlipwayError('INVALID_ARGUMENT', `'${uri}' is version ${target.version} of model '${name}', which already serves; name another version.`, { model: name, uri });
      }
      const file = await this.#init.modelFiles.check(target.onnxPath);
      const runtime = await loadRuntime(file, this.#init.options);
      if (s.removed || this.#closed) {
        await runtime.release();
        throw new SlipwayError('NOT_FOUND', `Model '${name}' stopped being served while '${uri}' loaded.`, { model: name });
      }
      this.#init.metrics?.loadTime.observe({ model: name }, (performance.now() - started) / 1000);
      return this.#newLoaded(s, target, runtime);
    } catch (err) {
      this.#init.metrics?.loadFailures.inc({ model: name });
      throw err;
    }
  }

  /**
   * Makes `next` (a version from `loadDetached`, or one kept from an earlier swap) the served
   * version of `name` in one assignment and hands back the one it replaces, still running its
   * queued requests and not retired: the caller retires it or keeps it to swap back. `uri` is
   * what `name` is served from afterwards; an alias reference is kept (the release moves the alias).
   */
  swapServed(name: string, next: LoadedModel, uri: string | undefined): LoadedModel {
    const s = this.#models.get(name);
    const cur = s && !s.removed ? s.current : undefined;
    if (!s || !cur) throw new SlipwayError('NOT_FOUND', `Model '${name}' is not served here.`, { model: name });
    s.current = next;
    s.state = 'READY';
    s.reason = '';
    s.errorCode = undefined;
    if (uri !== undefined && parseModelUri(s.uri)?.alias === undefined) s.uri = uri;
    s.staleVersion = cur.version;
    this.#init.onServing?.(name, next.version);
    this.#log.info({ model: name, version: next.version, previous: cur.version }, 'serving: served version swapped');
    return cur;
  }

  /** The version to run a request on; throws NOT_FOUND or MODEL_NOT_READY. */
  get(name: string, version?: string): LoadedModel {
    const s = this.#models.get(name);
    if (!s) throw new SlipwayError('NOT_FOUND', `Model '${name}' is not served here.`, { model: name });
    const current = s.current;
    if (!current) throw new SlipwayError('MODEL_NOT_READY', `Model '${name}' is not ready (${s.state.toLowerCase()}${s.reason ? `: ${s.reason}` : ''}).`, { model: name });
    if (version !== undefined && version !== current.version) {
      throw new SlipwayError('NOT_FOUND', `Model '${name}' has no version '${version}' loaded; it serves version '${current.version}'.`, { model: name, version });
    }
    return current;
  }

  /** Like `get`, but waits for a first load in progress instead of answering MODEL_NOT_READY. */
  async acquire(name: string, version?: string): Promise<LoadedModel> {
    const s = this.#models.get(name);
    if (s && !s.current && s.loading) await s.loading;
    return this.get(name, version);
  }

  /** True when `acquire` would have to wait for a first load (so `get` would answer MODEL_NOT_READY too early). */
  isFirstLoading(name: string): boolean {
    const s = this.#models.get(name);
    return s !== undefined && !s.current && s.loading !== undefined;
  }

  /** True when `name` is known (loaded, loading, failed or unloaded). */
  has(name: string): boolean {
    return this.#models.has(name);
  }

  /** Names of models with a version serving. */
  readyNames(): string[] {
    return [...this.#models.values()].filter((s) => s.current).map((s) => s.name);
  }

  /** True when every model the server was configured to serve (loaded with `required`) has a version serving. */
  requiredReady(): boolean {
    return [...this.#models.values()].every((s) => !s.required || s.current !== undefined);
  }

  /** The repository index. */
  index(): ModelStatus[] {
    return [...this.#models.values()].map((s) => this.#status(s));
  }

  /** Waits for any loads in progress (used by tests and startup). */
  async settled(): Promise<void> {
    for (const s of this.#models.values()) await s.loading;
  }

  /** Stops accepting new requests and waits for every queued and running one (up to the drain timeout). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#signalClosed();
    for (const s of this.#models.values()) clearTimeout(s.retry);
    this.#unsubscribe?.();
    this.#removeGauges?.();
    const drains: Array<Promise<unknown>> = [...this.#models.values()].map(async (s) => {
      await s.loading?.catch(() => undefined);
      await s.current?.retire();
    });
    drains.push(...this.#stopHooks.map((h) => h(undefined)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(drains).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.#init.options.drainTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) this.#log.warn({ timeoutMs: this.#init.options.drainTimeoutMs }, 'serving: drain timed out with requests still running');
  }

  #status(s: Served): ModelStatus {
    const version = s.current?.version ?? s.loadingVersion;
    return { name: s.name, ...(version !== undefined ? { version } : {}), state: s.state, reason: s.reason, uri: s.uri, ...(s.errorCode ? { errorCode: s.errorCode } : {}) };
  }

  async #defaultUri(name: string): Promise<string> {
    const refs = (await this.#init.source?.list?.()) ?? [];
    const ref = refs.find((r) => r.name === name);
    if (!ref) throw new SlipwayError('NOT_FOUND', `Model '${name}' is not registered with a servable version; give a uri (models:/NAME@ALIAS, models:/NAME/VERSION or an .onnx path).`, { model: name });
    return refToUri(ref);
  }

  #schedule(s: Served, force: boolean): Promise<void> {
    s.pending = { force: force || (s.pending?.force ?? false) };
    s.loading ??= (async () => {
      try {
        while (s.pending && !s.removed && !this.#closed) {
          const { force: f } = s.pending;
          s.pending = undefined;
          await this.#loadOnce(s, f);
        }
      } finally {
        s.loading = undefined;
      }
    })();
    return s.loading;
  }

  async #loadOnce(s: Served, force: boolean): Promise<void> {
    const started = performance.now();
    let version: string | undefined;
    // Failures before the gate are the ones other workers must hear of (they call the swap off).
    let gated = false;
    try {
      const target = await this.#resolveUri(s, s.uri);
      version = target.version;
      const cur = s.current;
      if (!force && s.staleVersion !== undefined) {
        // The alias still names the version swapped out: keep serving until it moves.
        if (target.version === s.staleVersion) return;
        s.staleVersion = undefined;
      }
      if (!force && cur && cur.version === target.version && cur.source === target.onnxPath) return;
      if (force) s.staleVersion = undefined;
      s.loadingVersion = target.version;
      if (!cur) s.state = 'LOADING';
      // The real path is loaded, so a link swapped after the check cannot redirect the read.
      const file = await this.#init.modelFiles.check(target.onnxPath);
      const runtime = await loadRuntime(file, this.#init.options);
      // A release swapped versions (promote, revert) while this one loaded: that choice stands, this load is dropped
      // (unless forced), and whatever serves at the assignment is what gets retired, never a version a swap still keeps.
      let replaced = s.current;
      if (!force && cur && replaced === cur && this.#init.swapGate) {
        gated = true;
        const go = await Promise.race([this.#init.swapGate(s.name, target.version), this.#closedSignal]);
        if (!go) {
          s.loadingVersion = undefined;
          await runtime.release();
          if (this.#closed) return;
          // Looked at again after a growing pause (2 s to 1 min): another worker's trouble may pass, the alias may move on.
          s.refusals = (s.refusals ?? 0) + 1;
          const pauseMs = Math.min(60_000, 1000 * 2 ** s.refusals);
          s.reason = `version ${target.version} was not swapped in: not every worker could load it; still serving version ${cur.version}, trying again in ${Math.round(pauseMs / 1000)} s`;
          this.#log.warn({ model: s.name, version: target.version, serving: cur.version, retryInMs: pauseMs }, 'serving: a new version was not swapped in, because not every worker could load it; the current version keeps serving');
          clearTimeout(s.retry);
          s.retry = setTimeout(() => void this.#schedule(s, false), pauseMs);
          s.retry.unref();
          return;
        }
      }
      s.refusals = 0;
      replaced = s.current;
      if (s.removed || this.#closed || (!force && replaced !== cur)) {
        s.loadingVersion = undefined;
        await runtime.release();
        return;
      }
      const next = this.#newLoaded(s, target, runtime);
      // The swap is one assignment: every request after it sees the new version.
      s.current = next;
      s.state = 'READY';
      s.reason = '';
      s.errorCode = undefined;
      s.loadingVersion = undefined;
      this.#init.onServing?.(s.name, target.version);
      this.#init.metrics?.loadTime.observe({ model: s.name }, (performance.now() - started) / 1000);
      this.#log.info({ model: s.name, version: target.version, previous: replaced?.version }, 'serving: model version loaded');
      if (replaced) void replaced.retire().catch((err: unknown) => this.#log.error({ err, model: s.name }, 'serving: releasing the old version failed'));
    } catch (err) {
      const why = isSlipwayError(err) ? err.message : `unexpected error: ${(err as Error).message}`;
      this.#init.metrics?.loadFailures.inc({ model: s.name });
      s.loadingVersion = undefined;
      s.errorCode = isSlipwayError(err) ? err.code : 'INTERNAL';
      if (s.current) {
        if (version !== undefined && !force && !gated) this.#init.onSwapLoadFailed?.(s.name, version, why);
        s.state = 'READY';
        s.reason = `loading ${version !== undefined ? `version ${version}` : s.uri} failed, still serving version ${s.current.version}: ${why}`;
      } else {
        s.state = 'UNAVAILABLE';
        s.reason = `load failed: ${why}`;
      }
      this.#log.warn({ model: s.name, version, reason: why }, 'serving: model load failed');
    }
  }

  #newLoaded(s: Served, target: { version: string; onnxPath: string; columns?: string[] }, runtime: Runtime): LoadedModel {
    return new LoadedModel({
      name: s.name,
      version: target.version,
      source: target.onnxPath,
      runtime,
      options: this.#init.options,
      ...(this.#init.queuedElsewhere ? { queuedElsewhere: () => (this.#init.queuedElsewhere as (name: string) => number)(s.name) } : {}),
      ...(target.columns ? { columns: target.columns } : {}),
      ...(this.#init.metrics ? { metrics: this.#init.metrics } : {}),
    });
  }

  async #resolveUri(s: Served, uri: string): Promise<{ version: string; onnxPath: string; columns?: string[] }> {
    const ref = parseModelUri(uri);
    if (ref) {
      if (!this.#init.source) throw new SlipwayError('INVALID_ARGUMENT', `Cannot resolve ${uri}: no model registry is available here; serve an .onnx file instead.`);
      const r = await this.#init.source.resolve(ref);
      const columns = r.columns ?? s.columns;
      return { version: r.version, onnxPath: r.onnxPath, ...(columns ? { columns } : {}) };
    }
    if (uri.startsWith('models:')) throw new SlipwayError('INVALID_ARGUMENT', `Model URI '${uri}' is malformed: use models:/NAME@ALIAS or models:/NAME/VERSION.`);
    s.fileLoads++;
    return { version: String(s.fileLoads), onnxPath: resolvePath(uri), ...(s.columns ? { columns: s.columns } : {}) };
  }
}

/** `models:/NAME@ALIAS` or `models:/NAME/VERSION` for a reference. */
export function refToUri(ref: ModelRef): string {
  const name = encodeURIComponent(ref.name);
  return ref.alias !== undefined ? `models:/${name}@${encodeURIComponent(ref.alias)}` : `models:/${name}/${encodeURIComponent(ref.version ?? '')}`;
}
