/**
 * Releases over more than one serving process: the hub is the TrafficController the release
 * runner drives on `slipway server`. It steers the server's own serving (when the server serves
 * the model) and publishes the wanted split of each model for the `slipway serve models:/…
 * --server URL` processes that follow this server ("traffic agents"): they poll the published
 * state, apply it to their own serving, report that they did (heartbeats) and post their
 * figures every second, which `takeStats` merges with the server's own window.
 *
 * With a TrafficBoard (replicas on one PostgreSQL database) the hub keeps nothing a serving
 * process can observe in memory: it publishes the split to the store, every replica answers
 * agents from the store, and each replica's own serving follows the board like any other agent
 * (see `followLocalServing`), so a split runs in every replica whichever of them drives it.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { parseModelUri } from '../core/model-source.js';
import type { ShadowStats, SideStats, SplitStats, TrafficController, TrafficSplitSpec } from '../core/traffic-split.js';
import { notRunning, type BoardEntry, type BoardState, type TrafficBoard } from './traffic-board.js';
import type { TrafficLink } from './traffic-agent.js';

/** An agent not heard from for this long no longer counts as serving its model. */
export const AGENT_TTL_MS = 10_000;

/** The most request ids and scores a merged window keeps per side (the bound a serving window has). */
export const MERGED_SAMPLE_LIMIT = 10_000;

/** Agent windows kept per model between two `takeStats` calls; older ones are dropped (an analysis that stalls must not grow memory). */
const PENDING_WINDOW_LIMIT = 1_000;

/** How long `startSplit`, `endSplit` and `revert` wait for the live agents to apply a change before going on without them. */
export const AGENT_APPLY_TIMEOUT_MS = 10_000;

/** How often a driving hub drains its agents' figures and reads their heartbeats from the board. */
export const BOARD_SYNC_MS = 250;

/**
 * A split on the board whose driver has not said it still drives it for this long is taken as
 * gone: agents roll it back, as they do when the server they follow is out of reach.
 */
export const BOARD_DRIVER_STALE_MS = 5000;

/** How often a driving hub says on the board that it still drives its splits. */
const BOARD_TOUCH_MS = 1000;

/** The split published for agents. */
export interface PublishedSplit {
  /** Changes with every new split, so an agent can tell a new split from a changed one. */
  id: string;
  /** The processes that serve the model by this reference run the split (a release moves one alias); others leave their traffic alone. */
  uri: string;
  challengerUri: string;
  weight: number;
  shadowShare: number;
  stickyHeader?: string;
  /** The challenger's version, from its uri ('' for a file or an alias). */
  challengerVersion: string;
}

/** How the last split of a model ended, for agents that still run it. */
export interface EndedSplit {
  splitId: string;
  outcome: 'promote' | 'rollback';
  /** How long the swapped-out version stays loaded after a promotion, so a revert is instant. */
  bakeMs: number;
}

/** A traffic agent as the hub last heard from it. */
export interface TrafficAgentInfo {
  agentId: string;
  /** What it serves the model by: `models:/NAME@ALIAS` or `models:/NAME/VERSION`. */
  uri: string;
  /** The version it serves now. */
  version: string;
  /** The last state epoch it applied. */
  epoch: number;
  /** The split it runs, if any. */
  splitId: string | null;
  /** Why it could not start the published split, if it could not. */
  splitError: string | null;
  /** When the hub last heard from it, ms since the epoch. */
  lastSeen: number;
}

/** What agents poll: the wanted split of one model. */
export interface TrafficState {
  model: string;
  /** Changes on every change of this state; agents report the one they applied. */
  epoch: number;
  /** The split agents should run, or null for none. */
  split: PublishedSplit | null;
  /** How the last split ended, or null when none has ended since the server started. */
  ended: EndedSplit | null;
  /** The last revert of a promotion, for the processes serving by `uri`; null when none was. An agent reverts when it sees a new id. */
  revert: { id: string; uri: string; version?: string } | null;
  /** Agents heard from within AGENT_TTL_MS. */
  agents: TrafficAgentInfo[];
}

