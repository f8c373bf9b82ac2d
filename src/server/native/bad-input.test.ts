import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';

const BAD_QUERIES = ['?maxResults=', '?maxResults=1e9', '?maxResults=-5', '?orderBy=', '?orderBy=bogus%20DESC', '?filter=%27', '?filter=name%20%3D', '?view=x', '?pageToken=zzz', '?pageToken=eyJvZmZzZXQiOi0xfQ', '?after=x', '?limit=99999999999999999999'];
const BAD_BODIES: unknown[] = [
  null, 1, 'x', [], {}, { name: null }, { name: 'x'.repeat(600) }, { metrics: 'x' }, { metrics: [{ key: 'a', value: 'x' }] }, { metrics: [{ key: '', value: 1 }] },
  { params: { '': 'x' } }, { tags: [{ key: 'a' }] }, { experimentIds: ['x'] }, { experimentIds: 'x' }, { filter: 1 }, { orderBy: ['metrics.'] },
  { version: 'abc' }, { version: 99 }, { stage: 'x' }, { source: '' }, { source: '../../etc' }, { status: 'DONE' }, { endTime: -1 },
  { pageToken: 'garbage' }, { maxResults: 1e9 }, { startTime: 'x' }, { experimentId: '999' },
];

describe('native API under bad input', () => {
  let t: TestApp;
  let operations: Array<{ method: string; url: string; body: boolean }>;
  beforeAll(async () => {
    t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    const runId = (await t.app.inject({ method: 'POST', url: '/api/v1/runs', payload: {} })).json().info.runId as string;
    await t.app.inject({ method: 'POST', url: '/api/v1/models', payload: { name: 'm' } });
    const values: Record<string, string> = { experimentId: '0', name: 'm', runId, key: 'auc', version: '1', alias: 'champion' };
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>> };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), url: path.replace(/\{(\w+)\}/g, (_, p: string) => encodeURIComponent(values[p] ?? 'x')), body: op.requestBody !== undefined })),
    ).filter((o) => !o.url.startsWith('/api/v1/loadtests') && o.url !== '/api/v1/health');
  });
  afterAll(() => t.close());

  it('answers every malformed query and body with a 4xx error naming the problem, never a 500', async () => {
    const faults: string[] = [];
    let checked = 0;
    for (const op of operations) {
      const attempts = op.body
        ? BAD_BODIES.map((b) => ({ url: op.url, payload: JSON.stringify(b) }))
        : BAD_QUERIES.map((q) => ({ url: op.url + q, payload: undefined }));
      for (const a of attempts) {
        const res = await t.app.inject({ method: op.method as 'GET', url: a.url, ...(a.payload === undefined ? {} : { payload: a.payload, headers: { 'content-type': 'application/json' } }) });
        checked++;
        const where = `${op.method} ${a.url} ${a.payload ?? ''} -> ${res.statusCode}`;
        if (res.statusCode >= 500) faults.push(`${where} ${res.body.slice(0, 200)}`);
        if (res.statusCode >= 400) {
          const err = (res.json() as { error?: { code?: unknown; message?: unknown } }).error;
          if (typeof err?.code !== 'string' || typeof err.message !== 'string' || err.message.length < 10) faults.push(`${where} unclear error ${res.body.slice(0, 200)}`);
        }
      }
    }
    expect(faults).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  });
});
