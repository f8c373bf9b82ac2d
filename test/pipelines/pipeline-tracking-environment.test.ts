/** The environment tags a stage run records and how a recorded environment is judged against this machine. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureEnvironment, compareEnvironments, usesPython } from '../../src/pipelines/environment.js';
import { parsePipelineSettings, parseMetrics, flattenValues } from '../../src/pipelines/pipeline-tracking-values.js';

const BASE = { 'env.os': 'linux', 'env.arch': 'x64', 'env.node': '20.11.0', 'env.onnxruntime': '1.30.0' };

function levels(recorded: Record<string, string>, current: Record<string, string>): Record<string, string> {
  return Object.fromEntries(compareEnvironments(recorded, current).map((d) => [d.key, d.level]));
}

describe('environment capture', () => {
  const root = mkdtempSync(join(tmpdir(), 'slipway-env-capture-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('records the lock files at the workspace root by digest, and not a folder or a link that only looks like one', async () => {
    writeFileSync(join(root, 'package-lock.json'), 'a\n');
    writeFileSync(join(root, 'requirements-dev.txt'), 'pytest\n');
    writeFileSync(join(root, 'uv.lock'), 'u\n');
    mkdirSync(join(root, 'poetry.lock'));
    symlinkSync('/etc/hostname', join(root, 'Pipfile.lock'));
    writeFileSync(join(root, 'notes.txt'), 'not a lock file\n');
    const tags = await captureEnvironment({ root, python: false });
    expect(Object.keys(tags).filter((k) => k.startsWith('env.lockfile.'))).toEqual(['env.lockfile.package-lock.json', 'env.lockfile.requirements-dev.txt', 'env.lockfile.uv.lock']);
    expect(tags['env.lockfile.package-lock.json']).toBe('87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7');
    expect(tags).toMatchObject({ 'env.os': process.platform, 'env.arch': process.arch, 'env.node': process.versions.node });
    expect(tags['env.python']).toBeUndefined();
  });

  it('asks for Python only for a stage whose command or deps use it', () => {
    expect(usesPython({ cmd: 'python train.py', deps: [] })).toBe(true);
    expect(usesPython({ cmd: 'cd src && python3 -m train', deps: [] })).toBe(true);
    expect(usesPython({ cmd: 'node train.mjs', deps: ['src/features.py'] })).toBe(true);
    expect(usesPython({ cmd: 'uv run train', deps: [] })).toBe(true);
    expect(usesPython({ cmd: 'node train.mjs', deps: ['data/train.csv'] })).toBe(false);
    expect(usesPython({ cmd: 'echo pythonic', deps: [] })).toBe(false);
  });
});

describe('comparing environments', () => {
  it('makes another OS or arch, an older onnxruntime minor and another onnxruntime major errors', () => {
    expect(levels({ ...BASE, 'env.os': 'darwin', 'env.arch': 'arm64' }, BASE)).toMatchObject({ 'env.os': 'error', 'env.arch': 'error' });
    expect(levels({ ...BASE, 'env.onnxruntime': '1.31.0' }, BASE)['env.onnxruntime']).toBe('error');
    expect(levels({ ...BASE, 'env.onnxruntime': '2.0.0' }, BASE)['env.onnxruntime']).toBe('error');
    expect(levels({ ...BASE, 'env.onnxruntime': '1.29.5' }, BASE)['env.onnxruntime']).toBe('warning');
    expect(levels({ ...BASE, 'env.onnxruntime': '1.30.7' }, BASE)['env.onnxruntime']).toBe('same');
    const missing = compareEnvironments(BASE, { ...BASE, 'env.onnxruntime': undefined as unknown as string });
    expect(missing.find((d) => d.key === 'env.onnxruntime')).toMatchObject({ current: null, level: 'error', note: 'onnxruntime-node is not installed here: the model cannot be served.' });
  });

  it('warns on another Node major, another Python minor, and changed, new or missing lock files', () => {
    expect(levels({ ...BASE, 'env.node': '18.19.0' }, BASE)['env.node']).toBe('warning');
    expect(levels({ ...BASE, 'env.node': '20.1.0' }, BASE)['env.node']).toBe('same');
    expect(levels({ ...BASE, 'env.python': '3.10.4' }, { ...BASE, 'env.python': '3.11.7' })['env.python']).toBe('warning');
    expect(levels({ ...BASE, 'env.python': '3.11.2' }, { ...BASE, 'env.python': '3.11.7' })['env.python']).toBe('same');
    expect(levels({ ...BASE, 'env.python': '3.11.2' }, BASE)['env.python']).toBe('warning');
    const lock = (v: string) => ({ 'env.lockfile.uv.lock': v });
    expect(levels({ ...BASE, ...lock('a') }, { ...BASE, ...lock('b') })['env.lockfile.uv.lock']).toBe('warning');
    expect(levels({ ...BASE, ...lock('a') }, { ...BASE, ...lock('a') })['env.lockfile.uv.lock']).toBe('same');
    expect(compareEnvironments(BASE, { ...BASE, ...lock('a') }).at(-1)).toMatchObject({ key: 'env.lockfile.uv.lock', recorded: null, level: 'warning' });
    expect(compareEnvironments({ ...BASE, ...lock('a') }, BASE).at(-1)).toMatchObject({ key: 'env.lockfile.uv.lock', current: null, level: 'warning', note: 'uv.lock was present when the model was built but is not here.' });
    // Facts the run never recorded are not compared.
    expect(compareEnvironments({ 'env.os': 'linux' }, BASE).map((d) => d.key)).toEqual(['env.os']);
  });
});

describe('pipeline settings and metrics files', () => {
  it("reads pipeline.experiment, defaults to 'pipeline', and names a wrong key or type", () => {
    expect(parsePipelineSettings('stages: {}\n', 'slipway.yaml')).toEqual({ experiment: 'pipeline' });
    expect(parsePipelineSettings('pipeline:\n  experiment: churn\n', 'slipway.yaml')).toEqual({ experiment: 'churn' });
    expect(() => parsePipelineSettings('pipeline:\n  experimnet: churn\n', 'slipway.yaml')).toThrow("slipway.yaml:2:3: pipeline.experimnet: unknown key 'experimnet'; use experiment.");
    expect(() => parsePipelineSettings('pipeline:\n  experiment: [a]\n', 'slipway.yaml')).toThrow('slipway.yaml:2:3: pipeline.experiment: must be a non-empty experiment name.');
    expect(() => parsePipelineSettings('pipeline: training\n', 'slipway.yaml')).toThrow("slipway.yaml:1:1: pipeline: must be a mapping");
  });

  it('keeps the numbers of a JSON or YAML metrics file under dotted keys', () => {
    expect(parseMetrics('{"acc": 0.9, "eval": {"auc": 0.95, "label": "x"}, "ok": true}', 'm.json')).toEqual({ acc: 0.9, 'eval.auc': 0.95 });
    expect(parseMetrics('acc: 0.9\nper_class:\n  a: {f1: 0.8}\n', 'm.yaml')).toEqual({ acc: 0.9, 'per_class.a.f1': 0.8 });
    expect(() => parseMetrics('[1, 2]', 'm.json')).toThrow('Metrics file m.json must hold a mapping of names to numbers.');
    expect(() => parseMetrics('{"acc": ', 'm.json')).toThrow(/^Metrics file m\.json is neither JSON nor YAML/);
    expect(flattenValues({ train: { lr: 0.1, layers: [8, 4] } })).toEqual({ 'train.lr': 0.1, 'train.layers': [8, 4] });
  });
});
