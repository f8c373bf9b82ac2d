/**
 * Live traffic splits of served models (canary, sticky canary, shadow, blue-green bake), the
 * serving side of the release domain's `TrafficController`. The champion is always the version
 * the ModelManager serves; the challenger is a second LoadedModel with its own runtime and
 * batcher. Every switch (start, promote, rollback, revert) is one assignment made in the same
 * tick as the routing decision and the batcher submit that follow it, so a request is never
 * routed to a version that was retired under it.
 */
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { ShadowStats, SideStats, SplitStats, TrafficController, TrafficRole, TrafficSplitSpec } from '../core/traffic-split.js';
import type { LoadedModel } from './loaded-model.js';
import type { ModelManager } from './model-manager.js';
import type { RoleMetrics, ServingMetrics } from './serving-metrics.js';
import type { TensorData } from './tensor-types.js';

/** Figures kept per side and window: bounded, so a busy window costs the same memory as a quiet one. */
export const STATS_SAMPLE_LIMIT = 10_000;

/** One side's figures over the current window. Latencies keep the last STATS_SAMPLE_LIMIT; scores and ids a uniform sample. */
class SideWindow {
  requests = 0;
  errors = 0;
  readonly #latency = new Float64Array(STATS_SAMPLE_LIMIT);
  #latencyCount = 0;
  readonly #scores = new Float64Array(STATS_SAMPLE_LIMIT);
  #scoresSeen = 0;
  #ids: string[] = [];
  #idsSeen = 0;

  ok(latencyMs: number, requestId: string, output: TensorData | undefined, rows: number): void {
    this.requests++;
    this.#latency[this.#latencyCount++ % STATS_SAMPLE_LIMIT] = latencyMs;
    // Reservoir sampling: every row and request of the window has the same chance to be kept.
    const n = ++this.#idsSeen;
    if (n <= STATS_SAMPLE_LIMIT) this.#ids.push(requestId);
    else {
      const j = Math.floor(Math.random() * n);
      if (j < STATS_SAMPLE_LIMIT) this.#ids[j] = requestId;
    }
    if (!output || rows <= 0) return;
    const data = output.data;
    const width = data.length / rows;
    if (!(width >= 1)) return;
    for (let r = 0; r < rows; r++) {
      const score = Number(data[r * width]);
      if (!Number.isFinite(score)) continue;
      const k = ++this.#scoresSeen;
      if (k <= STATS_SAMPLE_LIMIT) this.#scores[k - 1] = score;
      else {
        const j = Math.floor(Math.random() * k);
        if (j < STATS_SAMPLE_LIMIT) this.#scores[j] = score;
      }
    }
  }

  /** The window's figures; starts a new window. */
  take(version: string): SideStats {
    const n = Math.min(this.#latencyCount, STATS_SAMPLE_LIMIT);
    const sorted = this.#latency.slice(0, n).sort();
    const q = (p: number) => (n === 0 ? null : (sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] as number));
    const stats: SideStats = {
      version,
      requests: this.requests,
      errors: this.errors,
      latencyP50Ms: q(0.5),
      latencyP99Ms: q(0.99),
      scores: Array.from(this.#scores.subarray(0, Math.min(this.#scoresSeen, STATS_SAMPLE_LIMIT))),
      requestIds: this.#ids,
    };
    this.requests = 0;
    this.errors = 0;
    this.#latencyCount = 0;
    this.#scoresSeen = 0;
    this.#ids = [];
    this.#idsSeen = 0;
    return stats;
  }
}

/** What the shadow comparison saw over the current window. */
export class ShadowWindow {
  compared = 0;
  rows = 0;
  agreeing = 0;
  values = 0;
  sumAbsDiff = 0;
  maxAbsDiff = 0;
  dropped = 0;

