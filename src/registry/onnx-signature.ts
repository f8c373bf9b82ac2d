/**
 * Finds the ONNX file among a version's artifacts and reads its signature
 * (input/output names, element types, shapes) with onnxruntime-node.
 */
import { copyFile, link, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinLocal } from 'node:path';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import type { ModelFileAllowList } from '../artifacts/model-file-allow-list.js';
import { isSlipwayError } from '../core/errors.js';
import { fromMemoryOptions, withoutZipMaps } from '../serving/onnx-file.js';
import { TextTokenizer } from '../serving/text-model.js';
import type { ModelSignature, TensorSpec } from './registry-types.js';

/** How deep below the version's location an ONNX file is looked for (`model/model.onnx` is depth 2). */
const MAX_DEPTH = 3;
/** The most directory entries inspected, so a huge artifact tree cannot stall registration. */
const MAX_ENTRIES = 2000;

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

// Listing entries carry paths from the store root; tolerate stores that return names only.
function entryPath(dir: string, path: string): string {
  return dir === '' || path.startsWith(`${dir}/`) ? path : join(dir, path.split('/').pop() as string);
}

/**
 * The logical path of the ONNX file at `location` (the file itself, or the first
 * `.onnx` file inside the folder, preferring `model.onnx` and shallower files), or
 * undefined when there is none.
 */
export async function findOnnxFile(artifacts: ArtifactStore, location: string): Promise<string | undefined> {
  if (await artifacts.stat(location)) return location.toLowerCase().endsWith('.onnx') ? location : undefined;
  let level = [location];
  let seen = 0;
  for (let depth = 0; depth < MAX_DEPTH && level.length > 0; depth++) {
    const files: string[] = [];
    const dirs: string[] = [];
    for (const dir of level) {
      const entries = await artifacts.list(dir);
      seen += entries.length;
      for (const e of entries) (e.isDir ? dirs : files).push(entryPath(dir, e.path));
      if (seen > MAX_ENTRIES) break;
    }
    const onnx = files.filter((f) => f.toLowerCase().endsWith('.onnx')).sort();
    const preferred = onnx.find((f) => f.split('/').pop() === 'model.onnx') ?? onnx[0];
    if (preferred) return preferred;
    if (seen > MAX_ENTRIES) return undefined;
    level = dirs.sort();
  }
  return undefined;
}

type ValueMetadata = { name: string; isTensor: boolean; type?: string; shape?: ReadonlyArray<number | string> };

function toSpec(m: ValueMetadata): TensorSpec {
  if (!m.isTensor) return { name: m.name, type: 'non-tensor', shape: [] };
  // onnxruntime reports unnamed dynamic dimensions as -1 or ''; show them as a symbolic '?'.
  const shape = (m.shape ?? []).map((d) => (d === '' || (typeof d === 'number' && d < 0) ? '?' : d));
  return { name: m.name, type: m.type ?? 'unknown', shape };
}

/**
 * Reads the signature of the ONNX model at the local file `localPath`; throws when onnxruntime
 * cannot load it. A classifier ending in a ZipMap is described as serving answers it: its
 * probabilities as a float32 [rows, classes] tensor with the class labels (see onnx-file.ts).
 */
export async function readOnnxSignature(localPath: string, logicalPath: string): Promise<ModelSignature> {
  const ort = (await import('onnxruntime-node')).default;
  let session = await ort.InferenceSession.create(localPath);
  try {
    let classes = new Map<string, Array<number | string>>();
    const rewritten = session.outputMetadata.some((m) => !m.isTensor) ? await withoutZipMaps(localPath) : undefined;
    // Should the stripped model not load, the signature stays as onnxruntime reads the file.
    const stripped = rewritten ? await ort.InferenceSession.create(rewritten.model, fromMemoryOptions(localPath)).catch(() => undefined) : undefined;
    if (rewritten && stripped) {
      await session.release();
      session = stripped;
      classes = new Map(rewritten.outputs.map((o) => [o.name, o.classes]));
    }
    const signature: ModelSignature = {
      format: 'onnx',
      path: logicalPath,
      inputs: session.inputMetadata.map((m) => toSpec(m as ValueMetadata)),
      outputs: session.outputMetadata.map((m) => {
        const spec = toSpec(m as ValueMetadata);
        const labels = classes.get(spec.name);
        return labels ? { ...spec, classes: labels } : spec;
      }),
    };
    // A text model (text-model.json beside the file) shows the text its users send; a tokenizer that
    // does not parse makes the version unreadable, with the file and the problem named.
    const tokenizer = await TextTokenizer.load(localPath);
    return tokenizer ? textSignature(signature, tokenizer) : signature;
  } finally {
    await session.release();
  }
}