/** An agent's heartbeat: who it is, what it serves, what it applied. */
export interface AgentHeartbeat {
  agentId: string;
  uri: string;
  version: string;
  epoch?: number;
  splitId?: string | null;
  splitError?: string | null;
}

/** One analysis window of an agent's split. */
export interface AgentStats {
  agentId: string;
  /** The split the window belongs to. */
  splitId: string;
  stats: SplitStats;
}

interface ModelTraffic {
  epoch: number;
  split: PublishedSplit | null;
  ended: EndedSplit | null;
  revert: { id: string; uri: string; version?: string } | null;
  /** The reference the last split was published for (a later revert addresses the same processes). */
  target: string | undefined;
  /** True when the server's own serving runs the split too. */
  local: boolean;
  /** The champion's version when the split started (for figures when no process served a request). */
  championVersion: string;
  agents: Map<string, TrafficAgentInfo>;
  pending: SplitStats[];
  windowStart: number;
  waiters: Set<() => void>;
  /** Board mode: publications of this model, one after the other. */
  publishing: Promise<void>;
  /** Board mode: the split id stored when this process last read or wrote the board (a publication expects it unchanged). */
  boardSplitId: string | null;
}

/** What the hub needs. */
export interface TrafficHubInit {
  /** The server's own traffic controller, when it serves models. */
  local: () => TrafficController | undefined;
  clock?: Clock;
  logger?: Logger;
  /** @default AGENT_APPLY_TIMEOUT_MS */
  applyTimeoutMs?: number;
  /** The store's traffic tables, where replicas share the traffic of releases; absent: it lives in this process. */
  board?: TrafficBoard;
}

/**
 * A TrafficController over the server's own serving and the serving processes that follow it.
 * Figures of one window are merged conservatively: requests and errors are summed, p50 is the
 * request-weighted mean of the parts' p50s and p99 the largest of their p99s, scores and request
 * ids are concatenated up to MERGED_SAMPLE_LIMIT, shadow agreement and mean difference are
 * weighted by compared requests.
 */
export class TrafficHub implements TrafficController {
  readonly #init: TrafficHubInit;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #models = new Map<string, ModelTraffic>();
  readonly #board: TrafficBoard | undefined;
  // Epochs start at the wall clock so a restarted server never repeats one an agent applied.
  #epoch: number;
  #syncTimer: NodeJS.Timeout | undefined;
  #syncing = false;
  #syncFailing = false;
  /** Board mode: the models whose split this process started and still drives. */
  readonly #driving = new Set<string>();
  #lastTouch = 0;

  constructor(init: TrafficHubInit) {
    this.#init = init;
    this.#clock = init.clock ?? systemClock;
    this.#log = init.logger ?? silentLogger;
    this.#board = init.board;
    this.#epoch = this.#clock.now();
  }

  /** True when the traffic lives in the store (replicas), so this process's serving follows it as an agent. */
  get shared(): boolean {
    return this.#board !== undefined;
  }

