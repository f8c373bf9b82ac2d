/** Wire schemas of the governance routes: a model version's lineage and its model card. */
import { z } from 'zod';
import { StringMap, named } from './common.js';
import { ModelSignature } from './models.js';

/** A dataset a run used: logged as a run input (MLflow's log_input) or named by a run tag. */
export const LineageDataset = z.object({
  name: z.string(),
  digest: z.string().nullable(),
  source: z.string().nullable(),
  sourceType: z.string().nullable(),
  context: z.string().nullable().describe('The input\'s mlflow.data.context tag (training, evaluation…).'),
  from: z.enum(['input', 'tag']).describe('Logged as a run input, or named by a run tag.'),
  datasetVersion: z
    .object({ name: z.string(), version: z.number().int() })
    .optional()
    .describe('The registered dataset version the input names (source slipway-dataset:/NAME/VERSION), when it still exists with that content.'),
});
/** A dataset a run used. */
export type LineageDataset = z.infer<typeof LineageDataset>;

/** The run that produced a version. */
export const LineageRun = z.object({
  runId: z.string(),
  runName: z.string(),
  experimentId: z.string(),
  experimentName: z.string().nullable(),
  status: z.string(),
  userId: z.string(),
  startTime: z.number().int(),
  endTime: z.number().int().nullable(),
  params: StringMap,
  metrics: z.record(z.string(), z.number()),
  codeRevision: z.string().nullable().describe('The mlflow.source.git.commit tag.'),
  sourceName: z.string().nullable().describe('The mlflow.source.name tag (script or notebook).'),
  sourceType: z.string().nullable().describe('The mlflow.source.type tag.'),
  datasets: z.array(LineageDataset),
  environment: StringMap.describe('Environment tags: python/onnxruntime/library versions and env.* tags.'),
  tags: StringMap.describe('The run\'s other tags, mlflow.* system tags left out.'),
});
/** The run that produced a version. */
export type LineageRun = z.infer<typeof LineageRun>;

/** A release of the version, with its gates and approvals. */
export const LineageRelease = z.object({
  id: z.string(),
  environment: z.string().describe('The alias the release moved the version to.'),
  state: z.string(),
  reason: z.string(),
  requestedBy: z.string(),
  championVersion: z.string().nullable().describe('The version the environment held before.'),
  createdTime: z.number().int(),
  endedTime: z.number().int().nullable(),
  gates: z.array(z.object({ name: z.string(), kind: z.string(), verdict: z.string(), reason: z.string(), figures: z.record(z.string(), z.unknown()) })),
  approvals: z.array(z.object({ by: z.string(), time: z.number().int(), comment: z.string().optional() })),
});
/** A release of the version. */
export type LineageRelease = z.infer<typeof LineageRelease>;

/** Where a model version came from, how it was checked and what serves it now. */
export const Lineage = named(
  z.object({
    model: z.string(),
    version: z.string(),
    createdTime: z.number().int(),
    registeredBy: z.string().nullable(),
    status: z.string(),
    stage: z.string(),
    run: LineageRun.nullable().describe('Null when the version was not registered from a run, or its run is gone.'),
    artifact: z.object({
      source: z.string(),
      storageLocation: z.string(),
      file: z.string().nullable().describe('The ONNX file in the artifact store.'),
      sha256: z.string().nullable(),
      size: z.number().int().nullable(),
      signature: ModelSignature.nullable(),
    }),
    releases: z.array(LineageRelease).describe('Oldest first.'),
    serving: z.object({ aliases: z.array(z.string()).describe('The aliases pointing at this version now.'), stage: z.string() }),
    unknown: z.array(z.string()).describe('What could not be told, each as a sentence.'),
  }),
  'Lineage',
  'Which run, parameters, code revision, datasets and environment produced a model version, its artifact, and who released it after which gates.',
);
/** A model version's lineage. */
export type Lineage = z.infer<typeof Lineage>;

/** Path of the lineage and card routes. */
export const VersionPathParams = z.object({ name: z.string().min(1), version: z.string().regex(/^\d+$/, { error: 'must be a version number' }) });

/** Query of GET …/card. */
export const CardQuery = z.object({ format: z.enum(['json', 'md', 'html']).default('json').describe('json, md (Markdown) or html (one self-contained page).') });
/** Query of GET …/card. */
export type CardQuery = z.input<typeof CardQuery>;

/** A model card, as JSON. */
export const ModelCard = named(
  z.object({
    model: z.string(),
    version: z.string(),
    generatedTime: z.number().int(),
    description: z.string().nullable().describe('The version\'s description, else the registered model\'s.'),
    details: StringMap.describe('Card tags of the version (over the model\'s): intended_use, limitations, out_of_scope, training_data, evaluation_data, ethical_considerations, owner, license, contact.'),
    signature: ModelSignature.nullable(),
    lineage: Lineage,
    evaluations: z
      .array(z.object({ releaseId: z.string(), environment: z.string(), gate: z.string(), kind: z.string(), verdict: z.string(), reason: z.string(), figures: z.record(z.string(), z.unknown()) }))
      .describe('Evaluation, load-test and other gate results of the version\'s releases.'),
    monitoring: z.object({
      baseline: z
        .object({
          rows: z.number().int(),
          source: z.string().nullable(),
          createdTime: z.number().int(),
          columns: z.array(z.object({ name: z.string(), kind: z.string(), missingShare: z.number(), mean: z.number().nullable(), min: z.number().nullable(), max: z.number().nullable(), distinct: z.number().nullable() })),
        })
        .nullable(),
      drift: z.object({
        status: z.enum(['drift', 'no drift', 'no data']),
        windows: z.number().int().describe('Recent live windows read (at most 24).'),
        driftedWindows: z.number().int(),
        latest: z.object({ windowStart: z.number().int(), windowEnd: z.number().int(), rows: z.number().int(), driftShare: z.number().nullable(), driftedColumns: z.number().nullable() }).nullable(),
      }),
    }),
  }),
  'ModelCard',
  'A model card built from the store: description and intended use, signature and lineage, gate results, monitoring baseline and drift, release history.',
);
/** A model card. */
export type ModelCard = z.infer<typeof ModelCard>;
