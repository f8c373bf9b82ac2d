/**
 * The routes the monitoring pages read: the monitored models with their newest window and
 * alert state, one window compared with its reference feature by feature, and a report over
 * a range of stored windows — with bad input answered 400/404 naming the problem.
 */
import { describe, expect, it } from 'vitest';
import { attachReference, profileTable, tableFromRows } from '../../monitoring/index.js';
import { useTestApp } from '../native/native-api.test-support.js';

const API = '/api/v1/monitoring';

// Deterministic rows spread over [0, 1): `shift` moves feature b only.
const rows = (n: number, shift: number): Array<{ a: number; b: number }> => Array.from({ length: n }, (_, i) => ({ a: ((i * 37) % 101) / 101, b: ((i * 53) % 97) / 97 + shift }));

describe('monitoring routes of the web UI', () => {
  const t = useTestApp();

  const seed = async (): Promise<number> => {
    await attachReference(t.ctx.store, 'bc', '1', profileTable(tableFromRows(rows(300, 0), 'reference')), 'holdout', { time: Date.now() });
    const current = rows(200, 2);
    for (const o of t.ctx.inferenceObservers) {
      o.observe({ model: 'bc', version: '1', requestId: 'r1', time: Date.now(), latencyMs: 1, rows: current.length, inputs: Float32Array.from(current.flatMap((r) => [r.a, r.b])), columns: ['a', 'b'] });
    }
    expect((await t.app.inject({ method: 'POST', url: `${API}/windows/flush` })).statusCode).toBe(200);
    const listed = (await t.app.inject({ url: `${API}/models/bc/windows` })).json() as { windows: Array<{ windowStart: number }> };
    expect(listed.windows).toHaveLength(1);
    return (listed.windows[0] as { windowStart: number }).windowStart;
  };

  it('lists the monitored models, compares one window feature by feature, and reports over stored windows', async () => {
    const start = await seed();
    await t.app.inject({ method: 'POST', url: `${API}/alerts`, payload: { name: 'bc-drift', model: 'bc', figure: 'drifted_columns', comparison: '>=', threshold: 1, forWindows: 1 } });
    await t.app.inject({ method: 'POST', url: `${API}/alerts/evaluate?model=bc` });

    const models = (await t.app.inject({ url: `${API}/models` })).json() as { models: Array<Record<string, unknown>> };
    expect(models.models).toEqual([
      {
        model: 'bc',
        references: [{ version: '1', rows: 300, source: 'holdout', createdTime: expect.any(Number) }],
        latestWindow: { version: '1', windowStart: start, windowEnd: expect.any(Number), rows: 200, figures: expect.objectContaining({ drifted_columns: 1 }) },
        alerts: { total: 1, firing: ['bc-drift'] },
      },
    ]);

    const detail = (await t.app.inject({ url: `${API}/models/bc/windows/${start}` })).json() as {
      version: string;
      reference: { rows: number };
      drift: { columns: Array<{ column: string; drifted: boolean; test: string; score: number; threshold: number }> };
      quality: { tests: Array<{ name: string; column?: string; status: string }> };
    };
    expect(detail.version).toBe('1');
    expect(detail.reference.rows).toBe(300);
    expect(detail.drift.columns.map((c) => [c.column, c.drifted, c.test])).toEqual([
      ['b', true, 'ks'],
      ['a', false, 'ks'],
    ]);
    expect(detail.drift.columns[0]?.threshold).toBe(0.05);
    expect(detail.quality.tests.find((q) => q.name === 'out of range' && q.column === 'b')?.status).toBe('fail');

    const report = await t.app.inject({ method: 'POST', url: `${API}/reports`, payload: { reference: { rows: rows(300, 0) }, current: { windows: { model: 'bc', from: start, to: start + 1 } } } });
    expect(report.statusCode).toBe(200);
    const doc = report.json() as { drift: { columns: Array<{ column: string; drifted: boolean }> } };
    expect(doc.drift.columns.filter((c) => c.drifted).map((c) => c.column)).toEqual(['b']);
    const html = await t.app.inject({ method: 'POST', url: `${API}/reports?format=html`, payload: { reference: { rows: rows(300, 0) }, current: { windows: { model: 'bc', version: '1' } } } });
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toContain('bc version 1, 1 window(s)');
  });

  it('answers bad window input with 400 or 404 naming the problem', async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['GET', `${API}/models/bc/windows/yesterday`, undefined, 400, /'windowStart' must be epoch milliseconds, got 'yesterday'/],
      ['GET', `${API}/models/bc/windows/12`, undefined, 404, /Model 'bc' has no monitoring window starting at 1970-01-01T00:00:00.012Z/],
      ['GET', `${API}/models/nobody/windows/12?version=3`, undefined, 404, /Model 'nobody' version 3 has no monitoring window/],
      ['POST', `${API}/reports`, { reference: { rows: rows(10, 0) }, current: { windows: {} } }, 400, /'current\.windows\.model' must be a model name/],
      ['POST', `${API}/reports`, { reference: { rows: rows(10, 0) }, current: { windows: { model: 'bc', from: 'monday' } } }, 400, /'current\.windows\.from' must be epoch milliseconds/],
      ['POST', `${API}/reports`, { reference: { rows: rows(10, 0) }, current: { windows: { model: 'nobody', from: 0, to: 1000 } } }, 404, /Model 'nobody' has no monitoring windows from 1970-01-01T00:00:00.000Z to 1970-01-01T00:00:01.000Z/],
    ];
    for (const [method, url, payload, status, message] of cases) {
      const res = await t.app.inject({ method: method as 'GET' | 'POST', url, ...(payload === undefined ? {} : { payload: payload as object }) });
      expect(res.statusCode, url).toBe(status);
      expect((res.json() as { error: { message: string } }).error.message, url).toMatch(message);
    }
  });
});
