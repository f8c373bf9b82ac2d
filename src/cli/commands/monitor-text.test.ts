/**
 * `slipway monitor reference set --data` for a text model, against a real server on 127.0.0.1:
 * the registered version's signature shows its text input, so the file's rows go to the server,
 * which summarises the text column with the model's own tokenizer beside the table profile.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { fixture } from '../../../test/support/serving.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { parseCsv } from '../../serving/mlflow-protocol.js';
import { buildApp } from '../../server/app.js';
import type { ServerContext } from '../../server/context.js';
import { registryOf } from '../../server/native/services.js';
import { buildProgram } from '../main.js';

describe('slipway monitor reference set --data for a text model', () => {
  let app: FastifyInstance;
  let ctx: ServerContext;
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-monitor-text-cli-'));
    const onnx = fixture('text/transformer/model.onnx');
    // The fixture folder is allowed as an operator would allow a model folder: the registry reads the signature there.
    const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('breast_cancer_mlp.onnx')) }, {}, home);
    ctx = { config, store: opened.store, artifacts: new LocalArtifactStore(config.artifactsDestination), logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [] };
    app = await buildApp(ctx);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    const registry = registryOf(ctx);
    await registry.createRegisteredModel({ name: 'reviews' });
    await registry.createModelVersion({ name: 'reviews', source: onnx });
    await registry.createRegisteredModel({ name: 'other' });
    await registry.createModelVersion({ name: 'other', source: fixture('breast_cancer_mlp.onnx') });
    close = async () => {
      for (const hook of ctx.onClose) await hook();
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  async function cli(args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const before = process.exitCode;
    try {
      await buildProgram().exitOverride().parseAsync(['node', 'slipway', ...args]);
      return { code: Number(process.exitCode ?? 0), out };
    } finally {
      write.mockRestore();
      process.exitCode = before;
    }
  }

  it('sends the rows so the server summarises the text column with the model tokenizer', async () => {
    const csv = fixture('text/reviews_train.csv');
    const res = await cli(['monitor', 'reference', 'set', 'models:/reviews/1', '--data', csv, '--server', url, '--json']);
    expect(res.code).toBe(0);
    const lines = readFileSync(csv, 'utf8').trim().split('\n').length - 1;
    expect(JSON.parse(res.out)).toMatchObject({ model: 'reviews', version: '1', rows: lines });
    const ref = (await app.inject({ method: 'GET', url: '/api/v1/monitoring/models/reviews/versions/1/reference' })).json() as { source: string; profile: { columns: Array<{ name: string }>; texts: Record<string, { rows: number; texts: number; unknown: number }> } };
    expect(ref.source).toBe(csv);
    expect(ref.profile.texts.text?.rows).toBe(lines);
    expect(ref.profile.texts.text?.texts).toBe(lines);
    // The table profile is kept beside it (the label column too).
    expect(ref.profile.columns.map((c) => c.name)).toEqual(['text', 'label']);
  });

  it('lists the served windows with the text inputs that drifted', async () => {
    const drifted = parseCsv(readFileSync(fixture('text/reviews_drifted.csv'), 'utf8')).slice(1).map((r) => r[0] as string).filter((t) => t.trim() !== '');
    const res = await app.inject({ method: 'POST', url: '/v2/models/reviews/infer', payload: { inputs: [{ name: 'text', datatype: 'BYTES', shape: [drifted.length], data: drifted }] } });
    expect(res.statusCode, res.body).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/api/v1/monitoring/windows/flush', payload: {} })).statusCode).toBe(200);
    const listed = await cli(['monitor', 'windows', 'reviews', '--server', url]);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/TEXT DRIFT/);
    expect(listed.out).toMatch(new RegExp(`\\s${drifted.length}\\s.*\\stext\\s*$`, 'm'));
  });

  it('keeps a numeric model reference a table profile', async () => {
    const res = await cli(['monitor', 'reference', 'set', 'models:/other/1', '--data', fixture('breast_cancer_holdout.csv'), '--server', url, '--json']);
    expect(res.code).toBe(0);
    const ref = (await app.inject({ method: 'GET', url: '/api/v1/monitoring/models/other/versions/1/reference' })).json() as { profile: { texts?: unknown; columns: unknown[] } };
    expect(ref.profile.texts).toBeUndefined();
    expect(ref.profile.columns.length).toBe(31);
  });
});
