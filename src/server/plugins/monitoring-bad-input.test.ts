import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { useTestApp } from '../native/native-api.test-support.js';

const API = '/api/v1/monitoring';

describe('monitoring routes under hostile query strings', () => {
  const t = useTestApp();

  it('answers a repeated model filter with 400 naming the parameter, not 500', async () => {
    for (const [method, url] of [['GET', `${API}/alerts?model=bc&model=bc`], ['POST', `${API}/alerts/evaluate?model=a&model=b`]] as const) {
      const res = await t.app.inject({ method, url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'INVALID_ARGUMENT', message: "Query parameter 'model' must be given once." });
    }
    expect((await t.app.inject({ url: `${API}/alerts?model=bc` })).json()).toEqual({ alerts: [] });
  });
});

describe('flushing monitoring windows when the store cannot take them', () => {
  const t = useTestApp();

  it('answers 503 naming the failure instead of reporting success, and keeps the window for a later flush', async () => {
    const observe = (requestId: string) => {
      for (const o of t.ctx.inferenceObservers) o.observe({ model: 'bc', version: '1', requestId, time: Date.now(), latencyMs: 1, rows: 1, inputs: Float32Array.from([1, 2]), columns: ['a', 'b'] });
    };
    observe('r1');
    await sql`ALTER TABLE monitoring_windows RENAME TO monitoring_windows_away`.execute(t.ctx.store.db);
    const failed = await t.app.inject({ method: 'POST', url: `${API}/windows/flush` });
    expect(failed.statusCode).toBe(503);
    expect(failed.json().error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^Monitoring windows could not be written to the store: .*monitoring_windows/) });
    // The store is back: the same window is written by the next flush, nothing lost.
    await sql`ALTER TABLE monitoring_windows_away RENAME TO monitoring_windows`.execute(t.ctx.store.db);
    observe('r2');
    expect((await t.app.inject({ method: 'POST', url: `${API}/windows/flush` })).json()).toEqual({ flushed: true });
    const windows = (await t.app.inject({ url: `${API}/models/bc/windows` })).json() as { windows: Array<{ rows: number }> };
    expect(windows.windows.reduce((n, w) => n + w.rows, 0)).toBe(2);
  });
});
