/** Wire schemas of the registered dataset routes: versions of a dataset's content with schema, profile and lineage. */
import { z } from 'zod';
import { EpochMillis, named, pageSize } from './common.js';

/** A dataset name in a path: as model names, no '/' or '@' (it is part of `NAME@VERSION` and `slipway-dataset:/NAME/VERSION`). */
export const DatasetName = z
  .string()
  .min(1)
  .max(256)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^/@\u0000-\u001f\u007f]+$/, { error: "must not contain '/', '@' or control characters" });

/** The types a dataset column is recorded with (MLflow's column-spec types). */
export const DatasetColumnType = z.enum(['boolean', 'long', 'double', 'string']);

/** The columns of a tabular dataset version. */
export const DatasetSchema = named(
  z.object({
    columns: z
      .array(z.object({ name: z.string(), type: DatasetColumnType, required: z.boolean().describe('True when no row lacks a value.') }))
      .max(10_000),
  }),
  'DatasetSchema',
  'The columns of a table and their types: long or double for numbers, boolean, string.',
);
/** The columns of a tabular dataset version. */
export type DatasetSchema = z.infer<typeof DatasetSchema>;

/** A sha256 digest: 64 lowercase hex characters. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a sha256 digest: 64 lowercase hex characters' });

/** A registered dataset version, without its profile. */
export const DatasetVersion = named(
  z.object({
    name: z.string(),
    version: z.number().int().positive(),
    uri: z.string().describe('slipway-dataset:/NAME/VERSION, the source runs that used it record.'),
    digest: Sha256.describe("sha256 of the file, or of the folder's manifest."),
    kind: z.enum(['file', 'folder']),
    files: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    source: z.string().describe('Where the content came from: git:<commit>:<path>, a path or a URI.'),
    schema: DatasetSchema.nullable(),
    hasProfile: z.boolean().describe('True when a profile of the table is stored (GET of the version returns it).'),
    rows: z.number().int().nullable().describe('Rows of the table, when profiled.'),
    description: z.string().nullable(),
    runId: z.string().nullable().describe('The run that produced it, when one did.'),
    createdTime: EpochMillis,
    createdBy: z.string(),
  }),
  'DatasetVersion',
  'A registered version of a dataset: its content digest and size, where it came from, and its schema when it is a table.',
);
/** A registered dataset version. */
export type DatasetVersion = z.infer<typeof DatasetVersion>;

/** The answer to a registration: the version, and whether this call created it. */
export const DatasetRegistration = named(
  DatasetVersion.extend({ created: z.boolean().describe('False when the name already held this digest: the answer is that version (status 200, not 201).') }),
  'DatasetRegistration',
  'A registered dataset version, and whether this registration created it.',
);
/** The answer to a registration. */
export type DatasetRegistration = z.infer<typeof DatasetRegistration>;

/** A registered dataset version with its profile. */
export const DatasetVersionDetail = named(
  DatasetVersion.extend({ profile: z.record(z.string(), z.unknown()).nullable().describe('The DatasetProfile (format slipway-profile/1) of the table, when stored.') }),
  'DatasetVersionDetail',
  'A registered dataset version with the profile of its table.',
);
/** A registered dataset version with its profile. */
export type DatasetVersionDetail = z.infer<typeof DatasetVersionDetail>;

/** Path naming a dataset. */
export const DatasetNameParams = z.object({ name: DatasetName });

/** Path naming a dataset version: a number or `latest`. */
export const DatasetVersionParams = z.object({
  name: DatasetName,
  version: z.string().regex(/^([1-9]\d{0,8}|latest)$/, { error: "must be a positive version number or 'latest'" }),
});

