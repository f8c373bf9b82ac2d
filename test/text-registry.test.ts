/**
 * Registering a text model with the built CLI stores its tokenizer and text settings beside
 * the ONNX file; the version's signature shows the text its users send, and `slipway serve`
 * serves it from the registry with the tokenizer in front of the graph.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli, tempHome } from './support/cli.js';
import { servedAddress } from './support/serve-process.js';
import { fixture } from './support/serving.js';

const MODEL = fixture('text/transformer/model.onnx');

describe('registering and serving a text model', () => {
  const home = tempHome('slipway-text-registry');
  const env = { SLIPWAY_HOME: home };
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.kill('SIGTERM')));

  it('stores tokenizer.json and text-model.json beside the ONNX file, and the signature shows the text input', async () => {
    const reg = await runCli(['models', 'register', MODEL, '--name', 'reviews', '--alias', 'champion', '--json'], env);
    expect(reg.code, reg.stderr).toBe(0);
    const v = JSON.parse(reg.stdout);
    expect(v.signature.inputs).toEqual([{ name: 'text', type: 'string', shape: ['batch'] }]);
    expect(v.signature.outputs.map((o: { name: string }) => o.name)).toEqual(['logits', 'labels', 'scores']);
    expect(v.signature.text).toMatchObject({ tokenizer: 'tokenizer.json', model: 'WordPiece', maxLength: 64, truncation: true, padding: 'longest', labels: ['negative', 'neutral', 'positive'], topK: 3 });
    expect(v.signature.text.graphInputs.map((i: { name: string }) => i.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    const folder = (v.storageLocation as string).replace(/^mlflow-artifacts:\//, '').replace(/\/model\.onnx$/, '');
    const stored = await runCli(['artifacts', 'list', folder], env);
    expect(stored.code, stored.stderr).toBe(0);
    for (const name of ['model.onnx', 'tokenizer.json', 'text-model.json']) expect(stored.stdout).toContain(name);
    const human = await runCli(['models', 'show', 'reviews', '--version', '1'], env);
    expect(human.stdout).toMatch(/signature:\s+text string \[batch\] -> logits float32 \[batch,3\], labels string \[batch,3\], scores float32 \[batch,3\]/);
  });

  it('takes the tokenizer and settings from other paths with --tokenizer and --text-config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-text-files-'));
    copyFileSync(MODEL, join(dir, 'classifier.onnx'));
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ max_length: 32, labels: ['neg', 'mid', 'pos'], top_k: 1 }));
    const reg = await runCli(['models', 'register', join(dir, 'classifier.onnx'), '--name', 'reviews', '--tokenizer', fixture('text/transformer/tokenizer.json'), '--text-config', join(dir, 'settings.json'), '--json'], env);
    expect(reg.code, reg.stderr).toBe(0);
    expect(JSON.parse(reg.stdout).signature.text).toMatchObject({ maxLength: 32, truncation: false, labels: ['neg', 'mid', 'pos'], topK: 1 });
  });

  it('exits 2 naming the file and the problem when the tokenizer does not parse: registers nothing, serves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-text-broken-'));
    copyFileSync(MODEL, join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'text-model.json'), '{}');
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "WordPiece", "vocab": ');
    const reg = await runCli(['models', 'register', join(dir, 'model.onnx'), '--name', 'broken'], env);
    expect(reg.code).toBe(2);
    expect(reg.stderr).toContain(`error: Text model '${join(dir, 'model.onnx')}' cannot be registered: The tokenizer ${join(dir, 'tokenizer.json')} is not valid JSON`);
    const missing = await runCli(['models', 'register', join(dir, 'model.onnx'), '--name', 'broken', '--tokenizer', join(dir, 'absent.json')], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Tokenizer '${join(dir, 'absent.json')}' does not exist or is not a file.`);
    expect((await runCli(['models', 'show', 'broken'], env)).code).toBe(1);
    const serve = await runCli(['serve', join(dir, 'model.onnx'), '--port', '0'], env);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain(`load failed: The tokenizer ${join(dir, 'tokenizer.json')} is not valid JSON`);
  });

  it('serves the registered version with its tokenizer', async () => {
    const proc = spawn(process.execPath, [CLI_PATH, 'serve', 'models:/reviews@champion', '--port', '0', '--json'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    const { url } = await servedAddress(proc, 30_000);
    const res = await fetch(`${url}/v2/models/reviews/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['The food was really great 😀', 'awful service and cold ramen'] }], outputs: [{ name: 'labels' }] }),
    });
    const body = (await res.json()) as { outputs: Array<{ data: string[] }> };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect([body.outputs[0]?.data[0], body.outputs[0]?.data[3]]).toEqual(['positive', 'negative']);
  });
});
