/**
 * The files a text model is registered with: its `tokenizer.json` and `text-model.json`,
 * stored beside the ONNX file so that serving finds them where onnxruntime finds the graph.
 */
import { constants, copyFile, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { TEXT_CONFIG_FILE } from '../serving/text-model.js';
import { readOnnxSignature } from './onnx-signature.js';
import type { ModelSignature } from './registry-types.js';

/** A file to store beside the ONNX file: its name there, and where it is read from. */
export interface TextModelFile {
  name: string;
  /** Local path to upload, or undefined when `content` holds it. */
  path?: string;
  content?: Buffer;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/**
 * The tokenizer and text settings to store with `onnxFile`: those named by `tokenizer` /
 * `textConfig`, else `text-model.json` (and the tokenizer it names) beside the ONNX file.
 * Empty for a model that is not a text model.
 */
export async function textModelFiles(onnxFile: string, opts: { tokenizer?: string; textConfig?: string }): Promise<TextModelFile[]> {
  const beside = join(dirname(onnxFile), TEXT_CONFIG_FILE);
  const configPath = opts.textConfig ?? ((await isFile(beside)) ? beside : undefined);
  if (!configPath && !opts.tokenizer) return [];
  if (opts.textConfig && !(await isFile(opts.textConfig))) throw new SlipwayError('DATA_ERROR', `Text model settings '${opts.textConfig}' do not exist or are not a file.`);
  let settings: Record<string, unknown> = {};
  if (configPath) {
    try {
      settings = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new SlipwayError('DATA_ERROR', `The text model settings ${configPath} are not valid JSON: ${(err as Error).message}.`);
    }
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new SlipwayError('DATA_ERROR', `The text model settings ${configPath} are not a JSON object.`);
  }
  const name = typeof settings.tokenizer === 'string' ? settings.tokenizer : 'tokenizer.json';
  const tokenizerPath = opts.tokenizer ?? join(dirname(configPath as string), name);
  if (!(await isFile(tokenizerPath))) throw new SlipwayError('DATA_ERROR', `Tokenizer '${tokenizerPath}' does not exist or is not a file.`);
  const files: TextModelFile[] = [
    { name: TEXT_CONFIG_FILE, content: Buffer.from(`${JSON.stringify({ ...settings, tokenizer: name }, null, 1)}\n`) },
    { name, path: tokenizerPath },
  ];
  const extra = settings.tokenizer_config;
  if (typeof extra === 'string' && configPath) files.push({ name: extra, path: join(dirname(configPath), extra) });
  // Every file is stored beside the ONNX file under its own name: a tokenizer named like the model would replace it.
  const taken: Array<[string, string]> = [
    [basename(onnxFile), 'the ONNX file'],
    [TEXT_CONFIG_FILE, 'the text model settings file'],
  ];
  for (const [what, n] of [['tokenizer', name], ...(typeof extra === 'string' ? [['tokenizer config', extra]] : [])] as Array<[string, string]>) {
    const clash = taken.find(([m]) => m === n);
    if (clash) throw new SlipwayError('DATA_ERROR', `The text model settings name the ${what} '${n}', the name of ${clash[1]}; every file stored beside the model needs a name of its own.`);
    taken.push([n, `the ${what}`]);
  }
  return files;
}

/**
 * Reads the signature the model will be registered with, the text files laid beside a link
 * to the ONNX file as the store will keep them; a tokenizer that does not parse is a DATA_ERROR
 * naming the file and the problem.
 */
export async function textModelSignature(onnxFile: string, files: TextModelFile[]): Promise<ModelSignature> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-text-model-'));
  try {
    const model = join(dir, basename(onnxFile));
    const taken = new Map([[basename(onnxFile), 'the ONNX file']]);
    for (const f of files) {
      if (basename(f.name) !== f.name) throw new SlipwayError('DATA_ERROR', `The text model settings name '${f.name}', which is not a file name; the tokenizer files are stored beside the ONNX file.`);
      const clash = taken.get(f.name);
      if (clash) throw new SlipwayError('DATA_ERROR', `The text model settings name the tokenizer file '${f.name}', the name of ${clash}; every file stored beside the model needs a name of its own.`);
      taken.set(f.name, 'another of its files');
    }
    await symlink(resolve(onnxFile), model).catch(() => copyFile(onnxFile, model));
    for (const f of files) {
      // Never through an existing name (the link to the user's ONNX file above all), even where names differ only in case.
      try {
        if (f.content) await writeFile(join(dir, f.name), f.content, { flag: 'wx' });
        else await copyFile(f.path as string, join(dir, f.name), constants.COPYFILE_EXCL);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        throw new SlipwayError('DATA_ERROR', `The text model settings name the tokenizer file '${f.name}', which this file system takes for the name of another of the model's files; every file stored beside the model needs a name of its own.`);
      }
    }
    try {
      return await readOnnxSignature(model, onnxFile);
    } catch (err) {
      const message = (err as Error).message.split('\n')[0] ?? 'unknown error';
      // Name the user's files rather than the scratch copies.
      throw new SlipwayError('DATA_ERROR', `Text model '${onnxFile}' cannot be registered: ${message.replaceAll(`${dir}/`, `${dirname(onnxFile)}/`)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
