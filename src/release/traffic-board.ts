/**
 * The traffic of releases kept in the store, so that every server process on one database (the
 * replicas) sees the same wanted split, the same serving processes and the same figures. The
 * process that drives a release publishes the split here; every serving process — each replica's
 * own serving and each `slipway serve --server` process, whichever replica takes its poll —
 * follows it from here, reports here, and posts the figures of its part of the split here, which
 * the driving process drains into its analysis.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { SlipwayError } from '../core/errors.js';
import type { SplitStats } from '../core/traffic-split.js';
import type { Store } from '../store/store.js';
import type { EndedSplit, PublishedSplit, TrafficAgentInfo } from './traffic-hub.js';

/** What the driving process publishes for one model. */
export interface BoardState {
  split: PublishedSplit | null;
  ended: EndedSplit | null;
  revert: { id: string; uri: string; version?: string } | null;
  /** The reference the last split was published for. */
  target: string | null;
  /** The champion's version when the split started. */
  championVersion: string;
}

/** A serving process as it last reported. */
export type BoardAgent = TrafficAgentInfo;

/** A published state as stored: the state, its epoch, and how long ago (by the database's clock) its driver last said it still drives it. */
export interface BoardEntry {
  epoch: number;
  state: BoardState;
  ageMs: number;
}

/** Windows kept per model for the driving process; older ones are dropped (a driver that stalls must not grow the table). */
export const BOARD_WINDOW_LIMIT = 1000;

const EMPTY: BoardState = { split: null, ended: null, revert: null, target: null, championVersion: '' };

