import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';

const API = '/api/v1/monitoring';

describe('monitoring routes under hostile query strings', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
  });
  afterAll(async () => t.close());

  it('answers a repeated model filter with 400 naming the parameter, not 500', async () => {
    for (const [method, url] of [['GET', `${API}/alerts?model=bc&model=bc`], ['POST', `${API}/alerts/evaluate?model=a&model=b`]] as const) {
      const res = await t.app.inject({ method, url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'INVALID_ARGUMENT', message: "Query parameter 'model' must be given once." });
    }
    expect((await t.app.inject({ url: `${API}/alerts?model=bc` })).json()).toEqual({ alerts: [] });
  });
});
