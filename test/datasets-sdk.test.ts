/**
 * The SDK's datasets section against a server listening on 127.0.0.1: registration tells a new
 * version from an existing one, errors arrive as SlipwayApiError with the catalogued code, pages
 * iterate, and concurrent registrations of one content end as one version on both stores.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient, type RegisterDatasetBody } from '../src/client/index.js';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { DIALECTS } from './support/dialects.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const body = (content: string): RegisterDatasetBody => ({ digest: sha(content), kind: 'file', files: 1, bytes: content.length, source: `${content}.csv` });

describe('SDK datasets over HTTP', () => {
  let t: TestApp;
  let client: SlipwayClient;
  beforeAll(async () => {
    t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    client = new SlipwayClient({ url: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}` });
  });
  afterAll(async () => t?.close());

  it('registers, answers the existing version for the same content, lists every page, logs an input and deletes', async () => {
    const first = await client.datasets.register('events', body('monday'));
    expect(first).toMatchObject({ name: 'events', version: 1, created: true, uri: 'slipway-dataset:/events/1' });
    expect(await client.datasets.register('events', body('monday'))).toMatchObject({ version: 1, created: false });
    expect((await client.datasets.register('events', body('tuesday'))).version).toBe(2);
    for (const n of ['a', 'b', 'c']) await client.datasets.register(`more-${n}`, body(n));

    const names: string[] = [];
    for await (const d of client.datasets.listAll({ maxResults: 2 })) names.push(`${d.name}@${d.latest.version}`);
    expect(names).toEqual(['events@2', 'more-a@1', 'more-b@1', 'more-c@1']);
    expect((await client.datasets.get('events')).version).toBe(2);
    expect((await client.datasets.listVersions('events')).versions.map((v) => v.version)).toEqual([2, 1]);

    const run = await client.runs.create({ runName: 'reader' });
    const input = await client.datasets.logInput(run.info.runId, 'events', 'latest', 'evaluation');
    expect(input.dataset).toMatchObject({ name: 'events', sourceType: 'slipway', source: '{"uri":"slipway-dataset:/events/2"}' });
    const logged = await client.runs.get(run.info.runId);
    expect(logged.inputs.datasetInputs[0]?.tags).toEqual([{ key: 'mlflow.data.context', value: 'evaluation' }]);
    expect((await client.datasets.lineage('events', 2)).runs.map((r) => r.runId)).toEqual([run.info.runId]);

    await expect(client.datasets.delete('events', 2)).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
    await client.datasets.delete('events', 2, { force: true });
    await expect(client.datasets.get('events', 2)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await expect(client.datasets.register('events', { ...body('x'), digest: 'XYZ' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
  });
});

describe.each(DIALECTS)('concurrent registrations on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
  });
  afterAll(async () => t?.close());

  it('ends with one version for one content and distinct numbers for distinct contents', async () => {
    const post = (content: string) => t.app.inject({ method: 'POST', url: '/api/v1/datasets/race/versions', payload: body(content) });
    const same = await Promise.all(Array.from({ length: 6 }, () => post('same')));
    expect(same.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(same.map((r) => r.json().version))).toEqual(new Set([1]));
    const distinct = await Promise.all(['p', 'q', 'r', 's'].map(post));
    expect(distinct.map((r) => r.json().version).sort()).toEqual([2, 3, 4, 5]);
  });
});