  take(): ShadowStats {
    const stats: ShadowStats = {
      compared: this.compared,
      agreement: this.rows > 0 ? this.agreeing / this.rows : null,
      meanAbsDiff: this.values > 0 ? this.sumAbsDiff / this.values : null,
      maxAbsDiff: this.values > 0 ? this.maxAbsDiff : null,
      dropped: this.dropped,
    };
    this.compared = this.rows = this.agreeing = this.values = this.sumAbsDiff = this.maxAbsDiff = this.dropped = 0;
    return stats;
  }

  /**
   * Compares the first output of the two sides row by row. A row agrees when: for outputs of
   * several columns (class probabilities or scores), the largest column is the same; for one
   * column of integers (labels), the values are equal; for one float column with both values in
   * [0, 1] (a probability), both are on the same side of 0.5; otherwise (regression-like), when
   * |a - b| <= 1e-6 * max(1, |a|). The differences are over every value of the first output.
   */
  compare(primary: TensorData, mirror: TensorData, rows: number): void {
    const a = primary.data;
    const b = mirror.data;
    if (a.length !== b.length || rows <= 0 || a.length % rows !== 0) {
      // Different output shapes cannot agree on anything: every row counts as a disagreement.
      this.compared++;
      this.rows += rows;
      return;
    }
    const width = a.length / rows;
    const integral = !primary.datatype.startsWith('FP') && !primary.datatype.startsWith('BF');
    let agreeing = 0;
    for (let r = 0; r < rows; r++) {
      const base = r * width;
      let bestA = 0;
      let bestB = 0;
      for (let c = 0; c < width; c++) {
        const x = Number(a[base + c]);
        const y = Number(b[base + c]);
        const d = Math.abs(x - y);
        if (Number.isFinite(d)) {
          this.sumAbsDiff += d;
          this.values++;
          if (d > this.maxAbsDiff) this.maxAbsDiff = d;
        }
        if (x > Number(a[base + bestA])) bestA = c;
        if (y > Number(b[base + bestB])) bestB = c;
      }
      if (width > 1) {
        if (bestA === bestB) agreeing++;
        continue;
      }
      const x = Number(a[base]);
      const y = Number(b[base]);
      if (integral) {
        if (x === y) agreeing++;
      } else if (x >= 0 && x <= 1 && y >= 0 && y <= 1) {
        if (x >= 0.5 === y >= 0.5) agreeing++;
      } else if (Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(x))) agreeing++;
    }
    this.compared++;
    this.rows += rows;
    this.agreeing += agreeing;
  }
}

const TWO_32 = 4294967296;

/**
 * A sticky routing key's place in [0, 2^32): FNV-1a over its UTF-16 code units, then murmur3's
 * finaliser. Allocation-free; the same key always lands on the same place.
 */
export function routingHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  // FNV-1a alone leaves the high bits of keys that differ only at the end close together
  // ("caller-1", "caller-2"); the finaliser spreads them over the whole range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** An active split of one model: the routing thresholds, the challenger and the window's figures. */
export class ActiveSplit {
  readonly model: string;
  readonly challenger: LoadedModel;
  readonly challengerUri: string;
  readonly stickyHeader: string | undefined;
  weight: number;
  shadowShare: number;
  /** `weight` scaled to the 32-bit hash range, so a sticky decision is one comparison. */
  #stickyThreshold: number;
  /** False when the challenger's inputs differ from the champion's, so a request decoded for one cannot be mirrored to the other. */
  readonly mirrorable: boolean;
  readonly champion = new SideWindow();
  readonly challengerSide = new SideWindow();
  readonly shadow = new ShadowWindow();
  #windowStart = performance.now();
  #championVersion = '';
  /** Mirrors submitted and not yet answered, bounded so mirrors never crowd out the challenger's own requests. */
  mirrorsOutstanding = 0;
  /** Mirrors waiting for the next event-loop turn. */
  pendingMirrors: Array<{ requestId: string; inputs: TensorData[]; rows: number; primary: TensorData[] }> = [];
  readonly #metrics: ServingMetrics | undefined;
  #championMetrics: RoleMetrics | undefined;
  readonly challengerMetrics: RoleMetrics | undefined;
  readonly shadowMetrics: RoleMetrics | undefined;

