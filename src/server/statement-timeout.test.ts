import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DIALECTS, freshPostgresDatabase } from '../../test/support/dialects.js';
import { resolveConfig } from '../config.js';
import { silentLogger } from '../core/logger.js';
import { toHttpError } from './http-errors.js';
import { startServer } from './start-server.js';
import { TrackingService } from '../tracking/tracking-service.js';
import type { Store } from '../store/store.js';

const RUNS = 50_000;
// Every clause holds for every run, so each run costs 100 index probes: seconds of work. Ordered by the
// param, every run must pass the filter before the first page is known (ordered by start time, a search
// could stop after its first page, fast or slow depending on the machine).
const PATHOLOGICAL = Array.from({ length: 100 }, (_, i) => `params.p != 'x${i}'`).join(' and ');
const ORDER = ['params.p DESC'];

/** Inserts RUNS runs in experiment 0, each with one param p, straight into the tables. */
async function seedRuns(store: Store): Promise<void> {
  const runs = `insert into runs (run_uuid, name, experiment_id, user_id, status, start_time, lifecycle_stage, artifact_uri)
    select 'r' || n, 'run', 0, 'u', 'FINISHED', n, 'active', 'a' from s`;
  const params = `insert into params (run_uuid, key, value) select 'r' || n, 'p', 'v' from s`;
  if (store.sqlite) {
    const series = `with recursive s(n) as (select 1 union all select n + 1 from s where n < ${RUNS}) `;
    store.sqlite.exec(`${series}${runs}; ${series}${params};`);
  } else {
    // Its own connection: seeding takes longer than the short timeouts under test.
    const client = await store.pool?.connect();
    try {
      const series = `with s(n) as (select generate_series(1, ${RUNS})) `;
      await client?.query('set statement_timeout = 0');
      await client?.query(`${series}${runs}`);
      await client?.query(`${series}${params}`);
      await client?.query('analyze');
    } finally {
      client?.release(true);
    }
  }
}

describe.each(DIALECTS)('statement timeout on $name', (dialect) => {
  it('stops a pathological search at the configured timeout with a 504, not a 500', async () => {
    const timeoutMs = 300;
    const { store, dispose } = await dialect.open({ statementTimeoutMs: timeoutMs });
    try {
      await seedRuns(store);
      const svc = new TrackingService(store);
      const started = performance.now();
      const err = await svc.searchRuns({ experimentIds: ['0'], filter: PATHOLOGICAL, orderBy: ORDER }).then(() => undefined, (e: unknown) => e);
      const took = performance.now() - started;
      expect(err, 'the search finished before its timeout').toBeDefined();
      expect(toHttpError(err, 'test')).toMatchObject({ status: 504, code: 'DEADLINE_EXCEEDED', internal: false });
      expect(took).toBeGreaterThanOrEqual(timeoutMs - 20);
      expect(took).toBeLessThan(timeoutMs + 2000);
      // An ordinary search on the same store still answers.
      expect((await svc.searchRuns({ experimentIds: ['0'], filter: "params.p = 'v'", maxResults: 5 })).runs).toHaveLength(5);
    } finally {
      await dispose();
    }
  }, 120_000);
});

describe('an abandoned search on PostgreSQL', () => {
  it('cancels its query when the client closes the connection', async () => {
    const db = await freshPostgresDatabase();
    const home = mkdtempSync(join(tmpdir(), 'slipway-abandon-'));
    const server = await startServer(resolveConfig({ backendStoreUri: db.uri, home, host: '127.0.0.1', port: 0, statementTimeoutMs: 120_000 }, {}, home), { logger: silentLogger });
    const watcher = new pg.Client({ connectionString: db.uri });
    await watcher.connect();
    const active = async (): Promise<number> =>
      (await watcher.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'active' and query like '%from runs r%' and pid <> pg_backend_pid()")).rows[0]?.n ?? 0;
    const waitFor = async (want: (n: number) => boolean, ms: number): Promise<boolean> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (want(await active())) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    try {
      await seedRuns(server.ctx.store);
      const body = JSON.stringify({ experiment_ids: ['0'], filter: PATHOLOGICAL });
      const socket = connect(server.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.write(`POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      expect(await waitFor((n) => n > 0, 10_000), 'the search query started').toBe(true);
      socket.destroy();
      expect(await waitFor((n) => n === 0, 3_000), 'the query was still running 3 s after the client left').toBe(true);
    } finally {
      await watcher.end();
      await server.close();
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    }
  }, 120_000);
});