  /** Stops the board synchronisation (the published state stays for the next driver). */
  close(): void {
    clearInterval(this.#syncTimer);
    this.#syncTimer = undefined;
  }

  // ---- what agents see and send ----

  /** The published state of `model` (no split when nothing was published). */
  async state(model: string): Promise<TrafficState> {
    if (this.#board) return this.#boardState(model);
    const m = this.#models.get(model);
    if (!m) return { model, epoch: 0, split: null, ended: null, revert: null, agents: [] };
    return { model, epoch: m.epoch, split: m.split, ended: m.ended, revert: m.revert, agents: this.#live(m) };
  }

  /** Records an agent's heartbeat and answers with the published state. */
  async heartbeat(model: string, beat: AgentHeartbeat): Promise<TrafficState> {
    if (this.#board) {
      await this.#boardHeartbeat(model, beat);
      return this.#boardState(model);
    }
    const m = this.#model(model);
    const known = m.agents.has(beat.agentId);
    m.agents.set(beat.agentId, {
      agentId: beat.agentId,
      uri: beat.uri,
      version: beat.version,
      epoch: beat.epoch ?? 0,
      splitId: beat.splitId ?? null,
      splitError: beat.splitError ?? null,
      lastSeen: this.#clock.now(),
    });
    if (!known) this.#log.info({ model, agent: beat.agentId, uri: beat.uri, version: beat.version }, 'release: a serving process joined the traffic of this model');
    this.#prune(m);
    for (const wake of m.waiters) wake();
    return this.state(model);
  }

  /**
   * Keeps an agent's window for the next `takeStats`. CONFLICT when the window belongs to a split
   * that is not the one running (it ended, or another started): its figures are of no analysis.
   */
  async postStats(model: string, report: AgentStats): Promise<void> {
    if (this.#board) {
      const running = (await this.#boardState(model)).split?.id;
      if (running !== report.splitId) throw notRunning(model, report.splitId, running);
      const now = this.#clock.now();
      await this.#board.seen(model, report.agentId, now);
      await this.#board.postStats(model, report.splitId, report.stats, now);
      return;
    }
    const m = this.#models.get(model);
    if (!m?.split || m.split.id !== report.splitId) throw notRunning(model, report.splitId, m?.split?.id);
    const seen = m.agents.get(report.agentId);
    if (seen) seen.lastSeen = this.#clock.now();
    m.pending.push(report.stats);
    if (m.pending.length > PENDING_WINDOW_LIMIT) m.pending.splice(0, m.pending.length - PENDING_WINDOW_LIMIT);
  }

  // ---- TrafficController ----

  async startSplit(model: string, spec: TrafficSplitSpec): Promise<void> {
    const weight = share(spec.weight, 'weight');
    const shadowShare = share(spec.shadowShare, 'shadowShare');
    const m = await this.#current(model);
    if (m.split && this.#board && !this.#driving.has(model)) {
      // On the board, only the holder of the releases lease starts splits: one another process published (it lost the
      // lease, or shut down moments ago) is superseded, and the serving processes move from it to this one.
      this.#log.info({ model, split: m.split.id }, 'release: taking over the traffic split another server process published');
      m.split = null;
    }
    if (m.split) throw new SlipwayError('CONFLICT', `Model '${model}' already has an active traffic split; end it before starting another.`, { model });
    const local = this.#localControl();
    const servesHere = local?.servedUri(model) !== undefined;
    // The split is for the processes serving the model by the reference the release was accepted for.
    const target = this.servedUri(model);
    // On the board, this process's own serving is an agent too: it may not have reported yet just after loading.
    if (this.#board && target !== undefined && this.#live(m, target).length === 0) await this.#untilAgent(m, model, target);
    const agents = this.#live(m, target);
    if (target === undefined || (!servesHere && agents.length === 0)) {
      throw new SlipwayError('NOT_FOUND', `Model '${model}' is served neither here nor by a serving process following this server, so its traffic cannot be split.`, { model });
    }
    if (servesHere) await (local as TrafficController).startSplit(model, spec);
    const ref = parseModelUri(spec.challengerUri);
    m.local = servesHere;
    m.target = target;
    m.championVersion = (servesHere ? local?.activeSplit(model)?.championVersion : undefined) ?? agents[0]?.version ?? '';
    m.split = {
      id: randomUUID(),
      uri: target,
      challengerUri: spec.challengerUri,
      weight,
      shadowShare,
      ...(spec.stickyHeader !== undefined ? { stickyHeader: spec.stickyHeader } : {}),
      challengerVersion: ref?.version ?? '',
    };
    m.pending = [];
    m.windowStart = this.#clock.now();
    await this.#board?.clearWindows(model);
    await this.#changed(model, m);
    if (this.#board) this.#driving.add(model);
    this.#startSync();
    const splitId = m.split.id;
    await this.#untilApplied(model, m, target, (a) => a.splitId === splitId || a.splitError !== null);
    if (servesHere) return;
    // Without the server's own serving, a split no agent could start would only ever see the champion.
    const live = this.#live(m, target);
    const failed = live.filter((a) => a.splitId !== splitId && a.splitError !== null);
    if (live.length > 0 && failed.length === live.length) {
      m.split = null;
      this.#driving.delete(model);
      await this.#changed(model, m);
      throw new SlipwayError('INVALID_STATE', `No serving process could load ${spec.challengerUri}: ${failed[0]?.splitError ?? 'no reason given'}`, { model, challengerUri: spec.challengerUri });
    }
  }

  updateSplit(model: string, change: { weight?: number; shadowShare?: number }): void {
    const m = this.#active(model);
    const split = m.split as PublishedSplit;
    const weight = change.weight !== undefined ? share(change.weight, 'weight') : split.weight;
    const shadowShare = change.shadowShare !== undefined ? share(change.shadowShare, 'shadowShare') : split.shadowShare;
    if (m.local) this.#localControl()?.updateSplit(model, { weight, shadowShare });
    m.split = { ...split, weight, shadowShare };
    // On the board the new weights reach the agents with the publication, a moment later.
    void this.#changed(model, m).catch((err: unknown) => this.#log.warn({ err, model }, 'release: publishing the new split weights failed'));
  }

  async endSplit(model: string, outcome: 'promote' | 'rollback', opts?: { bakeMs?: number }): Promise<void> {
    const m = this.#active(model);
    const split = m.split as PublishedSplit;
    if (outcome !== 'promote' && outcome !== 'rollback') throw new SlipwayError('INVALID_ARGUMENT', `outcome must be 'promote' or 'rollback', got '${String(outcome)}'.`);
    const bakeMs = opts?.bakeMs ?? 0;
    // Agents first hear the outcome, so the alias the release moves next finds them serving the new version already.
    // This process stops driving first: should the publication fail (the database away), the split lapses on its own.
    m.split = null;
    m.ended = { splitId: split.id, outcome, bakeMs };
    m.pending = [];
    this.#driving.delete(model);
    try {
      await this.#changed(model, m);
    } catch (err) {
      // Another process published since (this one lost its lease while it was stalled): its split stays.
      if (isSlipwayError(err) && err.code === 'CONFLICT') return;
      throw err;
    }
    await this.#board?.clearWindows(model);
    const local = m.local ? this.#localControl() : undefined;
    m.local = false;
    await Promise.all([local?.activeSplit(model) ? local.endSplit(model, outcome, opts) : undefined, this.#untilApplied(model, m, split.uri, (a) => a.splitId !== split.id)]);
  }

  takeStats(model: string): SplitStats | undefined {
    const m = this.#models.get(model);
    if (!m?.split) return undefined;
    const parts = [...m.pending];
    m.pending = [];
    if (m.local) {
      const own = this.#localControl()?.takeStats(model);
      if (own) parts.unshift(own);
      else {
        // The server's serving ended its split on its own (the model was unloaded).
        m.local = false;
        if (this.#live(m, m.target).length === 0) return undefined;
      }
    }
    const now = this.#clock.now();
    const windowMs = now - m.windowStart;
    m.windowStart = now;
    return mergeSplitStats(parts, { championVersion: m.championVersion, challengerVersion: m.split.challengerVersion, windowMs });
  }

  activeSplit(model: string): (TrafficSplitSpec & { championVersion: string; challengerVersion: string }) | undefined {
    const m = this.#models.get(model);
    if (!m?.split) return this.#localControl()?.activeSplit(model);
    const own = m.local ? this.#localControl()?.activeSplit(model) : undefined;
    if (own) return own;
    const { challengerUri, weight, shadowShare, stickyHeader, challengerVersion } = m.split;
    return { challengerUri, weight, shadowShare, ...(stickyHeader !== undefined ? { stickyHeader } : {}), championVersion: m.championVersion, challengerVersion };
  }

  async revert(model: string, version?: string): Promise<string | undefined> {
    const m = this.#board ? await this.#current(model) : this.#models.get(model);
    if (m?.split) throw new SlipwayError('CONFLICT', `Model '${model}' has an active traffic split; end it before reverting the last promotion.`, { model });
    const local = this.#localControl();
    const here = local?.servedUri(model) !== undefined ? await local?.revert(model, version) : undefined;
    const uri = m?.target ?? this.servedUri(model);
    if (!m || uri === undefined || this.#live(m, uri).length === 0) return here;
    const before = new Map(this.#live(m, uri).map((a) => [a.agentId, a.version]));
    m.revert = { id: randomUUID(), uri, ...(version !== undefined ? { version } : {}) };
    await this.#changed(model, m);
    await this.#untilApplied(model, m, uri, () => true);
    // An agent that still had the earlier version loaded serves it now: its version changed.
    const reverted = this.#live(m, uri).find((a) => before.has(a.agentId) && before.get(a.agentId) !== a.version);
    return here ?? reverted?.version;
  }

  async prepare(model: string): Promise<void> {
    await this.#init.local()?.prepare?.(model);
    // The agents of the board (for servedUri when this process does not serve the model).
    if (this.#board) await this.#loadAgents(model, this.#model(model));
  }

  servedUri(model: string): string | undefined {
    const here = this.#init.local()?.servedUri(model);
    if (here !== undefined) return here;
    const m = this.#models.get(model);
    if (!m) return undefined;
    // Like the server's own choice of reference: the champion alias, else production, else any alias, else a version.
    const uris = new Set(this.#live(m).map((a) => a.uri));
    const alias = (name: string) => `models:/${model}@${name}`;
    if (uris.has(alias('champion'))) return alias('champion');
    if (uris.has(alias('production'))) return alias('production');
    const sorted = [...uris].sort();
    return sorted.find((u) => parseModelUri(u)?.alias !== undefined) ?? sorted[0];
  }

  // ---- the board ----

  /** This process's serving as the hub steers it directly; on the board it follows as an agent instead. */
  #localControl(): TrafficController | undefined {
    return this.#board ? undefined : this.#init.local();
  }

  /** The model's state, read from the board first when there is one (another replica may have changed it). */
  async #current(model: string): Promise<ModelTraffic> {
    const m = this.#model(model);
    const board = this.#board;
    if (!board) return m;
    const [entry] = await Promise.all([board.read(model), this.#loadAgents(model, m)]);
    m.boardSplitId = entry?.state.split?.id ?? null;
    if (entry) {
      const s = entry.state;
      m.epoch = entry.epoch;
      m.split = liveSplit(entry);
      m.ended = s.ended;
      m.revert = s.revert;
      m.target = s.target ?? undefined;
      m.championVersion = s.championVersion;
    }
    return m;
  }

  /** Reads the serving processes of `model` heard from lately on the board into `m`. */
  async #loadAgents(model: string, m: ModelTraffic): Promise<void> {
    const agents = await (this.#board as TrafficBoard).agents(model, this.#clock.now() - AGENT_TTL_MS);
    m.agents = new Map(agents.map((a) => [a.agentId, a]));
  }

  /**
   * The link this process's own serving follows the board by (see LocalTrafficFollower): the
   * agent routes' work without the list of agents, which a serving process does not need.
   */
  boardLink(): TrafficLink {
    if (!this.#board) throw new Error('the traffic hub has no board');
    return {
      traffic: (model) => this.#boardState(model, false),
      trafficHeartbeat: (model, beat) => this.#boardHeartbeat(model, beat),
      postTrafficStats: (model, report) => this.postStats(model, report),
    };
  }

  async #boardHeartbeat(model: string, beat: AgentHeartbeat): Promise<void> {
    const now = this.#clock.now();
    const info = { agentId: beat.agentId, uri: beat.uri, version: beat.version, epoch: beat.epoch ?? 0, splitId: beat.splitId ?? null, splitError: beat.splitError ?? null, lastSeen: now };
    await (this.#board as TrafficBoard).heartbeat(model, info, now - 6 * AGENT_TTL_MS);
  }

  /** What agents see on the board: a split whose driver went quiet is no split. */
  async #boardState(model: string, withAgents = true): Promise<TrafficState> {
    const board = this.#board as TrafficBoard;
    const now = this.#clock.now();
    const [entry, agents] = await Promise.all([board.read(model), withAgents ? board.agents(model, now - AGENT_TTL_MS) : []]);
    if (!entry) return { model, epoch: 0, split: null, ended: null, revert: null, agents };
    return { model, epoch: entry.epoch, split: liveSplit(entry), ended: entry.state.ended, revert: entry.state.revert, agents };
  }

  /** Makes a change of `m` visible to agents: a new epoch in memory, or a publication on the board (in order). */
  async #changed(model: string, m: ModelTraffic): Promise<void> {
    const board = this.#board;
    if (!board) {
      this.#bump(m);
      return;
    }
    const state: BoardState = { split: m.split, ended: m.ended, revert: m.revert, target: m.target ?? null, championVersion: m.championVersion };
    const next = m.publishing.then(async () => {
      const epoch = await board.publish(model, state, this.#clock.now(), m.boardSplitId);
      if (epoch === undefined) {
        // Another process published since: it drives this model's traffic now, not this one.
        if (m.split && this.#driving.has(model)) this.#log.warn({ model, split: m.split.id }, 'release: another server process drives this traffic split now; this one lets go of it');
        m.split = null;
        this.#driving.delete(model);
        throw new SlipwayError('CONFLICT', `Another server process published the traffic of model '${model}' since this one last read it.`, { model });
      }
      m.epoch = epoch;
      m.boardSplitId = state.split?.id ?? null;
    });
    // A failed publication must not block the next one; the caller hears of it.
    m.publishing = next.catch(() => {});
    await next;
  }

  /** Waits (bounded) until an agent serving by `uri` has reported on the board. */
  async #untilAgent(m: ModelTraffic, model: string, uri: string): Promise<void> {
    const until = this.#clock.now() + 3 * BOARD_TOUCH_MS;
    while (this.#live(m, uri).length === 0 && this.#clock.now() < until) {
      await new Promise((r) => setTimeout(r, BOARD_SYNC_MS));
      await this.#current(model);
    }
  }

  /** Board mode: while this hub drives a split, it drains its agents' figures, reads their heartbeats and says it still drives. */
  #startSync(): void {
    if (!this.#board || this.#syncTimer) return;
    this.#syncTimer = setInterval(() => void this.#sync(), BOARD_SYNC_MS);
    this.#syncTimer.unref();
  }

  async #sync(): Promise<void> {
    const board = this.#board;
    if (!board || this.#syncing) return;
    const driving = [...this.#driving].flatMap((model) => {
      const m = this.#models.get(model);
      return m?.split ? [[model, m] as const] : [];
    });
    if (driving.length === 0) {
      this.close();
      return;
    }
    this.#syncing = true;
    try {
      const now = this.#clock.now();
      const touch = now - this.#lastTouch >= BOARD_TOUCH_MS;
      if (touch) this.#lastTouch = now;
      for (const [model, m] of driving) {
        const split = m.split as PublishedSplit;
        if (touch && !(await board.touch(model, split.id))) {
          // Another process published a split of this model since: it drives it now.
          this.#log.warn({ model, split: split.id }, 'release: another server process drives this traffic split now; this one lets go of it');
          if (m.split?.id === split.id) m.split = null;
          this.#driving.delete(model);
          continue;
        }
        const windows = await board.drain(model, split.id);
        // The split may have ended while the windows were read: they belong to no analysis then.
        if (m.split?.id === split.id) {
          m.pending.push(...windows);
          if (m.pending.length > PENDING_WINDOW_LIMIT) m.pending.splice(0, m.pending.length - PENDING_WINDOW_LIMIT);
        }
        await this.#loadAgents(model, m);
      }
      this.#syncFailing = false;
    } catch (err) {
      // Once per outage, not every 250 ms.
      if (!this.#syncFailing) this.#log.warn({ err }, 'release: reading the traffic board failed; trying again');
      this.#syncFailing = true;
    } finally {
      this.#syncing = false;
    }
  }

  // ---- internals ----

  #model(model: string): ModelTraffic {
    let m = this.#models.get(model);
    if (!m) {
      m = { epoch: 0, split: null, ended: null, revert: null, target: undefined, local: false, championVersion: '', agents: new Map(), pending: [], windowStart: this.#clock.now(), waiters: new Set(), publishing: Promise.resolve(), boardSplitId: null };
      this.#models.set(model, m);
      if (!this.#board) this.#bump(m);
    }
    return m;
  }

  #active(model: string): ModelTraffic {
    const m = this.#models.get(model);
    if (!m?.split) throw new SlipwayError('INVALID_STATE', `Model '${model}' has no active traffic split.`, { model });
    return m;
  }

  #bump(m: ModelTraffic): void {
    this.#epoch = Math.max(this.#epoch + 1, this.#clock.now());
    m.epoch = this.#epoch;
  }

  /** Agents heard from within AGENT_TTL_MS (serving by `uri`, when given). */
  #live(m: ModelTraffic, uri?: string): TrafficAgentInfo[] {
    const since = this.#clock.now() - AGENT_TTL_MS;
    return [...m.agents.values()].filter((a) => a.lastSeen >= since && (uri === undefined || a.uri === uri));
  }

  #prune(m: ModelTraffic): void {
    // Agents gone for much longer than the TTL are forgotten, so restarts do not accumulate entries.
    const since = this.#clock.now() - 6 * AGENT_TTL_MS;
    for (const [id, a] of m.agents) if (a.lastSeen < since) m.agents.delete(id);
  }

  /**
   * Waits until every live agent serving by `uri` has applied the current epoch and `done` holds for it, or
   * the apply timeout passes (agents that are slow or gone are then left to catch up).
   */
  async #untilApplied(model: string, m: ModelTraffic, uri: string, done: (a: TrafficAgentInfo) => boolean): Promise<void> {
    const epoch = m.epoch;
    const ready = () => this.#live(m, uri).every((a) => a.epoch >= epoch && done(a));
    if (ready()) return;
    const timeoutMs = this.#init.applyTimeoutMs ?? AGENT_APPLY_TIMEOUT_MS;
    const board = this.#board;
    await new Promise<void>((resolve) => {
      // On the board, heartbeats arrive through the store (perhaps through another replica): read them until ready.
      const poll = board
        ? setInterval(() => {
            void this.#loadAgents(model, m)
              .then(check)
              .catch((err: unknown) => this.#log.warn({ err, model }, 'release: reading the serving processes from the traffic board failed'));
          }, BOARD_SYNC_MS)
        : undefined;
      poll?.unref();
      const finish = () => {
        clearTimeout(timer);
        clearInterval(poll);
        m.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (ready()) finish();
      };
      const timer = setTimeout(() => {
        const late = this.#live(m, uri).filter((a) => !(a.epoch >= epoch && done(a)));
        if (late.length > 0) this.#log.warn({ agents: late.map((a) => a.agentId), epoch }, 'release: serving processes did not apply a traffic change in time; they catch up when they can');
        finish();
      }, timeoutMs);
      timer.unref();
      m.waiters.add(check);
    });
  }
}

/** The split of a board entry, unless its driver went quiet. */
function liveSplit(entry: BoardEntry): PublishedSplit | null {
  return entry.state.split && entry.ageMs <= BOARD_DRIVER_STALE_MS ? entry.state.split : null;
}

/** A share between 0 and 1 (absent = 0). */
function share(v: number | undefined, field: string): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new SlipwayError('INVALID_ARGUMENT', `${field} must be a number from 0 to 1, got ${String(v)}.`);
  return v;
}

/**
 * One window from the windows of several serving processes (see TrafficHub for the rules).
 * With no parts the window is empty: no request was answered anywhere.
 */
export function mergeSplitStats(parts: readonly SplitStats[], base: { championVersion: string; challengerVersion: string; windowMs: number }): SplitStats {
  const merged: SplitStats = {
    champion: mergeSides(
      parts.map((p) => p.champion),
      base.championVersion,
    ),
    challenger: mergeSides(
      parts.map((p) => p.challenger),
      base.challengerVersion,
    ),
    windowMs: base.windowMs,
  };
  const shadows = parts.map((p) => p.shadow).filter((s): s is ShadowStats => s !== undefined);
  if (shadows.length > 0) merged.shadow = mergeShadows(shadows);
  return merged;
}

function mergeSides(sides: readonly SideStats[], fallbackVersion: string): SideStats {
  let requests = 0;
  let errors = 0;
  let p50Sum = 0;
  let p50Weight = 0;
  let p99: number | null = null;
  const scores: number[] = [];
  const requestIds: string[] = [];
  for (const s of sides) {
    requests += s.requests;
    errors += s.errors;
    if (s.latencyP50Ms !== null) {
      // A part with latencies but no counted requests (shadow mirrors only) still weighs one.
      const w = Math.max(1, s.requests);
      p50Sum += s.latencyP50Ms * w;
      p50Weight += w;
    }
    if (s.latencyP99Ms !== null) p99 = p99 === null ? s.latencyP99Ms : Math.max(p99, s.latencyP99Ms);
    for (const v of s.scores) if (scores.length < MERGED_SAMPLE_LIMIT) scores.push(v);
    for (const id of s.requestIds) if (requestIds.length < MERGED_SAMPLE_LIMIT) requestIds.push(id);
  }
  // The version of the part that answered most speaks for the side.
  const version = [...sides].sort((a, b) => b.requests - a.requests).find((s) => s.version !== '')?.version ?? fallbackVersion;
  return { version, requests, errors, latencyP50Ms: p50Weight > 0 ? p50Sum / p50Weight : null, latencyP99Ms: p99, scores, requestIds };
}

function mergeShadows(shadows: readonly ShadowStats[]): ShadowStats {
  let compared = 0;
  let agreeSum = 0;
  let agreeWeight = 0;
  let diffSum = 0;
  let diffWeight = 0;
  let max: number | null = null;
  let dropped = 0;
  let countsDropped = false;
  for (const s of shadows) {
    compared += s.compared;
    if (s.agreement !== null) {
      agreeSum += s.agreement * s.compared;
      agreeWeight += s.compared;
    }
    if (s.meanAbsDiff !== null) {
      diffSum += s.meanAbsDiff * s.compared;
      diffWeight += s.compared;
    }
    if (s.maxAbsDiff !== null) max = max === null ? s.maxAbsDiff : Math.max(max, s.maxAbsDiff);
    if (s.dropped !== undefined) {
      dropped += s.dropped;
      countsDropped = true;
    }
  }
  return {
    compared,
    agreement: agreeWeight > 0 ? agreeSum / agreeWeight : null,
    meanAbsDiff: diffWeight > 0 ? diffSum / diffWeight : null,
    maxAbsDiff: max,
    ...(countsDropped ? { dropped } : {}),
  };
}