/** The store's traffic tables (migration 0013). */
export class TrafficBoard {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The database's clock in epoch ms: replicas compare ages by one clock, never by their own. */
  #dbNow() {
    return this.#store.dialect === 'postgres' ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint` : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
  }

  /** The published state of `model`, or undefined when none was ever published. */
  async read(model: string): Promise<BoardEntry | undefined> {
    const row = await this.#store.db
      .selectFrom('traffic_states')
      .select(['epoch', 'state', sql<number>`${this.#dbNow()} - updated_time`.as('age_ms')])
      .where('model', '=', model)
      .executeTakeFirst();
    if (!row) return undefined;
    return { epoch: Number(row.epoch), state: { ...EMPTY, ...(JSON.parse(row.state) as Partial<BoardState>) }, ageMs: Number(row.age_ms) };
  }

  /**
   * Publishes `state` for `model` when the split stored is still `expected` (its id, or null for
   * none; a model with no row yet always takes it), and returns the new epoch: above the stored one
   * and at least `now` (so a fresh table never repeats an epoch an agent applied). Undefined when
   * another driver published since: nothing was written.
   */
  async publish(model: string, state: BoardState, now: number, expected: string | null): Promise<number | undefined> {
    const pg = this.#store.dialect === 'postgres';
    const greatest = pg ? sql<number>`greatest(traffic_states.epoch + 1, excluded.epoch)` : sql<number>`max(traffic_states.epoch + 1, excluded.epoch)`;
    const row = await this.#store.db
      .insertInto('traffic_states')
      .values({ model, epoch: now, state: JSON.stringify(state), split_id: state.split?.id ?? null, updated_time: this.#dbNow() })
      .onConflict((oc) =>
        oc
          .column('model')
          .doUpdateSet({ epoch: greatest, state: (eb) => eb.ref('excluded.state'), split_id: (eb) => eb.ref('excluded.split_id'), updated_time: (eb) => eb.ref('excluded.updated_time') })
          .where(pg ? sql<boolean>`traffic_states.split_id is not distinct from ${expected}` : sql<boolean>`traffic_states.split_id is ${expected}`),
      )
      .returning('epoch')
      .executeTakeFirst();
    return row ? Number(row.epoch) : undefined;
  }

  /** Says the driver of split `splitId` still drives it; false when another split was published since (it drives nothing now). */
  async touch(model: string, splitId: string): Promise<boolean> {
    const res = await this.#store.db.updateTable('traffic_states').set({ updated_time: this.#dbNow() }).where('model', '=', model).where('split_id', '=', splitId).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Records a serving process's report; forgets those not heard from since `forgetBefore`. */
  async heartbeat(model: string, agent: BoardAgent, forgetBefore: number): Promise<void> {
    const { agentId, lastSeen, ...info } = agent;
    await this.#store.db
      .insertInto('traffic_agents')
      .values({ model, agent_id: agentId, info: JSON.stringify(info), last_seen: lastSeen })
      .onConflict((oc) => oc.columns(['model', 'agent_id']).doUpdateSet({ info: (eb) => eb.ref('excluded.info'), last_seen: (eb) => eb.ref('excluded.last_seen') }))
      .execute();
    await this.#store.db.deleteFrom('traffic_agents').where('model', '=', model).where('last_seen', '<', forgetBefore).execute();
  }

  /** Marks a serving process as heard from now, when it is known. */
  async seen(model: string, agentId: string, now: number): Promise<void> {
    await this.#store.db.updateTable('traffic_agents').set({ last_seen: now }).where('model', '=', model).where('agent_id', '=', agentId).execute();
  }

  /** Serving processes of `model` heard from since `since`. */
  async agents(model: string, since: number): Promise<BoardAgent[]> {
    const rows = await this.#store.db.selectFrom('traffic_agents').select(['agent_id', 'info', 'last_seen']).where('model', '=', model).where('last_seen', '>=', since).orderBy('agent_id').execute();
    return rows.map((r) => ({ agentId: r.agent_id, ...(JSON.parse(r.info) as Omit<BoardAgent, 'agentId' | 'lastSeen'>), lastSeen: Number(r.last_seen) }));
  }

  /** Keeps one window of a split's figures for the driving process. */
  async postStats(model: string, splitId: string, stats: SplitStats, now: number): Promise<void> {
    await this.#store.db.insertInto('traffic_windows').values({ id: randomUUID(), model, split_id: splitId, stats: JSON.stringify(stats), created_time: now }).execute();
    // Bounded: past the limit, the oldest windows of the model go.
    const excess = await this.#store.db
      .selectFrom('traffic_windows')
      .select('id')
      .where('model', '=', model)
      .orderBy('created_time', 'desc')
      .orderBy('id')
      .offset(BOARD_WINDOW_LIMIT)
      .limit(1000)
      .execute();
    if (excess.length > 0) {
      await this.#store.db
        .deleteFrom('traffic_windows')
        .where(
          'id',
          'in',
          excess.map((r) => r.id),
        )
        .execute();
    }
  }

  /** Takes (and removes) the windows posted for `splitId`, oldest first. */
  async drain(model: string, splitId: string): Promise<SplitStats[]> {
    return this.#store.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('traffic_windows')
        .select(['id', 'split_id', 'stats'])
        .where('model', '=', model)
        .where('split_id', '=', splitId)
        .orderBy('created_time')
        .orderBy('id')
        .limit(BOARD_WINDOW_LIMIT)
        .execute();
      if (rows.length === 0) return [];
      await trx
        .deleteFrom('traffic_windows')
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map((r) => JSON.parse(r.stats) as SplitStats);
    });
  }

  /** Drops every window of `model` (a split started or ended). */
  async clearWindows(model: string): Promise<void> {
    await this.#store.db.deleteFrom('traffic_windows').where('model', '=', model).execute();
  }
}

/** CONFLICT for figures of a split that is not the one running. */
export function notRunning(model: string, splitId: string, running: string | undefined): SlipwayError {
  return new SlipwayError('CONFLICT', `Split '${splitId}' of model '${model}' is not running${running ? ` (split '${running}' is)` : ''}; its figures were dropped.`, { model, splitId });
}
