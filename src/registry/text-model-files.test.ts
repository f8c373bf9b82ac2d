/**
 * The files a text model is registered with, read from real files beside a copy of the fixture
 * transformer: names that would overwrite the user's ONNX file or each other are refused.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { textModelFiles, textModelSignature } from './text-model-files.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'test', 'fixtures', 'text', 'transformer');

/** A folder with a copy of the fixture graph as `classifier.onnx`, the given text settings, and the tokenizer as `tokenizer.json`. */
function folder(settings: Record<string, unknown>): { dir: string; onnx: string } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-text-files-'));
  copyFileSync(join(FIXTURE, 'model.onnx'), join(dir, 'classifier.onnx'));
  copyFileSync(join(FIXTURE, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'text-model.json'), JSON.stringify(settings));
  return { dir, onnx: join(dir, 'classifier.onnx') };
}

describe('text model files', () => {
  it("reads the signature with the tokenizer beside the model, leaving the user's files as they were", async () => {
    const { dir, onnx } = folder({ max_length: 32 });
    const before = readFileSync(onnx);
    const files = await textModelFiles(onnx, {});
    expect(files.map((f) => f.name)).toEqual(['text-model.json', 'tokenizer.json']);
    const signature = await textModelSignature(onnx, files);
    expect(signature.text).toMatchObject({ tokenizer: 'tokenizer.json', maxLength: 32 });
    expect(readFileSync(onnx).equals(before)).toBe(true);
    expect(readFileSync(join(dir, 'text-model.json'), 'utf8')).toBe('{"max_length":32}');
  });

  it("refuses a tokenizer named like the ONNX file or text-model.json, and a tokenizer config named like either: the user's ONNX file is not overwritten", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tokenizer: 'classifier.onnx' }, "The text model settings name the tokenizer 'classifier.onnx', the name of the ONNX file"],
      [{ tokenizer: 'text-model.json' }, "The text model settings name the tokenizer 'text-model.json', the name of the text model settings file"],
      [{ tokenizer_config: 'classifier.onnx' }, "The text model settings name the tokenizer config 'classifier.onnx', the name of the ONNX file"],
      [{ tokenizer_config: 'tokenizer.json' }, "The text model settings name the tokenizer config 'tokenizer.json', the name of the tokenizer"],
    ];
    for (const [settings, message] of cases) {
      const { dir, onnx } = folder(settings);
      const before = readFileSync(onnx);
      // The tokenizer comes from elsewhere (--tokenizer), under the name the settings give it.
      await expect(textModelFiles(onnx, { tokenizer: join(FIXTURE, 'tokenizer.json'), textConfig: join(dir, 'text-model.json') }), JSON.stringify(settings)).rejects.toThrow(message);
      // Files listed by hand are checked again where they are laid out.
      const files = [
        { name: 'text-model.json', content: Buffer.from(JSON.stringify(settings)) },
        { name: (settings.tokenizer as string | undefined) ?? 'tokenizer.json', path: join(FIXTURE, 'tokenizer.json') },
        ...(settings.tokenizer_config ? [{ name: settings.tokenizer_config as string, path: join(FIXTURE, 'tokenizer.json') }] : []),
      ];
      await expect(textModelSignature(onnx, files), JSON.stringify(settings)).rejects.toThrow(/^The text model settings name the tokenizer/);
      expect(readFileSync(onnx).equals(before), `${JSON.stringify(settings)} left the ONNX file as it was`).toBe(true);
    }
  });
});