/** The signature of a graph served behind its tokenizer: the text input, the graph's inputs under `text`, and the label outputs. */
function textSignature(graph: ModelSignature, tokenizer: TextTokenizer): ModelSignature {
  const c = tokenizer.config;
  const outputs = [...graph.outputs];
  if (c.labels) outputs.push({ name: 'labels', type: 'string', shape: ['batch', c.topK] }, { name: 'scores', type: 'float32', shape: ['batch', c.topK] });
  return {
    ...graph,
    inputs: [{ name: c.input, type: 'string', shape: ['batch'] }],
    outputs,
    text: {
      tokenizer: c.tokenizer,
      model: tokenizer.kind,
      maxLength: c.maxLength,
      truncation: c.truncation,
      padding: c.padding,
      ...(c.labels ? { labels: c.labels, topK: c.topK } : {}),
      graphInputs: graph.inputs,
    },
  };
}

/** What inspecting a version's artifacts found. */
export type SignatureOutcome =
  | { kind: 'none' }
  | { kind: 'signature'; signature: ModelSignature }
  | { kind: 'unreadable'; path: string; message: string };

/** Hard-links `from` to `to`, or copies it when they are on different file systems. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * Places the files of the ONNX file's folder in `into` under their own names and returns the
 * ONNX file's path there. onnxruntime looks for external-data files (weights stored beside the
 * graph, as MLflow's `mlflow.onnx.log_model` writes them) relative to the model file and refuses
 * any that resolve outside its folder, which a store's content-addressed local copies do; so
 * they are hard-linked (or copied) rather than symlinked.
 */
export async function linkOnnxFolder(artifacts: ArtifactStore, onnxPath: string, into: string, modelFiles?: ModelFileAllowList): Promise<string> {
  const slash = onnxPath.lastIndexOf('/');
  const dir = slash < 0 ? '' : onnxPath.slice(0, slash);
  const entries = await artifacts.list(dir);
  for (const e of entries.slice(0, MAX_ENTRIES)) {
    if (e.isDir) continue;
    const path = entryPath(dir, e.path);
    const local = await artifacts.localPath(path);
    // A hard link to a symbolic link still leads where it points: the real file must be an allowed one.
    await linkOrCopy(modelFiles ? await modelFiles.check(local) : local, joinLocal(into, path.slice(slash + 1)));
  }
  return joinLocal(into, onnxPath.slice(slash + 1));
}

/**
 * Looks for an ONNX file at `location` and reads its signature, reporting an unreadable file as data.
 * A file that is not an allowed model file (see ModelFileAllowList) is not read: that refusal is thrown.
 */
export async function inspectArtifacts(artifacts: ArtifactStore, location: string, modelFiles?: ModelFileAllowList): Promise<SignatureOutcome> {
  const path = await findOnnxFile(artifacts, location);
  if (!path) return { kind: 'none' };
  const scratch = await mkdtemp(joinLocal(tmpdir(), 'slipway-onnx-'));
  try {
    const local = await linkOnnxFolder(artifacts, path, scratch, modelFiles);
    return { kind: 'signature', signature: await readOnnxSignature(local, path) };
  } catch (err) {
    if (isSlipwayError(err) && err.code === 'MODEL_SOURCE_NOT_ALLOWED') throw err;
    const message = (err as Error).message.split('\n')[0] ?? 'unknown error';
    return { kind: 'unreadable', path, message: `The ONNX file '${path}' could not be read: ${message}` };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Reads the signature of a model kept on local disk outside the store: `path` is an .onnx file, or a
 * folder holding `model.onnx` (MLflow's layout) or one .onnx file. The file must be an allowed one;
 * the signature records its real path, which serving loads (after checking it again).
 */
export async function inspectLocalModel(path: string, modelFiles: ModelFileAllowList): Promise<SignatureOutcome> {
  let file = await modelFiles.check(path);
  const info = await stat(file).catch(() => undefined);
  if (!info) return { kind: 'none' };
  if (info.isDirectory()) {
    const onnx = (await readdir(file)).filter((n) => n.toLowerCase().endsWith('.onnx')).sort();
    const chosen = onnx.includes('model.onnx') ? 'model.onnx' : onnx.length === 1 ? onnx[0] : undefined;
    if (chosen === undefined) return { kind: 'none' };
    file = await modelFiles.check(joinLocal(file, chosen));
  } else if (!file.toLowerCase().endsWith('.onnx')) {
    return { kind: 'none' };
  }
  try {
    return { kind: 'signature', signature: await readOnnxSignature(file, file) };
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? 'unknown error';
    return { kind: 'unreadable', path: file, message: `The ONNX file '${file}' could not be read: ${message}` };
  }
}
