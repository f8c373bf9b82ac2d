import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { MAX_ORDER_TERMS } from '../tracking/run-search-query.js';
import { MAX_FILTER_CLAUSES, MAX_FILTER_LENGTH } from '../tracking/search-filter-parser.js';
import { useTestApp } from './native/native-api.test-support.js';

const clauses = (n: number, make: (i: number) => string): string => Array.from({ length: n }, (_, i) => make(i)).join(' and ');

// Filters past the documented size used to reach the database: SQLite's expression-depth
// limit answered 500, PostgreSQL planned for seconds to minutes.
describe.each(DIALECTS)('search filter limits on $name', (dialect) => {
  const t = useTestApp(dialect);

  it('answers 400 naming the limit for too many clauses or too long a filter, never 500', async () => {
    const runs = clauses(999, (i) => `params.p${i} = 'v'`);
    const tags = clauses(999, (i) => `tags.t${i} = 'v'`);
    const long = `tags.t = '${'x'.repeat(MAX_FILTER_LENGTH)}'`;
    const attempts = [
      { method: 'POST' as const, url: '/api/2.0/mlflow/runs/search', payload: { experiment_ids: ['0'], filter: runs } },
      { method: 'POST' as const, url: '/api/2.0/mlflow/experiments/search', payload: { filter: tags } },
      { method: 'GET' as const, url: `/api/2.0/mlflow/registered-models/search?filter=${encodeURIComponent(tags)}` },
      { method: 'GET' as const, url: `/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(tags)}` },
      { method: 'POST' as const, url: '/api/2.0/mlflow/runs/search', payload: { experiment_ids: ['0'], filter: long } },
      { method: 'GET' as const, url: `/api/2.0/mlflow/registered-models/search?filter=${encodeURIComponent(long)}` },
    ];
    for (const a of attempts) {
      const res = await t.app.inject(a);
      const what = `${a.method} ${a.url.slice(0, 60)}`;
      expect(res.statusCode, what).toBe(400);
      expect(res.json().message, what).toMatch(new RegExp(`at most (${MAX_FILTER_CLAUSES} clauses|${MAX_FILTER_LENGTH} characters)`));
    }
  });

  it('answers 400 naming the limit for a run search ordered by too many terms, never 500', async () => {
    const orderBy = Array.from({ length: 1000 }, (_, i) => `params.p${i} ASC`);
    for (const [url, payload] of [
      ['/api/2.0/mlflow/runs/search', { experiment_ids: ['0'], order_by: orderBy }],
      ['/api/v1/runs/search', { experimentIds: ['0'], orderBy }],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url, payload });
      expect(res.statusCode, url).toBe(400);
      expect(JSON.stringify(res.json()), url).toContain(`at most ${MAX_ORDER_TERMS} terms`);
    }
    const full = Array.from({ length: MAX_ORDER_TERMS }, (_, i) => `metrics.m${i} DESC`);
    expect((await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/search', payload: { experiment_ids: ['0'], order_by: full } })).statusCode).toBe(200);
  });

  it('searches with a filter of the full clause limit in linear time', async () => {
    const runId = (await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: '0' } })).json().run.info.run_id as string;
    const params = Array.from({ length: MAX_FILTER_CLAUSES }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    expect((await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/log-batch', payload: { run_id: runId, params } })).statusCode).toBe(200);
    const started = performance.now();
    const res = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/search', payload: { experiment_ids: ['0'], filter: clauses(MAX_FILTER_CLAUSES, (i) => `params.p${i} = 'v'`) } });
    const took = performance.now() - started;
    expect(res.statusCode).toBe(200);
    expect(res.json().runs.map((r: { info: { run_id: string } }) => r.info.run_id)).toEqual([runId]);
    // PostgreSQL used to plan for several seconds here (super-linear in the clause count).
    expect(took).toBeLessThan(1000);
  });

  it('searches experiments and the registry with a filter of the full clause limit promptly', async () => {
    const tags = clauses(MAX_FILTER_CLAUSES, (i) => `tags.t${i} = 'v'`);
    for (const url of [
      `/api/2.0/mlflow/experiments/search?filter=${encodeURIComponent(tags)}`,
      `/api/2.0/mlflow/registered-models/search?filter=${encodeURIComponent(tags)}`,
      `/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(tags)}`,
    ]) {
      const started = performance.now();
      const res = await t.app.inject({ url });
      expect(res.statusCode, url.slice(0, 50)).toBe(200);
      expect(performance.now() - started, url.slice(0, 50)).toBeLessThan(1000);
    }
  });
});
