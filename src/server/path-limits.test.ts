import { describe, expect, it } from 'vitest';
import { useTestApp } from './native/native-api.test-support.js';

describe('names and malformed paths in URLs', () => {
  const t = useTestApp();

  it('reads back a registered model whose legal 256-character name is in the path', async () => {
    const name = 'm'.repeat(200) + '-é'.repeat(28);
    const created = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', payload: { name } });
    expect(created.statusCode).toBe(200);
    const got = await t.app.inject({ url: `/api/v1/models/${encodeURIComponent(name)}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({ name });
  });

  it('answers malformed percent-encoding and absurd segments in the API error shape', async () => {
    const bad = await t.app.inject({ url: '/api/v1/models/a%ff' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: { code: 'MALFORMED_REQUEST', message: 'The request path is not valid percent-encoded UTF-8.' } });
    const mlflow = await t.app.inject({ url: '/api/2.0/mlflow-artifacts/artifacts/a%c0%ae' });
    expect(mlflow.json()).toEqual({ error_code: 'MALFORMED_REQUEST', message: 'The request path is not valid percent-encoded UTF-8.' });
    const long = await t.app.inject({ url: `/api/v1/models/${'x'.repeat(9000)}` });
    expect(long.statusCode).toBe(400);
    expect(long.json().error).toMatchObject({ code: 'LIMIT_EXCEEDED', message: 'A path segment is longer than this server accepts.' });
  });
});
