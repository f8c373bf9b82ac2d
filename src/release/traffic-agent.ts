/**
 * A traffic agent makes one serving process take part in releases: `slipway serve
 * models:/NAME@ALIAS --server URL` follows a server through its HTTP API, and each replica of
 * `slipway server` on a shared database follows the traffic board with its own serving. It polls
 * the split a release wants for the model
 * (`GET /api/v1/traffic/NAME`) and applies it to this process's own traffic splitter — starts,
 * reweighs, promotes, rolls back, reverts — says it is alive and what it applied, and posts the
 * figures of the running split every second, which the server merges into its analysis.
 *
 * When the server cannot be reached for longer than `unreachableMs` while a split runs here, the
 * agent rolls its split back on its own: traffic never stays split without an analysis watching it.
 * The agent reaches the releases through a TrafficLink: the SDK client's `releases` (over HTTP),
 * or the hub of the replica it runs in (over the store).
 */
import { randomUUID } from 'node:crypto';
import { isSlipwayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TrafficController } from '../core/traffic-split.js';
import type { AgentHeartbeat, AgentStats, TrafficState } from './traffic-hub.js';

/** Where an agent reads the wanted split and reports: the SDK client's `releases`, or a hub on the board. */
export interface TrafficLink {
  traffic(model: string): Promise<TrafficState>;
  trafficHeartbeat(model: string, beat: AgentHeartbeat): Promise<unknown>;
  postTrafficStats(model: string, report: AgentStats): Promise<unknown>;
}

/** How often the agent looks at the wanted split unless told otherwise. */
export const TRAFFIC_POLL_MS = 250;
/** How often the agent posts its figures and says it is alive unless told otherwise. */
export const TRAFFIC_REPORT_MS = 1000;
/** How long the server may be out of reach while a split runs before the agent rolls it back. */
export const TRAFFIC_UNREACHABLE_MS = 5000;

/** What a traffic agent needs. */
export interface TrafficAgentOptions {
  /** Where the releases are followed; over HTTP, with a short request timeout (an unreachable server must be noticed in time). */
  link: TrafficLink;
  /** The model's registered name on the server. */
  model: string;
  /** The name this process serves it under (`--name`), which `traffic` knows it by. */
  servedAs: string;
  /** The reference this process serves: `models:/NAME@ALIAS` or `models:/NAME/VERSION`. */
  uri: string;
  /** This process's traffic splitter. */
  traffic: TrafficController;
  /** The version this process serves now. */
  version: () => string | undefined;
  logger: Logger;
  /** @default TRAFFIC_POLL_MS */
  pollMs?: number;
  /** @default TRAFFIC_REPORT_MS */
  reportMs?: number;
  /** @default TRAFFIC_UNREACHABLE_MS */
  unreachableMs?: number;
}

