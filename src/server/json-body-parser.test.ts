import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body-parser.js';
import { useTestApp } from './native/native-api.test-support.js';

const nested = (depth: number, inner = '1'): string => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('parseJsonBody', () => {
  it('accepts nesting up to the limit and counts brackets inside strings as text', () => {
    expect(parseJsonBody(nested(MAX_JSON_DEPTH))).toBeDefined();
    expect(parseJsonBody(JSON.stringify({ v: '['.repeat(5000) + '\\"{' }))).toEqual({ v: '['.repeat(5000) + '\\"{' });
  });

  it('refuses deeper nesting with LIMIT_EXCEEDED naming the limit', () => {
    expect(() => parseJsonBody(nested(MAX_JSON_DEPTH + 1))).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED', message: expect.stringContaining(`${MAX_JSON_DEPTH} levels`) }));
    expect(() => parseJsonBody(`{"a":${'{"b":'.repeat(200)}1${'}'.repeat(201)}`)).toThrow(/nested more than/);
  });
});

describe.each(DIALECTS)('deeply nested request bodies on $name', (dialect) => {
  const t = useTestApp(dialect);

  it('answers 400 naming the limit, never 500', async () => {
    const runId = (await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: '0' } })).json().run.info.run_id as string;
    const bodies = [
      // 3,000 levels in about 10 KB, with a key that sends the body through the poisoning check.
      { url: '/api/2.0/mlflow/experiments/create', payload: `{"name":"deep","constructor":${nested(3000)}}` },
      // A 5,000-deep tag value, which the type check's own message used to stringify.
      { url: '/api/2.0/mlflow/runs/set-tag', payload: `{"run_id":"${runId}","key":"k","value":${nested(5000)}}` },
      { url: '/api/v1/experiments', payload: `{"name":${nested(5000)}}` },
    ];
    for (const b of bodies) {
      const res = await t.app.inject({ method: 'POST', url: b.url, headers: { 'content-type': 'application/json' }, payload: b.payload });
      expect(res.statusCode, b.url).toBe(400);
      expect(res.body, b.url).toContain(`${MAX_JSON_DEPTH} levels`);
    }
  });
});
