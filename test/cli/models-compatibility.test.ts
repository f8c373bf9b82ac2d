/**
 * `slipway models register` compares a new version's signature with the model's champion
 * (else latest) version: a warning on stderr naming each difference, or with
 * --require-compatible a refusal that registers nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildMlp } from '../../bench/onnx-builder.mjs';
import { runCli, storeNote, tempHome } from '../support/cli.js';

const CANCER = join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx');
const DIABETES = join(import.meta.dirname, '../fixtures/diabetes_forest.onnx');

describe('slipway models register comparing signatures', () => {
  const home = tempHome('slipway-compat-cli');
  const env = { SLIPWAY_HOME: home };
  const mlp = (file: string, layers: number[], batch?: number) => {
    const path = join(home, file);
    writeFileSync(path, buildMlp(layers, batch === undefined ? {} : { batch }));
    return path;
  };
  const versionsOf = async (name: string) => (JSON.parse((await runCli(['models', 'show', name, '--json'], env)).stdout) as { versions: Array<{ version: string }> }).versions.map((v) => v.version);

  it('warns on stderr naming the difference from the latest version, and still registers it', async () => {
    const first = await runCli(['models', 'register', mlp('wide.onnx', [30, 4, 1]), '--name', 'fraud'], env);
    expect(first).toMatchObject({ code: 0, stderr: storeNote(env) });
    const narrow = await runCli(['models', 'register', mlp('narrow.onnx', [10, 4, 1]), '--name', 'fraud'], env);
    expect(narrow.code).toBe(0);
    expect(narrow.stderr).toBe(storeNote(env) + "warning: The new version's signature differs from fraud version 1 (latest): input 'x' was float32 [-1,30], now float32 [-1,10].\n");
    expect(narrow.stdout).toMatch(/version:\s+2/);
    expect(await versionsOf('fraud')).toEqual(['2', '1']);
  });

  it('compares with the champion first, and refuses with --require-compatible, registering nothing', async () => {
    expect((await runCli(['models', 'register', CANCER, '--name', 'cancer', '--alias', 'champion'], env)).code).toBe(0);
    const other = await runCli(['models', 'register', DIABETES, '--name', 'cancer'], env);
    expect(other.code).toBe(0);
    const differences =
      "The new version's signature differs from cancer version 1 (champion): input 'features' was float32 [-1,30], now float32 [-1,10]; " +
      "output 'probabilities' was float32 [-1,1], now missing; output 'prediction' is new: float32 [-1,1].";
    expect(other.stderr).toBe(`${storeNote(env)}warning: ${differences}\n`);

    const refused = await runCli(['models', 'register', DIABETES, '--name', 'cancer', '--require-compatible', '--json'], env);
    expect(refused).toEqual({ code: 1, stdout: '', stderr: `${storeNote(env)}error: ${differences} Nothing was registered (--require-compatible).\n` });
    expect(await versionsOf('cancer')).toEqual(['2', '1']);

    // The latest version (2) takes 10 features, but the champion takes 30: a 30-feature version is compatible.
    const again = await runCli(['models', 'register', CANCER, '--name', 'cancer', '--require-compatible'], env);
    expect(again).toMatchObject({ code: 0, stderr: storeNote(env) });
    expect(await versionsOf('cancer')).toEqual(['3', '2', '1']);
  });

  it('is silent for a compatible version: a fixed batch size matches a free one', async () => {
    expect((await runCli(['models', 'register', mlp('free.onnx', [30, 4, 1]), '--name', 'scorer'], env)).code).toBe(0);
    const fixed = await runCli(['models', 'register', mlp('fixed.onnx', [30, 8, 1], 1), '--name', 'scorer', '--require-compatible'], env);
    expect(fixed).toMatchObject({ code: 0, stderr: storeNote(env) });
    expect(await versionsOf('scorer')).toEqual(['2', '1']);
  });
});
