/**
 * Access control on the downsampled metric history routes: reading a run's chart needs READ on its
 * experiment, and the several-run route refuses the whole request when any one run is hidden.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, basicAuth, openAuthApp, type AuthApp } from '../src/server/native/access-api.test-support.js';
import { trackingOf } from '../src/server/native/services.js';
import { DIALECTS } from './support/dialects.js';

describe.each(DIALECTS)('downsampled metric history access on $name', (dialect) => {
  let t: AuthApp;
  const ids = { visible: '', hidden: '' };
  const reader = { authorization: basicAuth('reader', 'reader-password') };
  beforeAll(async () => {
    t = await openAuthApp(dialect);
    await t.access.createUser({ username: 'reader', password: 'reader-password' });
    const tracking = trackingOf(t.ctx);
    const open = await tracking.createExperiment({ name: 'open' });
    const secret = await tracking.createExperiment({ name: 'secret' });
    await t.access.setPermission({ kind: 'experiment', objectId: secret, username: 'reader', permission: 'NO_PERMISSIONS' });
    ids.visible = (await tracking.createRun({ experimentId: open })).info.runId;
    ids.hidden = (await tracking.createRun({ experimentId: secret })).info.runId;
    for (const runId of [ids.visible, ids.hidden]) {
      await tracking.logBatch(runId, { metrics: Array.from({ length: 50 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), step: i, timestamp: 1000 + i })) });
    }
  });
  afterAll(async () => t?.close());

  const get = (url: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers });

  it('lets a reader chart a run of an experiment it may read and refuses one it may not', async () => {
    const ok = await get(`/runs/${ids.visible}/metrics/loss/history/downsampled?maxPoints=20`, reader);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ total: 50, downsampled: true });
    expect((await get(`/runs/${ids.hidden}/metrics/loss/history/downsampled`, reader)).statusCode).toBe(403);
    expect((await get(`/runs/${ids.hidden}/metrics/loss/history/downsampled`, {})).statusCode).toBe(401);
    expect((await get(`/runs/${ids.hidden}/metrics/loss/history/downsampled`, { authorization: basicAuth('admin', ADMIN_PASSWORD) })).statusCode).toBe(200);
  });

  it('refuses the several-run route when any run named is hidden from the reader', async () => {
    const ok = await get(`/runs/metrics/history/downsampled?key=loss&runIds=${ids.visible}`, reader);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().histories).toHaveLength(1);
    expect((await get(`/runs/metrics/history/downsampled?key=loss&runIds=${ids.visible},${ids.hidden}`, reader)).statusCode).toBe(403);
  });
});
