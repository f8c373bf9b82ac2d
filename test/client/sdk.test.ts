import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { DIALECTS } from '../support/dialects.js';
import { FileModelSource, fixture, holdout } from '../support/serving.js';
import { openTestApp, type TestApp } from '../../src/server/native/native-api.test-support.js';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildApp } from '../../src/server/app.js';
import type { ServerContext } from '../../src/server/context.js';
import { SlipwayApiError, SlipwayClient, isSlipwayApiError } from '../../src/client/index.js';

describe('SlipwayClient against a real server on 127.0.0.1', () => {
  let t: TestApp;
  let client: SlipwayClient;
  let url: string;
  beforeAll(async () => {
    t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    client = new SlipwayClient({ url });
    await t.ctx.artifacts?.put('models/forest/model.onnx', readFileSync(new URL('../../test/fixtures/diabetes_forest.onnx', import.meta.url)));
  });
  afterAll(() => t.close());

  it('tracks an experiment end to end: create, run, log, search, history', async () => {
    const exp = await client.experiments.create({ name: 'diabetes', tags: { team: 'health' } });
    expect(await client.experiments.getByName('diabetes')).toEqual(exp);
    const nested = await client.experiments.create({ name: '/Users/ana/fraud detection' });
    expect((await client.experiments.getByName('/Users/ana/fraud detection')).experimentId).toBe(nested.experimentId);
    const run = await client.runs.create({ experimentId: exp.experimentId, runName: 'forest-50' });
    await client.runs.log(run.info.runId, {
      params: { trees: '50' },
      metrics: [
        { key: 'rmse', value: 60.5, step: 0 },
        { key: 'rmse', value: 55.25, step: 1 },
        { key: 'r2', value: 'NaN' },
      ],
    });
    await client.runs.update(run.info.runId, { status: 'FINISHED' });
    const page = await client.runs.search({ experimentIds: [exp.experimentId], filter: "metrics.rmse < 56 and params.trees = '50'" });
    expect(page.runs.map((r) => r.info.runName)).toEqual(['forest-50']);
    expect(page.runs[0]?.info.status).toBe('FINISHED');
    expect(page.runs[0]?.data.metrics).toContainEqual(expect.objectContaining({ key: 'r2', value: 'NaN' }));
    const history = await client.runs.metricHistory(run.info.runId, 'rmse');
    expect(history.metrics.map((m) => m.value)).toEqual([60.5, 55.25]);
  });

  it('iterates every page of a search', async () => {
    const exp = await client.experiments.create({ name: 'paging' });
    for (let i = 0; i < 5; i++) await client.runs.create({ experimentId: exp.experimentId, runName: `r${i}`, startTime: 1_000 + i });
    const names: string[] = [];
    for await (const run of client.runs.searchAll({ experimentIds: [exp.experimentId], maxResults: 2 })) names.push(run.info.runName);
    expect(names).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
    const experiments: string[] = [];
    for await (const e of client.experiments.listAll({ maxResults: 1, orderBy: 'name ASC' })) experiments.push(e.name);
    expect(experiments).toEqual(expect.arrayContaining(['Default', 'paging']));
    const seqs: number[] = [];
    for await (const e of client.audit.eventsAll({ limit: 2 })) seqs.push(e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThan(5);
  });

  it('registers a model version with its signature, moves an alias and audits it', async () => {
    await client.models.create({ name: 'diabetes-forest' });
    const v = await client.models.createVersion('diabetes-forest', { source: 'mlflow-artifacts:/models/forest' });
    expect(v.signature?.inputs[0]).toMatchObject({ name: 'features', type: 'float32' });
    expect(v.signature?.outputs[0]).toMatchObject({ name: 'prediction' });
    expect((await client.models.setAlias('diabetes-forest', 'champion', v.version)).aliases).toEqual(['champion']);
    expect((await client.models.getByAlias('diabetes-forest', 'champion')).version).toBe(v.version);
    expect((await client.models.transitionStage('diabetes-forest', 1, { stage: 'Staging' })).currentStage).toBe('Staging');
    expect((await client.models.listVersions('diabetes-forest')).versions).toHaveLength(1);
    const events = await client.audit.events({ entityType: 'registered_model', entityId: 'diabetes-forest' });
    expect(events.events.map((e) => e.action)).toEqual(['registered_model.create', 'registered_model.set_alias']);
    expect(await client.audit.verify()).toMatchObject({ ok: true, problems: [] });
    expect((await client.health()).status).toBe('ok');
    expect((await client.openApi()).openapi).toBe('3.1.0');
  });

  it('deletes a version and a model; getting them afterwards throws NOT_FOUND', async () => {
    await client.models.create({ name: 'to-delete' });
    const v1 = await client.models.createVersion('to-delete', { source: 'mlflow-artifacts:/models/forest' });
    await client.models.createVersion('to-delete', { source: 'mlflow-artifacts:/models/forest' });
    await expect(client.models.deleteVersion('to-delete', Number(v1.version))).resolves.toBeUndefined();
    await expect(client.models.getVersion('to-delete', v1.version)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect((await client.models.listVersions('to-delete')).versions.map((v) => v.version)).toEqual(['2']);
    await expect(client.models.delete('to-delete')).resolves.toBeUndefined();
    await expect(client.models.get('to-delete')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404, message: expect.stringContaining('to-delete') });
    await expect(client.models.delete('to-delete')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it("uploads a run's file of a few MB from a stream, lists it, and streams it back to disk byte for byte", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-sdk-'));
    try {
      const source = join(dir, 'weights.bin');
      const data = randomBytes(5 * 1024 * 1024 + 17);
      writeFileSync(source, data);
      const digest = createHash('sha256').update(data).digest('hex');
      const run = await client.runs.create({ runName: 'with-artifacts' });
      const runId = run.info.runId;

      const stored = await client.artifacts.upload(runId, 'model/weights.bin', Readable.toWeb(createReadStream(source)) as ReadableStream<Uint8Array>);
      expect(stored).toEqual({ path: 'model/weights.bin', size: data.length, sha256: digest });
      await client.artifacts.upload(runId, 'notes.txt', 'trained on 2024-05 data');
      await client.artifacts.upload(runId, 'model/config.json', new Blob(['{"threshold":0.5}'], { type: 'application/json' }));

      expect(await client.artifacts.list(runId)).toEqual({
        rootUri: run.info.artifactUri,
        files: [{ path: 'model', isDir: true }, { path: 'notes.txt', isDir: false, size: 23 }],
      });
      expect((await client.artifacts.list(runId, 'model')).files.map((f) => [f.path, f.size])).toEqual([['model/config.json', 17], ['model/weights.bin', data.length]]);

      const download = await client.artifacts.download(runId, 'model/weights.bin');
      expect(download).toMatchObject({ size: data.length, contentType: 'application/octet-stream', etag: `"${digest}"` });
      const target = join(dir, 'copy.bin');
      await pipeline(Readable.fromWeb(download.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(target));
      expect(readFileSync(target).equals(data)).toBe(true);
      const notes = await client.artifacts.download(runId, 'notes.txt');
      expect(await new Response(notes.body).text()).toBe('trained on 2024-05 data');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores a model file, registers it by the returned URI with its signature, and gets it back', async () => {
    const onnx = readFileSync(new URL('../../test/fixtures/diabetes_forest.onnx', import.meta.url));
    const stored = await client.artifacts.put('models/0f8e2c1d/model.onnx', new Uint8Array(onnx));
    expect(stored).toEqual({ path: 'models/0f8e2c1d/model.onnx', size: onnx.length, sha256: createHash('sha256').update(onnx).digest('hex'), uri: 'mlflow-artifacts:/models/0f8e2c1d/model.onnx' });
    await client.models.create({ name: 'uploaded-forest' });
    const v = await client.models.createVersion('uploaded-forest', { source: stored.uri });
    expect(v).toMatchObject({ status: 'READY', source: stored.uri, signature: { format: 'onnx', inputs: [expect.objectContaining({ name: 'features', type: 'float32' })] } });
    const back = await client.artifacts.get('models/0f8e2c1d/model.onnx');
    expect(Buffer.from(await new Response(back.body).arrayBuffer()).equals(onnx)).toBe(true);
  });

  it('lets a caller cancel a download it no longer needs, before or after the first chunk, without an error', async () => {
    const data = new Uint8Array(3 * 1024 * 1024).fill(7);
    await client.artifacts.put('releases/holdouts/cancel-me.bin', data);
    const unread = await client.artifacts.get('releases/holdouts/cancel-me.bin');
    expect(unread.size).toBe(data.length);
    await unread.body.cancel();
    const started = await client.artifacts.get('releases/holdouts/cancel-me.bin');
    const reader = started.body.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await reader.cancel();
    // The connection is free again: the next call answers.
    expect((await client.health()).status).toBeDefined();
  });

  it('answers missing files, unknown runs and paths that climb out with SlipwayApiError', async () => {
    const runId = (await client.runs.create({})).info.runId;
    await expect(client.artifacts.download(runId, 'absent.bin')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404, message: expect.stringContaining("'absent.bin'") });
    await expect(client.artifacts.get('models/none/model.onnx')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    const unknown = 'f'.repeat(32);
    await expect(client.artifacts.upload(unknown, 'a.txt', 'x')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404, message: expect.stringContaining(unknown) });
    await expect(client.artifacts.list(unknown)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    for (const path of ['../escape.txt', 'a/../../escape.txt', '/etc/passwd', '%2e%2e/escape.txt', '..%2fescape.txt', 'a\\..\\b']) {
      await expect(client.artifacts.upload(runId, path, 'x'), path).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED', status: 400, message: expect.stringContaining('is not allowed') });
      await expect(client.artifacts.get(path), path).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED', status: 400 });
      await expect(client.artifacts.put(path, 'x'), path).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED', status: 400 });
    }
    await expect(client.artifacts.list(runId, '../..')).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED', status: 400 });
    expect((await client.artifacts.list(runId)).files).toEqual([]);
  });

  it('gives up on an upload whose stream stalls, keeping nothing of it', async () => {
    const runId = (await client.runs.create({})).info.runId;
    let sent = 0;
    const stalling = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Two chunks, then nothing ever again.
        if (sent++ < 2) controller.enqueue(new Uint8Array(64 * 1024));
        else return new Promise<void>(() => {});
      },
    });
    const started = Date.now();
    await expect(client.artifacts.upload(runId, 'stalled.bin', stalling, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('no progress within 500 ms') });
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(client.artifacts.download(runId, 'stalled.bin')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const cancelled = new AbortController();
    const pending = client.artifacts.upload(runId, 'cancelled.bin', new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}) }), { signal: cancelled.signal });
    cancelled.abort(new Error('stopped by the user'));
    await expect(pending).rejects.toThrow('stopped by the user');
  });

  it('reads the audit head, which verify then checks; a wrong expected head is reported', async () => {
    await client.experiments.create({ name: 'audited' });
    const head = await client.audit.head();
    const all: Array<Record<string, unknown> & { seq: number; hash: string }> = [];
    for await (const e of client.audit.eventsAll({ limit: 50 })) all.push(e);
    const last = all.at(-1);
    expect(head).toEqual({ seq: last?.seq, hash: last?.hash });
    // Events use the API's camelCase names.
    expect(Object.keys(last ?? {}).sort()).toEqual(['action', 'actor', 'changeDigest', 'entityId', 'entityType', 'hash', 'keyId', 'mac', 'prevHash', 'requestId', 'seq', 'states', 'time']);

    expect(await client.audit.verify({ expectHead: [`${head.seq}:${head.hash}`] })).toMatchObject({ ok: true, checkpoints: 1, problems: [] });
    const forged = await client.audit.verify({ expectHead: [`${head.seq}:${'f'.repeat(64)}`] });
    expect(forged.ok).toBe(false);
    expect(forged.problems).toEqual([expect.objectContaining({ seq: head.seq, kind: 'checkpoint-mismatch' })]);
    await expect(client.audit.verify({ expectHead: ['not-a-head'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400, message: expect.stringContaining('expectHead') });

    const created = await client.audit.events({ entityType: 'experiment', action: 'experiment.create', actor: 'anonymous', after: 0, limit: 1000 });
    expect(created.events.length).toBeGreaterThan(0);
    expect(created.events.every((e) => e.entityType === 'experiment' && e.action === 'experiment.create' && e.actor === 'anonymous')).toBe(true);
    const audited = created.events.find((e) => e.seq === head.seq);
    expect(audited).toBeDefined();
    expect(await client.audit.events({ entityId: audited?.entityId, after: head.seq })).toEqual({ events: [] });
  });

  it('throws SlipwayApiError with the code, status and message the server sent', async () => {
    const notFound = await client.runs.get('0'.repeat(32)).catch((e: unknown) => e);
    expect(isSlipwayApiError(notFound)).toBe(true);
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', status: 404, message: expect.stringContaining('0'.repeat(32)) });
    expect((notFound as SlipwayApiError).requestId).toBeTypeOf('string');
    const invalid = await client.experiments.create({ name: '' }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400, details: { issues: [expect.objectContaining({ path: 'name' })] } });
  });

  it('reports an unreachable server and a bad URL as SlipwayApiError', async () => {
    const dead = new SlipwayClient({ url: 'http://127.0.0.1:9', timeoutMs: 2_000 });
    await expect(dead.health()).rejects.toMatchObject({ name: 'SlipwayApiError', code: 'UNAVAILABLE', status: 0 });
    expect(() => new SlipwayClient({ url: 'not a url' })).toThrow(/Invalid server URL 'not a url'/);
  });

  it('sends the token as a bearer credential through an injected fetch', async () => {
    const seen: string[] = [];
    const spyFetch: typeof fetch = (input, init) => {
      seen.push(new Headers(init?.headers).get('authorization') ?? '');
      return fetch(input, init);
    };
    const authed = new SlipwayClient({ url, token: 's3cret', fetch: spyFetch });
    await authed.experiments.get('0');
    expect(seen).toEqual(['Bearer s3cret']);
  });

  it('sends a username and password as HTTP Basic credentials, the token taking precedence', async () => {
    const seen: string[] = [];
    const spyFetch: typeof fetch = (input, init) => {
      seen.push(new Headers(init?.headers).get('authorization') ?? '(none)');
      return fetch(input, init);
    };
    await new SlipwayClient({ url, username: 'ana', password: 'pä:ss', fetch: spyFetch }).experiments.get('0');
    await new SlipwayClient({ url, username: 'ana', password: 'pw', token: 't0k', fetch: spyFetch }).experiments.get('0');
    // As the MLflow client: a username without a password (or the reverse) sends nothing.
    await new SlipwayClient({ url, username: 'ana', fetch: spyFetch }).experiments.get('0');
    await new SlipwayClient({ url, username: '', password: 'pw', fetch: spyFetch }).experiments.get('0');
    // Streamed transfers carry the same credentials.
    const runId = (await client.runs.create({})).info.runId;
    await new SlipwayClient({ url, username: 'ana', password: 'pw', fetch: spyFetch }).artifacts.upload(runId, 'a.txt', 'x');
    expect(seen).toEqual([`Basic ${Buffer.from('ana:pä:ss', 'utf8').toString('base64')}`, 'Bearer t0k', '(none)', '(none)', `Basic ${Buffer.from('ana:pw').toString('base64')}`]);
  });
});

