/**
 * Model control and model sources on the inference face: the repository load/unload
 * API is off unless the operator turns it on, an ad-hoc load never changes readiness,
 * and model files are read only from the allowed folders (symbolic links resolved).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFileAllowList } from '../../artifacts/model-file-allow-list.js';
import { brokenFile, fixture, holdout, servingApp, type ServingHarness } from '../../../test/support/serving.js';

const cancer = holdout('breast_cancer');
const root = mkdtempSync(join(tmpdir(), 'slipway-model-control-'));
const allowed = join(root, 'allowed');
const outside = join(root, 'outside');
mkdirSync(allowed);
mkdirSync(outside);
copyFileSync(fixture('breast_cancer_mlp.onnx'), join(allowed, 'cancer.onnx'));
copyFileSync(fixture('breast_cancer_mlp.onnx'), join(outside, 'cancer.onnx'));
writeFileSync(join(allowed, 'broken.onnx'), 'not an onnx model');
// A link inside the allowed folder that leads outside it.
symlinkSync(join(outside, 'cancer.onnx'), join(allowed, 'escape.onnx'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const infer = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] };

describe('the repository load/unload API is off by default', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp();
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns);
  });
  afterAll(() => h.close());

  it('refuses load and unload with 403 naming the flag, and keeps the index readable', async () => {
    const load = await h.app.inject({ method: 'POST', url: '/v2/repository/models/x/load', payload: { parameters: { uri: '/nowhere/model.onnx' } } });
    expect(load.statusCode).toBe(403);
    expect(load.json().error).toMatch(/--model-control explicit/);
    const unload = await h.app.inject({ method: 'POST', url: '/v2/repository/models/cancer/unload', payload: {} });
    expect(unload.statusCode).toBe(403);
    expect(unload.json().error).toMatch(/--model-control explicit/);
    expect(h.manager.has('x')).toBe(false);
    expect((await h.app.inject({ method: 'POST', url: '/v2/models/cancer/infer', payload: infer })).statusCode).toBe(200);
    const index = await h.app.inject({ method: 'POST', url: '/v2/repository/index', payload: {} });
    expect(index.statusCode).toBe(200);
    expect(index.json()).toEqual([{ name: 'cancer', version: '1', state: 'READY', reason: '' }]);
    expect((await h.app.inject('/v2/health/ready')).statusCode).toBe(200);
  });
});

describe('with --model-control explicit', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp({}, undefined, { modelControl: 'explicit', modelFiles: new ModelFileAllowList({ dirs: [allowed, fixture('')] }) });
    const status = await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns, { required: true });
    expect(status.state).toBe('READY');
  });
  afterAll(() => h.close());

  const load = (name: string, uri: string) => h.app.inject({ method: 'POST', url: `/v2/repository/models/${name}/load`, payload: { parameters: { uri } } });

  it('stays ready after an ad-hoc load fails', async () => {
    expect((await h.app.inject('/v2/health/ready')).statusCode).toBe(200);
    const bad = await load('x', join(allowed, 'broken.onnx'));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/not a valid ONNX model/);
    const missing = await load('y', join(allowed, 'missing.onnx'));
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatch(/file not found/);
    const ready = await h.app.inject('/v2/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
  });

  it('refuses a model file outside the allowed folders, naming the rule, and stays ready', async () => {
    const res = await load('outside', join(outside, 'cancer.onnx'));
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatch(/only inside the artifact store or a folder allowed by --model-source-allowed-dirs/);
    expect((await h.app.inject('/v2/health/ready')).statusCode).toBe(200);
  });

  it('refuses a symbolic link in an allowed folder that points outside it', async () => {
    const res = await load('escape', join(allowed, 'escape.onnx'));
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatch(/symbolic link/);
  });

  it('refuses a path that climbs out of an allowed folder', async () => {
    const res = await load('climb', `${allowed}/../outside/cancer.onnx`);
    expect(res.statusCode).toBe(403);
  });

  it('loads, serves and unloads a model from an allowed folder', async () => {
    const res = await load('allowed', join(allowed, 'cancer.onnx'));
    expect(res.json()).toMatchObject({ name: 'allowed', state: 'READY' });
    expect((await h.app.inject({ method: 'POST', url: '/v2/models/allowed/infer', payload: infer })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/v2/repository/models/allowed/unload', payload: {} })).statusCode).toBe(200);
    expect((await h.app.inject('/v2/health/ready')).statusCode).toBe(200);
  });

  it('turns not ready when a model it was started with cannot serve', async () => {
    const other = await servingApp({}, undefined, { modelControl: 'explicit' });
    try {
      const status = await other.manager.load('broken', brokenFile(), undefined, { required: true });
      expect(status.state).toBe('UNAVAILABLE');
      expect((await other.app.inject('/v2/health/ready')).statusCode).toBe(503);
    } finally {
      await other.close();
    }
  });
});

describe('a model file loaded directly', () => {
  it('is refused outside the allowed folders without being read', async () => {
    const h = await servingApp({}, undefined, { modelFiles: new ModelFileAllowList({ dirs: [allowed] }) });
    try {
      const status = await h.manager.load('passwd', '/etc/passwd');
      expect(status.state).toBe('UNAVAILABLE');
      expect(status.reason).toMatch(/not allowed: serving reads model files only inside the artifact store/);
      expect(status.reason).not.toMatch(/ONNX/);
    } finally {
      await h.close();
    }
  });

  it('is accepted when an operator named exactly that file', async () => {
    const h = await servingApp({}, undefined, { modelFiles: new ModelFileAllowList({ dirs: [allowed], files: [join(outside, 'cancer.onnx')] }) });
    try {
      expect((await h.manager.load('named', join(outside, 'cancer.onnx'))).state).toBe('READY');
    } finally {
      await h.close();
    }
  });
});
