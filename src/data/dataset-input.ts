/**
 * How a registered dataset version appears among a run's MLflow inputs, and how such an input is
 * read back: source type `slipway`, source `{"uri":"slipway-dataset:/NAME/VERSION"}`, the digest's
 * first 36 characters (MLflow keeps at most 36), the schema as MLflow's `mlflow_colspec` and a small
 * profile (MLflow keeps at most 16 KB of it, so the full DatasetProfile stays in the registry).
 */
import type { DatasetSchema, DatasetVersion } from '../client/schemas/datasets.js';
import type { DatasetInput } from '../tracking/tracking-types.js';

/** The `source_type` of a run input that names a registered dataset version. */
export const DATASET_SOURCE_TYPE = 'slipway';
/** The URI scheme of a registered dataset version. */
export const DATASET_URI_SCHEME = 'slipway-dataset:';
/** The input tag MLflow's clients use for what a run used a dataset for. */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';
/** Characters of the sha256 an MLflow dataset digest keeps (MLflow's own limit). */
export const MLFLOW_DIGEST_LENGTH = 36;

/** A dataset version named by name and number. */
export interface DatasetVersionRef {
  name: string;
  version: number;
}

/** `slipway-dataset:/NAME/VERSION` of a version (the name percent-encoded). */
export function datasetUri(name: string, version: number): string {
  return `${DATASET_URI_SCHEME}/${encodeURIComponent(name)}/${version}`;
}

/** Reads `slipway-dataset:/NAME/VERSION`; undefined for anything else. */
export function parseDatasetUri(uri: string): DatasetVersionRef | undefined {
  const m = /^slipway-dataset:\/([^/]+)\/([1-9]\d{0,8})$/.exec(uri);
  if (!m) return undefined;
  try {
    return { name: decodeURIComponent(m[1] as string), version: Number(m[2]) };
  } catch {
    return undefined;
  }
}

/** The digest an MLflow input of this content carries. */
export function mlflowDigest(sha256: string): string {
  return sha256.slice(0, MLFLOW_DIGEST_LENGTH);
}

/** The schema in MLflow's column-spec JSON (what `mlflow.data` writes for a pandas dataset). */
export function mlflowColspec(schema: DatasetSchema): string {
  return JSON.stringify({ mlflow_colspec: schema.columns.map((c) => ({ type: c.type, name: c.name, required: c.required })) });
}

/** The MLflow dataset input that links a run to a registered dataset version. */
export function datasetInput(v: DatasetVersion, context?: string): DatasetInput {
  const profile: Record<string, number> = { num_files: v.files, num_bytes: v.bytes };
  if (v.rows !== null) profile.num_rows = v.rows;
  if (v.schema) profile.num_columns = v.schema.columns.length;
  return {
    tags: context === undefined ? [] : [{ key: DATASET_CONTEXT_TAG, value: context }],
    dataset: {
      name: v.name,
      digest: mlflowDigest(v.digest),
      sourceType: DATASET_SOURCE_TYPE,
      source: JSON.stringify({ uri: datasetUri(v.name, v.version) }),
      ...(v.schema ? { schema: mlflowColspec(v.schema) } : {}),
      profile: JSON.stringify(profile),
    },
  };
}

/** The dataset version a run input names, when it is one (source type `slipway` and a `slipway-dataset:` URI). */
export function datasetRefOfInput(input: { sourceType: string; source: string }): DatasetVersionRef | undefined {
  if (input.sourceType !== DATASET_SOURCE_TYPE) return undefined;
  let uri: unknown;
  try {
    uri = (JSON.parse(input.source) as { uri?: unknown } | null)?.uri;
  } catch {
    // A hand-written source may be the bare URI.
    uri = input.source;
  }
  return typeof uri === 'string' ? parseDatasetUri(uri) : undefined;
}
