/**
 * YAML load-test specs: the same keys as the options (target, rate, thresholds…),
 * so a test can live in the repository next to the model. Relative data and
 * baseline paths are read relative to the spec file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SlipwayError } from '../core/errors.js';
import { parseModelUri } from '../core/model-source.js';
import type { LoadTestOptions } from './load-test-options.js';

/** Reads a YAML spec into (partial) load-test options. */
export async function loadSpecFile(path: string): Promise<Partial<LoadTestOptions> & Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new SlipwayError('INVALID_ARGUMENT', `Load-test spec ${path} cannot be read.`, { path });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `Load-test spec ${path} is not valid YAML: ${(err as Error).message}`, { path });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new SlipwayError('INVALID_ARGUMENT', `Load-test spec ${path} must be a mapping of options.`, { path });
  const spec = { ...(doc as Record<string, unknown>) };
  const base = dirname(resolve(path));
  if (typeof spec.data === 'string' && !isAbsolute(spec.data)) spec.data = resolve(base, spec.data);
  if (typeof spec.baseline === 'string' && !parseModelUri(spec.baseline) && !isAbsolute(spec.baseline)) spec.baseline = resolve(base, spec.baseline);
  if (spec.thresholds !== undefined && (!Array.isArray(spec.thresholds) || spec.thresholds.some((t) => typeof t !== 'string'))) {
    throw new SlipwayError('INVALID_ARGUMENT', `Load-test spec ${path}: thresholds must be a list of expressions such as "p99<50ms".`, { path });
  }
  return spec as Partial<LoadTestOptions> & Record<string, unknown>;
}
