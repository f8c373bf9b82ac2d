/**
 * The releases plugin inside a command-line process (the in-process API on the embedded store):
 * it leaves unfinished releases to `slipway server` (no recovery), still drives the direct
 * releases it creates itself, and refuses live strategies with a message saying why.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../src/artifacts/local-artifact-store.js';
import { resolveConfig } from '../src/config.js';
import { silentLogger } from '../src/core/logger.js';
import { buildApp } from '../src/server/app.js';
import type { ServerContext } from '../src/server/context.js';
import { openInProcessApi, type InProcessApi } from '../src/server/in-process-api.js';
import { openStore } from '../src/store/store.js';
import { freshSqliteFile } from './support/dialects.js';
import { fixture } from './support/serving.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(api: InProcessApi, method: string, path: string, body?: unknown): Promise<Json> {
  const res = await api.fetch(`${api.url}/api/v1${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  return { ...(text ? (JSON.parse(text) as Json) : {}), http: res.status };
}

async function settled(api: InProcessApi, id: string): Promise<Json> {
  for (let i = 0; i < 200; i++) {
    const r = await call(api, 'GET', `/releases/${id}`);
    if (['promoted', 'rejected', 'rolled_back', 'aborted'].includes(r.state)) return r;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`release ${id} did not settle`);
}

describe('releases in an embedded command-line process', () => {
  it('drives its own direct release, refuses a canary, and leaves a server’s unfinished rollout alone', async () => {
    const f = freshSqliteFile();
    try {
      const config = resolveConfig({ backendStoreUri: f.uri, home: f.dir }, {}, f.dir);
      const open = () => openInProcessApi(config, { logger: silentLogger, plugins: ['native-api', 'releases'] });
      let cli = await open();
      await new LocalArtifactStore(config.artifactsDestination).put('models/m/model.onnx', readFileSync(fixture('breast_cancer_mlp.onnx')));
      await call(cli, 'POST', '/models', { name: 'm' });
      for (let v = 0; v < 3; v++) expect((await call(cli, 'POST', '/models/m/versions', { source: 'mlflow-artifacts:/models/m' })).http).toBe(201);
      await call(cli, 'PUT', '/models/m/aliases/champion', { version: '1' });

      const direct = await call(cli, 'POST', '/releases', { model: 'm', version: '2', environment: 'champion' });
      expect((await settled(cli, direct.id)).state).toBe('promoted');
      expect((await call(cli, 'GET', '/models/m/aliases/champion')).version).toBe('2');

      const canary = await call(cli, 'POST', '/releases', { model: 'm', version: '3', environment: 'champion', policy: { strategy: { kind: 'canary' } } });
      expect(canary.http).toBe(400);
      expect(canary.error.message).toMatch(/The canary strategy steers live traffic, so it needs `slipway server` serving models:\/m@champion; this command runs on the embedded store, where no model is served/);

      // A rollout a server is driving: state rolling_out in the shared store.
      const held = await call(cli, 'POST', '/releases', { model: 'm', version: '3', environment: 'champion', policy: { gates: [{ kind: 'approval' }] } });
      expect(held.http).toBe(201);
      await cli.close();
      const store = await openStore(f.uri);
      await store.db.updateTable('releases').set({ state: 'rolling_out', rollout: JSON.stringify({ step: 0, weight: 10, failures: 0, analyses: [] }) }).where('id', '=', held.id).execute();
      await store.close();

      // Another command opens the store: the rollout is not touched.
      cli = await open();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await call(cli, 'GET', `/releases/${held.id}`)).state).toBe('rolling_out');
      await cli.close();

      // A server opening the same store recovers it (rolls back by default).
      const serverStore = await openStore(f.uri);
      const ctx: ServerContext = { config, store: serverStore, artifacts: new LocalArtifactStore(config.artifactsDestination), logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [] };
      const app = await buildApp(ctx, { plugins: ['native-api', 'releases'] });
      await app.ready();
      try {
        let state = '';
        for (let i = 0; i < 100 && state !== 'rolled_back'; i++) {
          state = (await app.inject({ method: 'GET', url: `/api/v1/releases/${held.id}` })).json<Json>().state as string;
          if (state !== 'rolled_back') await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(state).toBe('rolled_back');
      } finally {
        await app.close();
        for (const hook of ctx.onClose) await hook();
        await serverStore.close();
      }
    } finally {
      f.drop();
    }
  });
});
