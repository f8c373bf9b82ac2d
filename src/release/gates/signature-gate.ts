/** The `signature` gate: the candidate's inputs and outputs are compatible with the champion's. */
import { isSlipwayError } from '../../core/errors.js';
import type { ResolvedModel } from '../../core/model-source.js';
import { readOnnxSignature } from '../../registry/onnx-signature.js';
import type { ModelSignature } from '../../registry/registry-types.js';
import { signatureDifferences } from '../../registry/signature-compatibility.js';
import type { GateSpec } from '../../client/schemas/releases.js';
import type { GateContext, GateOutcome } from './gate.js';

type SignatureSpec = Extract<GateSpec, { kind: 'signature' }>;

/** The registry's stored signature of a version, else the one read from its ONNX file. */
async function signatureOf(model: ResolvedModel, ctx: GateContext): Promise<{ signature: ModelSignature; from: 'registry' | 'onnx' }> {
  try {
    const v = await ctx.registry.getModelVersion(model.name, model.version);
    if (v.signature) return { signature: v.signature, from: 'registry' };
  } catch (err) {
    // A version the registry does not know (a file-based release) is read from its file instead.
    if (!isSlipwayError(err) || err.code !== 'NOT_FOUND') throw err;
  }
  return { signature: await readOnnxSignature(model.onnxPath, model.onnxPath), from: 'onnx' };
}

/** Compares the candidate's signature with the champion's; a breaking change fails unless `allowBreaking`. */
export async function runSignatureGate(spec: SignatureSpec, ctx: GateContext): Promise<GateOutcome> {
  if (!ctx.champion) return { verdict: 'skipped', reason: 'First release: nothing to compare the signature with.', figures: {} };
  const [candidate, champion] = await Promise.all([signatureOf(ctx.candidate, ctx), signatureOf(ctx.champion, ctx)]);
  const differences = signatureDifferences(champion.signature, candidate.signature);
  const figures = {
    differences,
    allowBreaking: spec.allowBreaking,
    candidate: { version: ctx.candidate.version, signature: candidate.signature, from: candidate.from },
    champion: { version: ctx.champion.version, signature: champion.signature, from: champion.from },
  };
  const versions = `version ${ctx.candidate.version} against champion version ${ctx.champion.version}`;
  if (differences.length === 0) return { verdict: 'pass', reason: `Signature compatible: 0 differences (bound: 0) for ${versions}.`, figures };
  const listed = differences.join('; ');
  if (spec.allowBreaking) return { verdict: 'pass', reason: `Signature has ${differences.length} breaking difference(s), allowed by allowBreaking, for ${versions}: ${listed}.`, figures };
  return { verdict: 'fail', reason: `Signature has ${differences.length} breaking difference(s) (bound: 0) for ${versions}: ${listed}.`, figures };
}
