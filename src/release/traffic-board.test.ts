import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import type { SplitStats, TrafficController, TrafficSplitSpec } from '../core/traffic-split.js';
import { DIALECTS } from '../../test/support/dialects.js';
import { openStore } from '../store/store.js';
import { TrafficBoard } from './traffic-board.js';
import { LocalTrafficFollower } from './traffic-follower.js';
import { BOARD_DRIVER_STALE_MS, TrafficHub } from './traffic-hub.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const side = (version: string, requests: number): SplitStats['champion'] => ({ version, requests, errors: 0, latencyP50Ms: 1, latencyP99Ms: 2, scores: [], requestIds: [] });

/**
 * One replica's serving of `m@champion` as the release domain sees it (the real splitter is
 * exercised end to end by test/e2e/replicas.test.ts): it records what it was told and hands out
 * fixed figures while it splits.
 */
class Serving implements TrafficController {
  split: (TrafficSplitSpec & { weight: number }) | undefined;
  readonly ended: string[] = [];
  constructor(
    public version: string,
    readonly requests: number,
  ) {}
  async startSplit(_model: string, spec: TrafficSplitSpec): Promise<void> {
    this.split = { ...spec, weight: spec.weight ?? 0 };
  }
  updateSplit(_model: string, change: { weight?: number }): void {
    if (this.split && change.weight !== undefined) this.split.weight = change.weight;
  }
  async endSplit(_model: string, outcome: 'promote' | 'rollback'): Promise<void> {
    if (outcome === 'promote' && this.split) this.version = this.split.challengerUri.split('/').at(-1) ?? '';
    this.split = undefined;
    this.ended.push(outcome);
  }
  takeStats(): SplitStats | undefined {
    return this.split ? { champion: side(this.version, this.requests), challenger: side('2', this.requests), windowMs: 1000 } : undefined;
  }
  activeSplit(): (TrafficSplitSpec & { championVersion: string; challengerVersion: string }) | undefined {
    return this.split ? { ...this.split, championVersion: this.version, challengerVersion: '2' } : undefined;
  }
  async revert(): Promise<string | undefined> {
    return undefined;
  }
  servedUri(): string {
    return 'models:/m@champion';
  }
  servedVersion(): string {
    return this.version;
  }
}

for (const dialect of DIALECTS) {
  describe(`traffic board (${dialect.name})`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    /** Two replicas on one store, each serving `m` and following the board; replica A's serving answers no requests. */
    async function replicas() {
      const { store, uri, dispose } = await dialect.open();
      cleanups.push(dispose);
      const storeB = await openStore(uri);
      cleanups.push(() => storeB.close());
      const make = (s: typeof store, serving: Serving) => {
        const hub = new TrafficHub({ local: () => serving, board: new TrafficBoard(s), logger: silentLogger, applyTimeoutMs: 5000 });
        const follower = new LocalTrafficFollower({ link: hub.boardLink(), traffic: () => serving, servedNames: () => ['m'], logger: silentLogger, scanMs: 50 });
        follower.start();
        cleanups.push(() => hub.close(), () => follower.close());
        return hub;
      };
      const servingA = new Serving('1', 0);
      const servingB = new Serving('1', 4);
      const a = make(store, servingA);
      const b = make(storeB, servingB);
      for (let i = 0; i < 100 && (await a.state('m')).agents.length < 2; i++) await sleep(50);
      return { a, b, servingA, servingB, store };
    }

    it("a split driven by one replica runs in both, and the other replica's figures reach its analysis", async () => {
      const { a, b, servingA, servingB } = await replicas();
      await a.startSplit('m', { challengerUri: 'models:/m/2', weight: 0.2 });
      // startSplit returns once every replica applied it.
      expect(servingA.split?.weight).toBe(0.2);
      expect(servingB.split?.weight).toBe(0.2);
      const seen = await b.state('m');
      expect(seen.split).toMatchObject({ uri: 'models:/m@champion', challengerUri: 'models:/m/2', weight: 0.2 });
      expect(seen.agents.filter((x) => x.splitId === seen.split?.id)).toHaveLength(2);

      a.updateSplit('m', { weight: 0.5 });
      await waitFor('replica B to take the new weight', () => servingB.split?.weight === 0.5);
      // Each replica posts its window every second; the driver drains them from the store. Only B's serving answers
      // requests (4 a window), so every request the driver counts came through the board.
      let requests = 0;
      await waitFor(
        "replica B's windows",
        () => {
          requests += a.takeStats('m')?.champion.requests ?? 0;
          return requests >= 8;
        },
        6000,
      );
      expect(requests % 4).toBe(0);

      await a.endSplit('m', 'promote', { bakeMs: 1000 });
      expect(servingA.ended).toEqual(['promote']);
      expect(servingB.ended).toEqual(['promote']);
      expect(servingB.version).toBe('2');
      expect((await b.state('m')).ended?.outcome).toBe('promote');
    }, 30_000);

    it('refuses figures of a split that is not the one running, through any replica', async () => {
      const { a, b } = await replicas();
      await a.startSplit('m', { challengerUri: 'models:/m/2', weight: 0.1 });
      const stats = { champion: side('1', 1), challenger: side('2', 1), windowMs: 10 };
      await expect(b.postStats('m', { agentId: 'x', splitId: 'old', stats })).rejects.toMatchObject({ code: 'CONFLICT' });
      await a.endSplit('m', 'rollback');
    }, 30_000);

    it('a split whose driver went quiet is rolled back everywhere, and the stalled driver, resumed, changes nothing of the next one', async () => {
      const { a, b, servingB, store } = await replicas();
      await a.startSplit('m', { challengerUri: 'models:/m/2', weight: 0.3 });
      expect(servingB.split?.weight).toBe(0.3);
      // A stalls: it no longer says it drives the split, which ages past the limit (by the database's clock).
      a.close();
      await store.db
        .updateTable('traffic_states')
        .set({ updated_time: sql`updated_time - ${BOARD_DRIVER_STALE_MS + 1000}` })
        .execute();
      expect((await b.state('m')).split).toBeNull();
      await waitFor('replica B to roll the unwatched split back', () => servingB.split === undefined);
      expect(servingB.ended).toContain('rollback');
      // B takes over (as the next lease holder) with a split of its own; A wakes up and acts on its old one.
      await b.startSplit('m', { challengerUri: 'models:/m/2', weight: 0.7 });
      const running = (await b.state('m')).split;
      expect(running?.weight).toBe(0.7);
      a.updateSplit('m', { weight: 0.9 });
      await a.endSplit('m', 'rollback');
      await sleep(300);
      const after = (await b.state('m')).split;
      expect(after).toMatchObject({ id: running?.id, weight: 0.7 });
      expect(servingB.split?.weight).toBe(0.7);
      await b.endSplit('m', 'rollback');
    }, 30_000);
  });
}
