/** Wire schemas of the registered model routes. */
import { z } from 'zod';
import { EpochMillis, Name, StringMap, named, pageSize } from './common.js';

/** One input or output tensor of an ONNX model. */
export const TensorSpec = named(
  z.object({ name: z.string(), type: z.string(), shape: z.array(z.union([z.number(), z.string()])) }),
  'TensorSpec',
  'A tensor of the model: name, element type and shape (symbolic dimensions are strings).',
);

/** The signature read from a version's ONNX file. */
export const ModelSignature = named(
  z.object({
    format: z.literal('onnx'),
    path: z.string(),
    inputs: z.array(TensorSpec),
    outputs: z.array(TensorSpec),
    text: z
      .object({
        tokenizer: z.string(),
        model: z.string(),
        maxLength: z.number(),
        truncation: z.boolean(),
        padding: z.enum(['longest', 'max_length']),
        labels: z.array(z.string()).optional(),
        topK: z.number().optional(),
        graphInputs: z.array(TensorSpec),
      })
      .optional()
      .describe('For a text model: the tokenizer stored beside the ONNX file, its settings, and the graph inputs it feeds.'),
  }),
  'ModelSignature',
  "Inputs and outputs read from the version's ONNX file when it was registered.",
);

/** Legacy stages. */
export const ModelStage = z.enum(['None', 'Staging', 'Production', 'Archived']);

/** A model version. */
export const ModelVersion = named(
  z.object({
    name: z.string(),
    version: z.string(),
    creationTimestamp: EpochMillis,
    lastUpdatedTimestamp: EpochMillis,
    userId: z.string().optional(),
    currentStage: ModelStage,
    description: z.string().optional(),
    source: z.string(),
    storageLocation: z.string(),
    runId: z.string().optional(),
    runLink: z.string().optional(),
    status: z.enum(['PENDING_REGISTRATION', 'READY', 'FAILED_REGISTRATION']),
    statusMessage: z.string().optional(),
    tags: StringMap,
    aliases: z.array(z.string()),
    signature: ModelSignature.optional(),
  }),
  'ModelVersion',
  'A version of a registered model, with its ONNX signature when it has one.',
);
/** A model version. */
export type ModelVersion = z.infer<typeof ModelVersion>;

/** A registered model. */
export const RegisteredModel = named(
  z.object({
    name: z.string(),
    creationTimestamp: EpochMillis,
    lastUpdatedTimestamp: EpochMillis,
    description: z.string().optional(),
    tags: StringMap,
    aliases: z.array(z.object({ alias: z.string(), version: z.string() })),
    latestVersions: z.array(ModelVersion),
  }),
  'RegisteredModel',
  'A registered model, its aliases and the newest version in each stage.',
);
/** A registered model. */
export type RegisteredModel = z.infer<typeof RegisteredModel>;

/** Query of GET /models. */
export const ListModelsQuery = z.object({
  filter: z.string().optional().describe("MLflow filter, e.g. name LIKE 'fraud%'."),
  orderBy: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional(),
  maxResults: pageSize(1000, 100),
  pageToken: z.string().optional(),
});
/** Query of GET /models. */
export type ListModelsQuery = z.input<typeof ListModelsQuery>;

/** A page of registered models. */
export const RegisteredModelPage = named(
  z.object({ models: z.array(RegisteredModel), nextPageToken: z.string().optional() }),
  'RegisteredModelPage',
  'A page of registered models.',
);
/** A page of registered models. */
export type RegisteredModelPage = z.infer<typeof RegisteredModelPage>;

/** Query of GET /models/{name}/versions. */
export const ListVersionsQuery = z.object({
  maxResults: pageSize(1000, 100),
  pageToken: z.string().optional(),
});
/** Query of GET /models/{name}/versions. */
export type ListVersionsQuery = z.input<typeof ListVersionsQuery>;

/** A page of model versions. */
export const ModelVersionPage = named(
  z.object({ versions: z.array(ModelVersion), nextPageToken: z.string().optional() }),
  'ModelVersionPage',
  'A page of model versions, newest first.',
);
/** A page of model versions. */
export type ModelVersionPage = z.infer<typeof ModelVersionPage>;

/** Path parameter naming a model. */
export const ModelNameParams = z.object({ name: Name });

/** Path parameters naming a version. */
export const ModelVersionParams = z.object({ name: Name, version: z.string().regex(/^[1-9]\d*$/, 'must be a positive version number') });

/** Path parameters naming an alias. */
export const ModelAliasParams = z.object({ name: Name, alias: z.string().min(1).max(255) });

/** Body of POST /models. */
export const CreateModelBody = z.strictObject({ name: Name, description: z.string().max(5000).optional(), tags: StringMap.optional() });
/** Body of POST /models. */
export type CreateModelBody = z.input<typeof CreateModelBody>;

/** Body of POST /models/{name}/versions. */
export const CreateVersionBody = z.strictObject({
  source: z.string().min(1).describe('Where the model files are, e.g. runs:/<run id>/model or mlflow-artifacts:/…'),
  runId: z.string().optional(),
  runLink: z.string().optional(),
  description: z.string().max(5000).optional(),
  tags: StringMap.optional(),
});
/** Body of POST /models/{name}/versions. */
export type CreateVersionBody = z.input<typeof CreateVersionBody>;

/** Body of PUT /models/{name}/aliases/{alias}. */
export const SetAliasBody = z.strictObject({ version: z.union([z.string(), z.number().int()]).transform(String).pipe(z.string().regex(/^[1-9]\d*$/, 'must be a positive version number')) });
/** Body of PUT /models/{name}/aliases/{alias}. */
export type SetAliasBody = z.input<typeof SetAliasBody>;

/** Body of POST /models/{name}/versions/{version}/stage. */
export const TransitionStageBody = z.strictObject({
  stage: z
    .string()
    .refine((s) => ModelStage.options.some((o) => o.toLowerCase() === s.toLowerCase()), { message: `must be one of ${ModelStage.options.join(', ')}` })
    .describe('Target stage: None, Staging, Production or Archived (case-insensitive).'),
  archiveExistingVersions: z.boolean().default(false).describe('Archive the other versions in the target stage.'),
});
/** Body of POST /models/{name}/versions/{version}/stage. */
export type TransitionStageBody = z.input<typeof TransitionStageBody>;
