/** Where a model's input column names come from: a version tag or the training dataset's schema. */

/** The version tag that names the input columns, as a JSON array or a comma-separated list. */
export const COLUMNS_TAG = 'slipway.columns';

/** Column names that mark the label of a training set, dropped when the schema has one column too many. */
const TARGET_NAMES = new Set(['target', 'label', 'labels', 'y', 'class', 'outcome']);

/** Parses the `slipway.columns` tag value; undefined when absent or empty. */
export function columnsFromTag(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((c) => typeof c === 'string')) return parsed as string[];
    } catch {
      // not JSON after all: read it as a comma-separated list
    }
  }
  const cols = text.split(',').map((c) => c.trim()).filter((c) => c !== '');
  return cols.length > 0 ? cols : undefined;
}

/**
 * Column names from an MLflow dataset schema (`{"mlflow_colspec": [{"name", "type"}, …]}`).
 * With a known input `width`, the names are used only when they match it, after
 * dropping one label-like column (`target`, `label`, `y`…) if there is one extra.
 */
export function columnsFromDatasetSchema(schema: string | null, width: number | undefined): string[] | undefined {
  if (!schema) return undefined;
  let names: string[];
  try {
    const parsed = JSON.parse(schema) as { mlflow_colspec?: Array<{ name?: unknown }> };
    if (!Array.isArray(parsed.mlflow_colspec)) return undefined;
    names = parsed.mlflow_colspec.map((c) => c.name).filter((n): n is string => typeof n === 'string');
  } catch {
    return undefined;
  }
  if (names.length === 0) return undefined;
  if (width === undefined || names.length === width) return names;
  if (names.length === width + 1) {
    const labels = names.filter((n) => TARGET_NAMES.has(n.toLowerCase()));
    if (labels.length === 1) return names.filter((n) => n !== labels[0]);
  }
  return undefined;
}

/** Reads the header of a CSV text and drops the label column, for `--columns-from`. */
export function columnsFromCsvHeader(header: string, target: string | undefined): string[] {
  const cols = header
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)[0]!
    .split(',')
    .map((c) => c.trim().replace(/^"(.*)"$/, '$1'))
    .filter((c) => c !== '');
  if (target !== undefined) return cols.filter((c) => c !== target);
  const labels = cols.filter((c) => TARGET_NAMES.has(c.toLowerCase()));
  return labels.length === 1 ? cols.filter((c) => c !== labels[0]) : cols;
}

/** One column per input: a signature whose inputs each carry one feature (scalar or [batch, 1]) names its columns itself. */
export function columnsFromPerFeatureInputs(inputs: ReadonlyArray<{ name: string; shape: ReadonlyArray<number | string> }>): string[] | undefined {
  if (inputs.length > 1 && inputs.every((i) => i.shape.length <= 2 && (i.shape.length < 2 || i.shape[1] === 1))) return inputs.map((i) => i.name);
  return undefined;
}
