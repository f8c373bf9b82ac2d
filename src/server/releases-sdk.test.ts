import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { silentLogger } from '../core/logger.js';
import { openInProcessApi, type InProcessApi } from './in-process-api.js';
import { SlipwayClient } from '../client/index.js';

const ONNX = readFileSync(new URL('../../test/fixtures/breast_cancer_mlp.onnx', import.meta.url));

describe('SDK releases', () => {
  let home: string;
  let api: InProcessApi;
  let client: SlipwayClient;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-sdk-rel-'));
    api = await openInProcessApi(resolveConfig({ home }, {}, home), { logger: silentLogger, plugins: ['native-api', 'releases'] });
    client = new SlipwayClient({ url: api.url, fetch: api.fetch });
    const stored = await client.artifacts.put('models/bc/model.onnx', ONNX);
    await client.models.create({ name: 'sdk' });
    await client.models.createVersion('sdk', { source: stored.uri.replace(/\/model\.onnx$/, '') });
    await client.models.createVersion('sdk', { source: stored.uri.replace(/\/model\.onnx$/, '') });
    await client.models.setAlias('sdk', 'champion', '1');
  });
  afterAll(async () => {
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('creates, waits for approval, approves, waits for promotion and rolls back', async () => {
    await client.releases.putPolicy('sdk', 'champion', { gates: [{ kind: 'approval' }] });
    expect((await client.releases.listPolicies('sdk')).map((p) => p.environment)).toEqual(['champion']);
    const created = await client.releases.create({ model: 'sdk', version: '2', environment: 'champion', requestedBy: 'ana' });
    const seen: string[] = [];
    const waiting = await client.releases.wait(created.id, { intervalMs: 20, onChange: (r) => seen.push(r.state) });
    expect(waiting.state).toBe('awaiting_approval');
    await expect(client.releases.approve(created.id, { by: 'ana' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED', status: 403 });
    await client.releases.approve(created.id, { by: 'ben' });
    const done = await client.releases.wait(created.id, { intervalMs: 20 });
    expect(done.state).toBe('promoted');
    expect(seen.at(-1)).toBe('awaiting_approval');
    const all = [];
    for await (const r of client.releases.listAll({ model: 'sdk', maxResults: 1 })) all.push(r.id);
    expect(all).toEqual([created.id]);
    expect(await client.releases.rollback('sdk', { environment: 'champion' })).toMatchObject({ version: '1', previousVersion: '2', releaseId: created.id });
    await client.releases.deletePolicy('sdk', 'champion');
    await expect(client.releases.getPolicy('sdk', 'champion')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
