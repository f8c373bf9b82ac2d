/** The YAML spec (`monitor.yaml`) that overrides kinds, drift tests and quality thresholds. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SlipwayError } from '../../core/errors.js';
import { COLUMN_KINDS } from '../profile/column-kind.js';
import { DRIFT_TESTS } from '../drift/drift-tests.js';
import type { DriftOptions } from '../drift/data-drift.js';
import type { ColumnKind } from '../profile/column-kind.js';

const level = z.enum(['pass', 'warn', 'fail']);
const bounds = z.object({ warn: z.number().min(0).optional(), fail: z.number().min(0).optional() }).strict();
const columnQuality = z
  .object({ missingShare: bounds.optional(), outOfRange: bounds.optional(), newCategories: bounds.optional(), constant: level.optional() })
  .strict();

const specSchema = z
  .object({
    kinds: z.record(z.string(), z.enum(COLUMN_KINDS as [ColumnKind, ...ColumnKind[]])).optional(),
    exclude: z.array(z.string()).optional(),
    /** The label column: drift reported apart from the features, and model performance when a prediction is declared too. */
    target: z.string().min(1).optional(),
    /** The model's output column (a label, a score for a regression, or P(label = 1) for a binary classifier). */
    prediction: z.string().min(1).optional(),
    /** Overrides the task inferred from the target column. */
    task: z.enum(['classification', 'regression']).optional(),
    drift: z
      .object({
        driftShare: z.number().gt(0).max(1).optional(),
        test: z.enum(DRIFT_TESTS as [string, ...string[]]).optional(),
        threshold: z.number().min(0).optional(),
        /** Status of the suite's dataset-drift test when the dataset drifts. */
        onDatasetDrift: level.optional(),
        columns: z
          .record(z.string(), z.object({ test: z.enum(DRIFT_TESTS as [string, ...string[]]).optional(), threshold: z.number().min(0).optional(), skip: z.boolean().optional() }).strict())
          .optional(),
      })
      .strict()
      .optional(),
    quality: z
      .object({
        missingShare: bounds.optional(),
        outOfRange: bounds.optional(),
        newCategories: bounds.optional(),
        duplicatedRows: bounds.optional(),
        constant: level.optional(),
        missingColumns: level.optional(),
        extraColumns: level.optional(),
        kindChanges: level.optional(),
        columns: z.record(z.string(), columnQuality).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A parsed monitor spec. */
export type MonitorSpec = z.infer<typeof specSchema>;

/** Validates a spec object, naming the first bad field. */
export function parseMonitorSpec(doc: unknown, source = 'spec'): MonitorSpec {
  const r = specSchema.safeParse(doc ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    throw new SlipwayError('INVALID_ARGUMENT', `${source}: ${where}: ${issue?.message ?? 'invalid'}.`);
  }
  return r.data;
}

/** Reads and validates a YAML spec file. */
export async function loadMonitorSpec(path: string): Promise<MonitorSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new SlipwayError('INVALID_ARGUMENT', `Cannot read spec ${path}.`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `Spec ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseMonitorSpec(doc, path);
}

/** The drift options a spec sets. */
export function driftOptionsOf(spec: MonitorSpec): DriftOptions {
  const d = spec.drift ?? {};
  return {
    driftShare: d.driftShare,
    test: d.test as DriftOptions['test'],
    threshold: d.threshold,
    columns: d.columns as DriftOptions['columns'],
    exclude: spec.exclude,
  };
}
