/**
 * Mergeable quantile sketch: Datadog's DDSketch (@datadog/sketches-js). Every quantile
 * it returns is within a relative error α of the true value (|q̂ - q| ≤ α·|q|);
 * α = 0.01 by default. Serialised as the library's protobuf, base64-encoded.
 */
import { DDSketch } from '@datadog/sketches-js';

/** Relative accuracy of quantile sketches. @default 0.01 */
export const DEFAULT_RELATIVE_ACCURACY = 0.01;

/** Creates an empty sketch. */
export function createSketch(relativeAccuracy = DEFAULT_RELATIVE_ACCURACY): DDSketch {
  return new DDSketch({ relativeAccuracy });
}

/** Serialises a sketch to base64 protobuf. */
export function sketchToBase64(s: DDSketch): string {
  return Buffer.from(s.toProto()).toString('base64');
}

/** Reads a sketch written by `sketchToBase64`. */
export function sketchFromBase64(b64: string): DDSketch {
  return DDSketch.fromProto(new Uint8Array(Buffer.from(b64, 'base64')));
}

/** The sketch's bins as ascending representative values with counts (for drift tests and plots). */
export function sketchBins(s: DDSketch): { values: Float64Array; weights: Float64Array } {
  const values: number[] = [];
  const weights: number[] = [];
  const neg = s.negativeStore;
  for (let i = neg.bins.length - 1; i >= 0; i--) {
    const c = neg.bins[i] as number;
    if (c > 0) {
      values.push(-s.mapping.value(i + neg.offset));
      weights.push(c);
    }
  }
  if (s.zeroCount > 0) {
    values.push(0);
    weights.push(s.zeroCount);
  }
  const pos = s.store;
  for (let i = 0; i < pos.bins.length; i++) {
    const c = pos.bins[i] as number;
    if (c > 0) {
      values.push(s.mapping.value(i + pos.offset));
      weights.push(c);
    }
  }
  return { values: Float64Array.from(values), weights: Float64Array.from(weights) };
}