/** Follows one model's releases on a server; `start` begins, `close` stops (leaving the traffic as it is). */
export class TrafficAgent {
  /** This process, as the server knows it. */
  readonly agentId = randomUUID();
  readonly #o: TrafficAgentOptions;
  readonly #pollMs: number;
  readonly #reportMs: number;
  readonly #unreachableMs: number;
  /** The split running here, by the server's id. */
  #split: { id: string; weight: number; shadowShare: number } | undefined;
  /** A split that failed to start here, not tried again while it is the one published. */
  #failed: { id: string; error: string } | undefined;
  /** A split rolled back here because the server was out of reach; started again only if the server still wants it once back. */
  #abandoned: string | undefined;
  #appliedEpoch = 0;
  /** The revert last seen; undefined before the first poll, so reverts made before this process started are not replayed. */
  #revertSeen: string | null | undefined;
  #lastContact = Date.now();
  #unreachable = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #reporting: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(opts: TrafficAgentOptions) {
    this.#o = opts;
    this.#pollMs = opts.pollMs ?? TRAFFIC_POLL_MS;
    this.#reportMs = opts.reportMs ?? TRAFFIC_REPORT_MS;
    this.#unreachableMs = opts.unreachableMs ?? TRAFFIC_UNREACHABLE_MS;
  }

  /** Says hello to the server and starts polling and reporting. */
  start(): void {
    this.#lastContact = Date.now();
    void this.#report();
    this.#schedulePoll();
    this.#reportTimer = setInterval(() => void this.#report(), this.#reportMs);
    // The agent must never keep the process alive on its own.
    this.#reportTimer.unref();
  }

  /** Stops polling and reporting; waits for a change being applied to finish. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    clearInterval(this.#reportTimer);
    await this.#polling;
    await this.#reporting;
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined;
        this.#schedulePoll();
      });
    }, this.#pollMs);
    this.#pollTimer.unref();
  }

  async #poll(): Promise<void> {
    let state: TrafficState;
    try {
      state = await this.#o.link.traffic(this.#o.model);
    } catch (err) {
      await this.#outOfReach(err);
      return;
    }
    this.#reached();
    if (this.#closed) return;
    if (await this.#apply(state)) void this.#report();
  }

  /** Brings this process's traffic in line with `state`; true when something changed. */
  async #apply(state: TrafficState): Promise<boolean> {
    const { traffic, servedAs, logger } = this.#o;
    let changed = state.epoch !== this.#appliedEpoch;
    // A release moves one alias: its split is for the processes serving by that reference only.
    const want = state.split?.uri === this.#o.uri ? state.split : null;
    if (want && want.id !== this.#abandoned) this.#abandoned = undefined;
    if (this.#split && (!want || want.id !== this.#split.id)) {
      const ended = this.#split;
      const outcome = state.ended?.splitId === ended.id ? state.ended.outcome : 'rollback';
      this.#split = undefined;
      await traffic.endSplit(servedAs, outcome, { bakeMs: outcome === 'promote' ? (state.ended?.bakeMs ?? 0) : 0 }).catch((err: unknown) => {
        logger.warn({ model: servedAs, err: message(err) }, 'serve: ending the traffic split failed');
      });
      logger.info({ model: servedAs, outcome, version: this.#o.version() }, `serve: release split ended (${outcome})`);
      changed = true;
    }
    if (want && !this.#split && want.id !== this.#failed?.id && want.id !== this.#abandoned) {
      try {
        await traffic.startSplit(servedAs, { challengerUri: want.challengerUri, weight: want.weight, shadowShare: want.shadowShare, ...(want.stickyHeader !== undefined ? { stickyHeader: want.stickyHeader } : {}) });
        this.#split = { id: want.id, weight: want.weight, shadowShare: want.shadowShare };
        this.#failed = undefined;
        logger.info({ model: servedAs, challenger: want.challengerUri, weight: want.weight, shadowShare: want.shadowShare }, 'serve: release split started');
      } catch (err) {
        this.#failed = { id: want.id, error: message(err) };
        logger.warn({ model: servedAs, challenger: want.challengerUri, err: message(err) }, 'serve: the release split could not start here; this process keeps serving the champion');
      }
      changed = true;
    } else if (want && this.#split?.id === want.id && (this.#split.weight !== want.weight || this.#split.shadowShare !== want.shadowShare)) {
      traffic.updateSplit(servedAs, { weight: want.weight, shadowShare: want.shadowShare });
      this.#split = { id: want.id, weight: want.weight, shadowShare: want.shadowShare };
      changed = true;
    }
    const revert = state.revert?.uri === this.#o.uri ? state.revert.id : null;
    if (this.#revertSeen === undefined) this.#revertSeen = revert;
    else if (revert !== null && revert !== this.#revertSeen) {
      this.#revertSeen = revert;
      if (!this.#split) {
        const version = await traffic.revert(servedAs, state.revert?.version).catch((err: unknown) => void logger.warn({ model: servedAs, err: message(err) }, 'serve: reverting the last promotion failed'));
        if (version !== undefined) logger.info({ model: servedAs, version }, 'serve: last promotion reverted');
      }
      changed = true;
    }
    this.#appliedEpoch = state.epoch;
    return changed;
  }

  /** Posts the running split's figures, then the heartbeat; one report at a time. */
  #report(): Promise<void> {
    if (this.#reporting) {
      // A change applied while a report is on its way is acknowledged by the next one, at once.
      this.#again = true;
      return this.#reporting;
    }
    this.#reporting = (async () => {
      do {
        this.#again = false;
        await this.#reportOnce();
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#reporting = undefined));
    return this.#reporting;
  }

  async #reportOnce(): Promise<void> {
    const { link, model, servedAs, traffic } = this.#o;
    try {
      const split = this.#split;
      const stats = split ? traffic.takeStats(servedAs) : undefined;
      if (split && stats) {
        await link.postTrafficStats(model, { agentId: this.agentId, splitId: split.id, stats }).catch((err: unknown) => {
          // The split ended on the server between two posts: its last figures belong to no analysis.
          if (!(isSlipwayError(err) && err.code === 'CONFLICT')) throw err;
        });
      }
      const version = this.#o.version();
      if (version === undefined) return;
      await link.trafficHeartbeat(model, {
        agentId: this.agentId,
        uri: this.#o.uri,
        version,
        epoch: this.#appliedEpoch,
        splitId: this.#split?.id ?? null,
        splitError: this.#failed?.error ?? null,
      });
      this.#reached();
    } catch (err) {
      await this.#outOfReach(err);
    }
  }

  #reached(): void {
    this.#lastContact = Date.now();
    if (this.#unreachable) this.#o.logger.info({ model: this.#o.servedAs }, 'serve: the server can be reached again; following its releases');
    this.#unreachable = false;
  }

  async #outOfReach(err: unknown): Promise<void> {
    const { logger, servedAs, traffic } = this.#o;
    if (!this.#unreachable) logger.warn({ model: servedAs, err: message(err) }, 'serve: cannot reach the server for its releases');
    this.#unreachable = true;
    const split = this.#split;
    if (!split || Date.now() - this.#lastContact <= this.#unreachableMs) return;
    this.#split = undefined;
    this.#abandoned = split.id;
    await traffic.endSplit(servedAs, 'rollback').catch(() => {});
    logger.warn(
      { model: servedAs, unreachableMs: Date.now() - this.#lastContact },
      `serve: the server was out of reach for more than ${this.#unreachableMs} ms during a release; its split was rolled back here and every request goes to the champion`,
    );
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
