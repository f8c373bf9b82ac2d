/**
 * Another process holds the SQLite file locked (a second connection in BEGIN EXCLUSIVE):
 * writes answer 503 with Retry-After well before SQLite's old 5 s wait, reads and the
 * health check answer promptly, the event loop never stalls, and once the lock is gone
 * writes succeed again (also a write that was waiting when the lock went away).
 */
import Sqlite from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDialect } from '../../test/support/dialects.js';
import { sqliteFileFromUri } from '../store/sqlite/sqlite-dialect.js';
import { openTestApp, type TestApp } from './native/native-api.test-support.js';

// Generous for a loaded machine, yet far below the 5 s that SQLite used to wait.
const WRITE_ANSWER_MS = 4000;
const READ_ANSWER_MS = 1500;
const MAX_LOOP_STALL_MS = 300;

/** Records the longest gap between ticks of a 10 ms timer: how long the event loop was blocked. */
function watchEventLoop(): { stop(): number } {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return worst;
    },
  };
}

interface Answer {
  status: number;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

describe('a SQLite file locked by another connection', () => {
  let t: TestApp;
  let base: string;
  let file: string;
  let experimentId: string;
  let runId: string;

  beforeAll(async () => {
    t = await openTestApp(DIALECTS.find((d) => d.name === 'sqlite') as TestDialect);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    file = sqliteFileFromUri(t.ctx.config.backendStoreUri);
    experimentId = ((await call('POST', '/api/2.0/mlflow/experiments/create', { name: 'locked' })).body as { experiment_id: string }).experiment_id;
    runId = ((await call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId, start_time: 1 })).body as { run: { info: { run_id: string } } }).run.info.run_id;
  });
  afterAll(async () => t.close());

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    const started = performance.now();
    const res = await request(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.body.json()) as Record<string, unknown>;
    return { status: res.statusCode, ms: performance.now() - started, headers: res.headers, body: json };
  }

  function lockFile(): Sqlite.Database {
    const locker = new Sqlite(file);
    locker.exec('BEGIN EXCLUSIVE');
    return locker;
  }

  const logBatch = (step: number) => call('POST', '/api/2.0/mlflow/runs/log-batch', { run_id: runId, metrics: [{ key: 'loss', value: step, step, timestamp: 1000 + step }] });

  it('answers writes 503 with Retry-After, and reads and health promptly, without blocking the event loop', async () => {
    const locker = lockFile();
    const loop = watchEventLoop();
    try {
      // The metric hot path (raw statements), a Kysely write on the MLflow routes, and one on the native API.
      const writes = Promise.all([logBatch(1), call('POST', '/api/2.0/mlflow/experiments/create', { name: 'during-lock' }), call('POST', '/api/v1/experiments', { name: 'native-during-lock' })]);
      await new Promise((r) => setTimeout(r, 100));
      const [read, health] = await Promise.all([call('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`), call('GET', '/api/v1/health')]);
      const [batch, mlflowCreate, nativeCreate] = await writes;
      const stall = loop.stop();

      expect(read.status).toBe(200);
      expect(read.ms).toBeLessThan(READ_ANSWER_MS);
      expect(health.ms).toBeLessThan(READ_ANSWER_MS);
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'unavailable', store: { backend: 'sqlite', status: 'locked' } });

      for (const write of [batch, mlflowCreate]) {
        expect(write.status).toBe(503);
        expect(write.ms).toBeLessThan(WRITE_ANSWER_MS);
        expect(write.headers['retry-after']).toBe('1');
        expect(write.body).toEqual({ error_code: 'TEMPORARILY_UNAVAILABLE', message: expect.stringMatching(/locked by another process/) });
      }
      expect(nativeCreate.status).toBe(503);
      expect(nativeCreate.headers['retry-after']).toBe('1');
      expect(nativeCreate.body).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/locked by another process/), details: { retryAfterSeconds: 1 } } });
      expect(stall).toBeLessThan(MAX_LOOP_STALL_MS);
    } finally {
      loop.stop();
      locker.close();
    }
  });

  it('accepts writes once the lock is released, including one that was waiting for it', async () => {
    const locker = lockFile();
    const waiting = [logBatch(2), call('POST', '/api/2.0/mlflow/experiments/create', { name: 'waited' })];
    await new Promise((r) => setTimeout(r, 300));
    locker.exec('ROLLBACK');
    locker.close();
    expect((await Promise.all(waiting)).map((w) => w.status)).toEqual([200, 200]);

    expect((await logBatch(3)).status).toBe(200);
    expect((await call('POST', '/api/2.0/mlflow/experiments/create', { name: 'after-lock' })).status).toBe(200);
    const health = await call('GET', '/api/v1/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', store: { status: 'ok' } });
    const history = await call('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`);
    expect((history.body as { metrics: Array<{ step: number }> }).metrics.map((m) => m.step).sort()).toEqual([2, 3]);
  });
});
