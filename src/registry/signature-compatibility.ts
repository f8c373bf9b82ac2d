/**
 * Whether a new version's ONNX signature accepts and returns what an earlier version's did:
 * the same input and output names, element types and ranks, and the same size in every
 * dimension both fix. A free dimension (symbolic, `?` or -1) matches any size.
 */
import type { ModelSignature, TensorSpec } from './registry-types.js';

/** A dimension as serving's metadata shows it: its size, or -1 when free. */
function dimText(d: number | string): string {
  return typeof d === 'number' && d >= 0 ? String(d) : '-1';
}

/** A tensor as the differences name it, e.g. `float32 [-1,30]`. */
function specText(s: TensorSpec): string {
  return `${s.type} [${s.shape.map(dimText).join(',')}]`;
}

function sameDims(a: TensorSpec['shape'], b: TensorSpec['shape']): boolean {
  // A model that declares no shape accepts any.
  if (a.length === 0 || b.length === 0) return true;
  if (a.length !== b.length) return false;
  return a.every((d, i) => {
    const e = b[i] as number | string;
    return typeof d !== 'number' || d < 0 || typeof e !== 'number' || e < 0 || d === e;
  });
}

function compareSide(kind: 'input' | 'output', before: TensorSpec[], after: TensorSpec[]): string[] {
  const out: string[] = [];
  const next = new Map(after.map((s) => [s.name, s]));
  const previous = new Set(before.map((s) => s.name));
  for (const old of before) {
    const now = next.get(old.name);
    if (!now) out.push(`${kind} '${old.name}' was ${specText(old)}, now missing`);
    else if (now.type !== old.type || !sameDims(old.shape, now.shape)) out.push(`${kind} '${old.name}' was ${specText(old)}, now ${specText(now)}`);
  }
  for (const added of after) if (!previous.has(added.name)) out.push(`${kind} '${added.name}' is new: ${specText(added)}`);
  return out;
}

/**
 * The differences that make signature `after` incompatible with `before`, one readable line
 * each (e.g. `input 'features' was float32 [-1,30], now float32 [-1,10]`); empty when compatible.
 */
export function signatureDifferences(before: ModelSignature, after: ModelSignature): string[] {
  return [...compareSide('input', before.inputs, after.inputs), ...compareSide('output', before.outputs, after.outputs)];
}