  constructor(model: string, challenger: LoadedModel, spec: TrafficSplitSpec, champion: LoadedModel, metrics: ServingMetrics | undefined) {
    this.model = model;
    this.challenger = challenger;
    this.challengerUri = spec.challengerUri;
    this.stickyHeader = spec.stickyHeader?.toLowerCase();
    this.weight = spec.weight ?? 0;
    this.shadowShare = spec.shadowShare ?? 0;
    this.#stickyThreshold = this.weight * TWO_32;
    this.#championVersion = champion.version;
    const ci = champion.signature.inputs;
    const hi = challenger.signature.inputs;
    this.mirrorable = ci.length === hi.length && ci.every((s, i) => s.name === hi[i]?.name && s.datatype === hi[i]?.datatype);
    this.#metrics = metrics;
    this.challengerMetrics = metrics?.forRole(model, challenger.version, 'challenger');
    this.shadowMetrics = metrics?.forRole(model, challenger.version, 'shadow');
  }

  /** Changes the shares; the next decision uses them. */
  setShares(weight: number, shadowShare: number): void {
    this.weight = weight;
    this.shadowShare = shadowShare;
    this.#stickyThreshold = weight * TWO_32;
  }

  /**
   * True when the challenger answers this request. With a routing key (the sticky header's
   * value) the choice is a 32-bit hash of the key (FNV-1a, then murmur3's finaliser) under the weight's threshold, so a key
   * keeps its side while the weight holds and only moves champion → challenger as it grows.
   */
  toChallenger(routingKey: string | undefined): boolean {
    if (routingKey === undefined) return Math.random() < this.weight;
    return routingHash(routingKey) < this.#stickyThreshold;
  }

  /** True when this champion-answered request should also be mirrored to the challenger. */
  mirrorThis(): boolean {
    return this.shadowShare > 0 && Math.random() < this.shadowShare;
  }

  /** The role metrics of the champion serving now (cached while its version holds). */
  championMetrics(version: string): RoleMetrics | undefined {
    if (!this.#metrics) return undefined;
    if (this.#championMetrics === undefined || this.#championVersion !== version) {
      this.#championVersion = version;
      this.#championMetrics = this.#metrics.forRole(this.model, version, 'champion');
    }
    return this.#championMetrics;
  }

  /** The window's figures; starts a new window. */
  take(championVersion: string): SplitStats {
    const now = performance.now();
    const stats: SplitStats = {
      champion: this.champion.take(championVersion),
      challenger: this.challengerSide.take(this.challenger.version),
      windowMs: now - this.#windowStart,
    };
    if (this.shadowShare > 0 || this.shadow.compared > 0 || this.shadow.dropped > 0) stats.shadow = this.shadow.take();
    else this.shadow.take();
    this.#windowStart = now;
    return stats;
  }
}

/** A version swapped out by a promotion, kept loaded so `revert` can serve it again at once. */
interface Kept {
  model: LoadedModel;
  uri: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** The result of routing one request. */
export interface Routed {
  model: LoadedModel;
  /** Undefined when no split is active on the model. */
  role: TrafficRole | undefined;
  split: ActiveSplit | undefined;
}

/** Failures that are the server's or the model's fault, not the client's: 5xx (deadline and overload included) and unexpected errors. */
export function isServerFault(err: unknown): boolean {
  return !isSlipwayError(err) || err.status >= 500;
}

/** The serving domain's TrafficController over one ModelManager. */
export class TrafficSplitter implements TrafficController {
  readonly #manager: ModelManager;
  readonly #metrics: ServingMetrics | undefined;
  readonly #log: Logger;
  readonly #splits = new Map<string, ActiveSplit>();
  readonly #starting = new Set<string>();
  readonly #kept = new Map<string, Kept>();
  readonly #loadOnDemand: ((model: string) => Promise<void>) | undefined;