/** Body of POST /datasets/{name}/versions. */
export const RegisterDatasetBody = z.strictObject({
  digest: Sha256,
  kind: z.enum(['file', 'folder']),
  files: z.number().int().nonnegative().describe('Files in the folder; 1 for a file.'),
  bytes: z.number().int().nonnegative(),
  source: z.string().min(1).max(65_535),
  schema: DatasetSchema.optional(),
  profile: z.record(z.string(), z.unknown()).optional().describe('A DatasetProfile (format slipway-profile/1) of the table.'),
  description: z.string().max(65_536).optional(),
  runId: z.string().regex(/^[0-9a-f]{32}$/, { error: 'must be a 32-character hex run id' }).optional(),
});
/** Body of POST /datasets/{name}/versions. */
export type RegisterDatasetBody = z.input<typeof RegisterDatasetBody>;

/** Query of the list routes. */
export const ListDatasetsQuery = z.object({ maxResults: pageSize(1000, 100), pageToken: z.string().optional() });
/** Query of the list routes. */
export type ListDatasetsQuery = z.input<typeof ListDatasetsQuery>;

/** A dataset name with its newest version. */
export const DatasetSummary = z.object({ name: z.string(), versions: z.number().int().describe('Versions registered now.'), latest: DatasetVersion });

/** A page of dataset names. */
export const DatasetPage = named(
  z.object({ datasets: z.array(DatasetSummary), nextPageToken: z.string().optional() }),
  'DatasetPage',
  'A page of registered datasets by name, each with its newest version.',
);
/** A page of dataset names. */
export type DatasetPage = z.infer<typeof DatasetPage>;

/** A page of a dataset's versions. */
export const DatasetVersionPage = named(
  z.object({ versions: z.array(DatasetVersion), nextPageToken: z.string().optional() }),
  'DatasetVersionPage',
  "A page of a dataset's versions, newest first.",
);
/** A page of a dataset's versions. */
export type DatasetVersionPage = z.infer<typeof DatasetVersionPage>;

/** Query of DELETE …/versions/{version}. */
export const DeleteDatasetQuery = z.object({
  force: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('Delete even when runs used the version as an input (their inputs stay, naming a version that is gone).'),
});
/** Query of DELETE …/versions/{version}. */
export type DeleteDatasetQuery = z.input<typeof DeleteDatasetQuery>;

/** Body of POST …/versions/{version}/inputs. */
export const LogDatasetInputBody = z.strictObject({
  runId: z.string().regex(/^[0-9a-f]{32}$/, { error: 'must be a 32-character hex run id' }),
  context: z.string().min(1).max(500).optional().describe('The mlflow.data.context tag: training, evaluation…'),
});
/** Body of POST …/versions/{version}/inputs. */
export type LogDatasetInputBody = z.input<typeof LogDatasetInputBody>;

/** An MLflow dataset input naming a registered dataset version. */
export const DatasetRunInput = named(
  z.object({
    runId: z.string(),
    dataset: z.object({ name: z.string(), digest: z.string(), sourceType: z.string(), source: z.string(), schema: z.string().optional(), profile: z.string().optional() }),
    tags: z.array(z.object({ key: z.string(), value: z.string() })),
  }),
  'DatasetRunInput',
  "The dataset input logged to a run (what MLflow's get_run(...).inputs shows): source type slipway, source {\"uri\":\"slipway-dataset:/NAME/VERSION\"}.",
);
/** An MLflow dataset input naming a registered dataset version. */
export type DatasetRunInput = z.infer<typeof DatasetRunInput>;

/** Runs that used a dataset version and the model versions registered from them. */
export const DatasetLineage = named(
  z.object({
    name: z.string(),
    version: z.number().int(),
    digest: z.string(),
    producedBy: z.string().nullable().describe('The run that produced the version, when one did.'),
    runs: z
      .array(z.object({ runId: z.string(), runName: z.string(), experimentId: z.string(), status: z.string(), startTime: EpochMillis, context: z.string().nullable() }))
      .describe('Runs that logged the version as an input, newest first.'),
    modelVersions: z.array(z.object({ name: z.string(), version: z.string(), runId: z.string(), createdTime: EpochMillis })).describe('Model versions registered from those runs.'),
  }),
  'DatasetLineage',
  'Where a dataset version went: the runs that used it as an input, and the model versions registered from those runs.',
);
/** Runs that used a dataset version and the model versions registered from them. */
export type DatasetLineage = z.infer<typeof DatasetLineage>;