describe('SlipwayClient monitoring labels against a server serving a model', () => {
  let app: FastifyInstance;
  let url: string;
  let close: () => Promise<void>;
  const data = holdout('breast_cancer');

  beforeAll(async () => {
    const opened = await (DIALECTS[0] as (typeof DIALECTS)[number]).open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-sdk-labels-'));
    // The fixture model lives outside the artifact store: allow its folder, as an operator would.
    const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('breast_cancer_mlp.onnx')) }, {}, home);
    const source = new FileModelSource().add('bc', '1', fixture('breast_cancer_mlp.onnx'));
    source.columns = data.columns;
    // Serving loads the models the source lists (by alias) at start-up.
    source.setAlias('bc', 'prod', '1');
    const ctx: ServerContext = { config, store: opened.store, logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [], modelSource: source };
    app = await buildApp(ctx);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = async () => {
      await app.close();
      for (const hook of ctx.onClose) await hook();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  it('sends late labels by request id and reports the ids with no prediction', async () => {
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${url}/v2/models/bc/ready`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const [i, requestId] of ['pred-a', 'pred-b'].entries()) {
      const rows = data.rows.slice(i * 3, i * 3 + 3);
      const res = await fetch(`${url}/v2/models/bc/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }] }),
      });
      expect(res.status).toBe(200);
    }
    const client = new SlipwayClient({ url });
    const result = await client.monitoring.sendGroundTruth('bc', [
      { requestId: 'pred-a', labels: [1, 0, 1] },
      { requestId: 'pred-b', labels: [0, 0, 1] },
      { requestId: 'never-served', label: 1 },
    ]);
    expect(result).toEqual({ accepted: 2, unknown: ['never-served'] });
    const invalid = await client.monitoring.sendGroundTruth('bc', [{ requestId: 'pred-a', label: 'cat' }]).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ name: 'SlipwayApiError', code: 'INVALID_ARGUMENT', status: 400, message: expect.stringContaining('labels[0]') });
  });
});