  /** `loadOnDemand` loads a registered model the way its first request would (the main server's). */
  constructor(init: { manager: ModelManager; metrics?: ServingMetrics; logger?: Logger; loadOnDemand?: (model: string) => Promise<void> }) {
    this.#manager = init.manager;
    this.#loadOnDemand = init.loadOnDemand;
    this.#metrics = init.metrics;
    this.#log = init.logger ?? silentLogger;
    init.manager.onStop((name) => this.#stop(name));
  }

  /** The active split of `model`, if any: one map lookup, for the request path. */
  splitOf(model: string): ActiveSplit | undefined {
    return this.#splits.size === 0 ? undefined : this.#splits.get(model);
  }

  /** The header whose value pins callers of `model` to a side, when its active split has one. */
  stickyHeader(model: string): string | undefined {
    return this.splitOf(model)?.stickyHeader;
  }

  async startSplit(model: string, spec: TrafficSplitSpec): Promise<void> {
    const weight = share(spec.weight, 'weight');
    const shadowShare = share(spec.shadowShare, 'shadowShare');
    if (typeof spec.challengerUri !== 'string' || !(spec.challengerUri.startsWith('models:/') || (/\.onnx$/i.test(spec.challengerUri) && !spec.challengerUri.includes('://')))) {
      throw new SlipwayError('INVALID_ARGUMENT', `challengerUri must be models:/NAME/VERSION, models:/NAME@ALIAS or the path of an .onnx file, got '${String(spec.challengerUri)}'.`);
    }
    if (spec.stickyHeader !== undefined && (typeof spec.stickyHeader !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$/.test(spec.stickyHeader))) {
      throw new SlipwayError('INVALID_ARGUMENT', `stickyHeader must be an HTTP header name, got '${String(spec.stickyHeader)}'.`);
    }
    if (!this.#manager.current(model)) throw new SlipwayError('NOT_FOUND', `Model '${model}' is not served here, so its traffic cannot be split.`, { model });
    if (this.#splits.has(model) || this.#starting.has(model)) {
      throw new SlipwayError('CONFLICT', `Model '${model}' already has an active traffic split; end it before starting another.`, { model });
    }
    this.#starting.add(model);
    try {
      const challenger = await this.#manager.loadDetached(model, spec.challengerUri);
      const champion = this.#manager.current(model);
      if (!champion) {
        await challenger.retire();
        throw new SlipwayError('NOT_FOUND', `Model '${model}' stopped being served while its challenger loaded.`, { model });
      }
      const split = new ActiveSplit(model, challenger, { ...spec, weight, shadowShare }, champion, this.#metrics);
      this.#splits.set(model, split);
      this.#log.info({ model, champion: champion.version, challenger: challenger.version, weight, shadowShare }, 'serving: traffic split started');
    } finally {
      this.#starting.delete(model);
    }
  }

  updateSplit(model: string, change: { weight?: number; shadowShare?: number }): void {
    const split = this.#active(model);
    split.setShares(change.weight !== undefined ? share(change.weight, 'weight') : split.weight, change.shadowShare !== undefined ? share(change.shadowShare, 'shadowShare') : split.shadowShare);
  }

  async endSplit(model: string, outcome: 'promote' | 'rollback', opts: { bakeMs?: number } = {}): Promise<void> {
    const split = this.#active(model);
    const bakeMs = opts.bakeMs ?? 0;
    if (outcome !== 'promote' && outcome !== 'rollback') throw new SlipwayError('INVALID_ARGUMENT', `outcome must be 'promote' or 'rollback', got '${String(outcome)}'.`);
    if (!(Number.isFinite(bakeMs) && bakeMs >= 0)) throw new SlipwayError('INVALID_ARGUMENT', `bakeMs must be a number of milliseconds >= 0, got ${String(opts.bakeMs)}.`);
    if (outcome === 'rollback') {
      this.#splits.delete(model);
      this.#log.info({ model, challenger: split.challenger.version }, 'serving: traffic split rolled back');
      await split.challenger.retire();
      return;
    }
    const previousUri = this.#manager.uriOf(model);
    // Promotion: the split ends and the challenger serves in the same tick.
    this.#splits.delete(model);
    const old = this.#manager.swapServed(model, split.challenger, split.challengerUri);
    this.#log.info({ model, version: split.challenger.version, previous: old.version, bakeMs }, 'serving: challenger promoted');
    const earlier = this.#kept.get(model);
    this.#kept.delete(model);
    const retiring: Array<Promise<void>> = [];
    if (earlier) retiring.push(this.#release(earlier));
    if (bakeMs > 0) {
      const kept: Kept = { model: old, uri: previousUri, timer: undefined };
      kept.timer = setTimeout(() => {
        if (this.#kept.get(model) !== kept) return;
        this.#kept.delete(model);
        void this.#release(kept);
      }, bakeMs);
      kept.timer.unref();
      this.#kept.set(model, kept);
    } else retiring.push(old.retire());
    await Promise.all(retiring);
  }

  takeStats(model: string): SplitStats | undefined {
    const split = this.splitOf(model);
    if (!split) return undefined;
    return split.take(this.#manager.current(model)?.version ?? '');
  }

  activeSplit(model: string): (TrafficSplitSpec & { championVersion: string; challengerVersion: string }) | undefined {
    const split = this.splitOf(model);
    if (!split) return undefined;
    return {
      challengerUri: split.challengerUri,
      weight: split.weight,
      shadowShare: split.shadowShare,
      ...(split.stickyHeader !== undefined ? { stickyHeader: split.stickyHeader } : {}),
      championVersion: this.#manager.current(model)?.version ?? '',
      challengerVersion: split.challenger.version,
    };
  }

  async revert(model: string, version?: string): Promise<string | undefined> {
    const kept = this.#kept.get(model);
    // A rollback to another version than the one kept must not serve the kept one, even for a moment.
    if (!kept || (version !== undefined && kept.model.version !== version)) return undefined;
    if (this.#splits.has(model)) throw new SlipwayError('CONFLICT', `Model '${model}' has an active traffic split; end it before reverting the last promotion.`, { model });
    if (!this.#manager.current(model)) return undefined;
    this.#kept.delete(model);
    clearTimeout(kept.timer);
    const promoted = this.#manager.swapServed(model, kept.model, kept.uri);
    this.#log.info({ model, version: kept.model.version, previous: promoted.version }, 'serving: promotion reverted');
    await promoted.retire();
    return kept.model.version;
  }

  servedUri(model: string): string | undefined {
    return this.#manager.current(model) ? this.#manager.uriOf(model) : undefined;
  }

  servedVersion(model: string): string | undefined {
    return this.#manager.current(model)?.version;
  }

  async prepare(model: string): Promise<void> {
    if (this.#manager.has(model) || !this.#loadOnDemand) return;
    // A model that cannot be served leaves servedUri undefined; the caller names the problem.
    await this.#loadOnDemand(model).catch((err: unknown) => this.#log.warn({ err, model }, 'serving: loading a model for a release failed'));
  }

  /** The version kept after the last promotion of `model` (blue-green bake), if still loaded. */
  keptVersion(model: string): string | undefined {
    return this.#kept.get(model)?.model.version;
  }

  /**
   * Picks the version for one request. An explicit `version` goes to whichever side has it;
   * otherwise, under a split, the weight (or the routing key's hash) chooses. Throws what
   * `ModelManager.get` throws.
   */
  route(model: string, version: string | undefined, routingKey: string | undefined): Routed {
    const split = this.splitOf(model);
    if (!split) return { model: this.#manager.get(model, version), role: undefined, split: undefined };
    if (version !== undefined) {
      if (version === split.challenger.version) return { model: split.challenger, role: 'challenger', split };
      return { model: this.#manager.get(model, version), role: 'champion', split };
    }
    if (split.toChallenger(routingKey)) return { model: split.challenger, role: 'challenger', split };
    return { model: this.#manager.get(model), role: 'champion', split };
  }

  /**
   * Runs a champion-answered request's decoded inputs on the challenger, off the response path
   * (on a later turn of the event loop), and compares the first outputs. Never throws; a full
   * challenger queue drops the mirror and counts it.
   */
  mirror(split: ActiveSplit, requestId: string, inputs: TensorData[], rows: number, primary: TensorData[]): void {
    const challenger = split.challenger;
    const limit = Math.max(1, Math.floor(this.#manager.options.maxQueueSize / 2));
    if (!split.mirrorable || split.mirrorsOutstanding >= limit || challenger.refusalNow() !== undefined) {
      split.shadow.dropped++;
      return;
    }
    split.mirrorsOutstanding++;
    // One event-loop turn runs every mirror queued since the last: one setImmediate, not one per request.
    if (split.pendingMirrors.push({ requestId, inputs, rows, primary }) === 1) setImmediate(() => this.#runMirrors(split));
  }

  #runMirrors(split: ActiveSplit): void {
    const batch = split.pendingMirrors;
    split.pendingMirrors = [];
    const challenger = split.challenger;
    // The split may have ended in between; its challenger then refuses and the mirrors are dropped.
    if (this.#splits.get(split.model) !== split || challenger.refusalNow() !== undefined) {
      split.mirrorsOutstanding -= batch.length;
      split.shadow.dropped += batch.length;
      return;
    }
    const deadlineMs = this.#manager.options.deadlineMs;
    for (const m of batch) {
      const started = performance.now();
      challenger.infer(m.inputs, m.rows, deadlineMs).then(
        (result) => {
          split.mirrorsOutstanding--;
          const ms = performance.now() - started;
          split.challengerSide.ok(ms, m.requestId, result.outputs[0], m.rows);
          split.shadowMetrics?.ok(ms / 1000);
          const a = m.primary[0];
          const b = result.outputs[0];
          if (a && b) split.shadow.compare(a, b, m.rows);
        },
        (err: unknown) => {
          split.mirrorsOutstanding--;
          if (isSlipwayError(err) && err.code === 'OVERLOADED') {
            split.shadow.dropped++;
            return;
          }
          split.challengerSide.requests++;
          split.challengerSide.errors++;
          split.shadowMetrics?.failed();
          this.#log.debug({ model: split.model, err: isSlipwayError(err) ? err.message : err }, 'serving: a shadow request failed');
        },
      );
    }
  }

  #active(model: string): ActiveSplit {
    const split = this.splitOf(model);
    if (!split) throw new SlipwayError('INVALID_STATE', `Model '${model}' has no active traffic split.`, { model });
    return split;
  }

  async #release(kept: Kept): Promise<void> {
    clearTimeout(kept.timer);
    await kept.model.retire().catch((err: unknown) => this.#log.error({ err }, 'serving: releasing a kept version failed'));
  }

  /** The model stopped being served (or the manager closes): release the challenger and any kept version. */
  async #stop(name: string | undefined): Promise<void> {
    const names = name === undefined ? [...new Set([...this.#splits.keys(), ...this.#kept.keys()])] : [name];
    const releases: Array<Promise<void>> = [];
    for (const n of names) {
      const split = this.#splits.get(n);
      this.#splits.delete(n);
      if (split) releases.push(split.challenger.retire().catch((err: unknown) => this.#log.error({ err }, 'serving: releasing a challenger failed')));
      const kept = this.#kept.get(n);
      this.#kept.delete(n);
      if (kept) releases.push(this.#release(kept));
    }
    await Promise.all(releases);
  }
}

/** A share between 0 and 1 (absent = 0). */
function share(v: number | undefined, field: string): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new SlipwayError('INVALID_ARGUMENT', `${field} must be a number from 0 to 1, got ${String(v)}.`);
  return v;
}
