/**
 * Finds the ONNX file among a version's artifacts and reads its signature
 * (input/output names, element types, shapes) with onnxruntime-node.
 */
import type { ArtifactStore } from '../artifacts/artifact-store.js';
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

/** Reads the signature of the ONNX model at the local file `localPath`; throws when onnxruntime cannot load it. */
export async function readOnnxSignature(localPath: string, logicalPath: string): Promise<ModelSignature> {
  const ort = (await import('onnxruntime-node')).default;
  const session = await ort.InferenceSession.create(localPath);
  try {
    return {
      format: 'onnx',
      path: logicalPath,
      inputs: session.inputMetadata.map((m) => toSpec(m as ValueMetadata)),
      outputs: session.outputMetadata.map((m) => toSpec(m as ValueMetadata)),
    };
  } finally {
    await session.release();
  }
}

/** What inspecting a version's artifacts found. */
export type SignatureOutcome =
  | { kind: 'none' }
  | { kind: 'signature'; signature: ModelSignature }
  | { kind: 'unreadable'; path: string; message: string };

/** Looks for an ONNX file at `location` and reads its signature, reporting an unreadable file as data. */
export async function inspectArtifacts(artifacts: ArtifactStore, location: string): Promise<SignatureOutcome> {
  const path = await findOnnxFile(artifacts, location);
  if (!path) return { kind: 'none' };
  try {
    const local = await artifacts.localPath(path);
    return { kind: 'signature', signature: await readOnnxSignature(local, path) };
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? 'unknown error';
    return { kind: 'unreadable', path, message: `The ONNX file '${path}' could not be read: ${message}` };
  }
}
