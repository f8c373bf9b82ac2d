/**
 * End to end through the real registry on the main server: an alias moves ten
 * times while clients send steady load over real HTTP, and no request fails.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import type { RegistryService } from '../src/registry/index.js';
import { sharedRegistry } from '../src/server/plugins/mlflow-registry.js';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { DIALECTS } from './support/dialects.js';
import { fixture, holdout, maxRelativeError } from './support/serving.js';

const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
const cancer = holdout('breast_cancer');

describe('hot swap through the registry on the main server', () => {
  let t: TestApp;
  let registry: RegistryService;
  let pool: Pool;

  beforeAll(async () => {
    // The repository API loads versions below, which needs model control.
    t = await openTestApp(sqlite as (typeof DIALECTS)[number], undefined, { modelControl: 'explicit' });
    registry = sharedRegistry(t.ctx);
    const mlp = readFileSync(fixture('breast_cancer_mlp.onnx'));
    await t.ctx.artifacts?.put('models/cancer/v1/model.onnx', mlp);
    await t.ctx.artifacts?.put('models/cancer/v2/model.onnx', mlp);
    await registry.createRegisteredModel({ name: 'cancer' });
    await registry.createModelVersion({ name: 'cancer', source: 'models/cancer/v1/model.onnx' });
    await registry.createModelVersion({ name: 'cancer', source: 'models/cancer/v2/model.onnx' });
    await registry.setAlias('cancer', 'champion', '1');
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    pool = new Pool(address, { connections: 8 });
  });
  afterAll(async () => {
    await pool?.close();
    await t?.close();
  });

  it('keeps answering correctly while champion moves 10 times', async () => {
    const row = cancer.rows[3] as number[];
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] });
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let done = false;
    const client = async () => {
      // Bounded: stops when the alias moves are over, or after 20 s at most.
      const until = Date.now() + 20_000;
      while (!done && Date.now() < until) {
        const res = await pool.request({ method: 'POST', path: '/v2/models/cancer/infer', body, headers: { 'content-type': 'application/json' } });
        const text = await res.body.text();
        if (res.statusCode !== 200) {
          failures.push(`${res.statusCode} ${text}`);
          continue;
        }
        const json = JSON.parse(text) as { model_version: string; outputs: Array<{ data: number[] }> };
        maxRelativeError(json.outputs[0]?.data ?? [], [cancer.expected[3] as number]);
        seen.set(json.model_version, (seen.get(json.model_version) ?? 0) + 1);
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const version = async () => (await (await pool.request({ method: 'GET', path: '/v2/models/cancer' })).body.json()) as { versions: string[] };
    // The first request loads the model on demand; wait until it serves.
    for (let i = 0; i < 100 && (await pool.request({ method: 'GET', path: '/v2/models/cancer/ready' })).statusCode !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    for (let move = 1; move <= 10; move++) {
      const target = move % 2 === 1 ? '2' : '1';
      await registry.setAlias('cancer', 'champion', target);
      for (let i = 0; i < 100 && (await version()).versions[0] !== target; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await version()).versions[0]).toBe(target);
      await new Promise((r) => setTimeout(r, 100));
    }
    done = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(seen.get('1')).toBeGreaterThan(0);
    expect(seen.get('2')).toBeGreaterThan(0);
    const index = (await (await pool.request({ method: 'POST', path: '/v2/repository/index', body: '{}', headers: { 'content-type': 'application/json' } })).body.json()) as Array<{ name: string; version: string; state: string }>;
    expect(index).toContainEqual(expect.objectContaining({ name: 'cancer', version: '1', state: 'READY' }));
  });

  it('loads a version through the repository API and records it in the audit trail', async () => {
    const res = await pool.request({ method: 'POST', path: '/v2/repository/models/cancer/load', body: JSON.stringify({ parameters: { version: '2' } }), headers: { 'content-type': 'application/json', 'x-request-id': 'load-2' } });
    expect(await res.body.json()).toEqual({ name: 'cancer', version: '2', state: 'READY' });
    const events = await t.ctx.store.db.selectFrom('audit_events').selectAll().where('action', '=', 'serving.load').execute();
    expect(events).toEqual([expect.objectContaining({ entity_type: 'served_model', entity_id: 'cancer', request_id: 'load-2' })]);
    // The main server's /metrics carries serving metrics and the process metrics.
    const metrics = await (await pool.request({ method: 'GET', path: '/metrics' })).body.text();
    expect(metrics).toMatch(/slipway_serving_requests_total\{model="cancer",version="2",protocol="v2",status="200"\} [1-9]/);
    expect(metrics).toContain('process_resident_memory_bytes');
    expect(metrics).toMatch(/slipway_serving_model_load_duration_seconds_count\{model="cancer"\} [1-9]/);
  });
});
