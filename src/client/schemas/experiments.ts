/** Wire schemas of the experiment routes. */
import { z } from 'zod';
import { EpochMillis, Name, named, pageSize } from './common.js';

/** A key/value tag. */
export const Tag = named(
  z.object({ key: z.string().min(1).max(250), value: z.string().max(5000) }),
  'Tag',
  'A key/value tag on an experiment or run.',
);
/** A key/value tag. */
export type Tag = z.infer<typeof Tag>;

/** Tags given as a list of {key, value} or as a {key: value} map. */
export const TagsInput = z
  .union([z.array(Tag), z.record(z.string().min(1).max(250), z.string().max(5000))])
  .transform((v): Tag[] => (Array.isArray(v) ? v : Object.entries(v).map(([key, value]) => ({ key, value }))));

/** Lifecycle of an experiment or run. */
export const LifecycleStage = z.enum(['active', 'deleted']);

/** Which lifecycle stages a list returns. */
export const ViewType = z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']).describe('Which lifecycle stages to return. Default ACTIVE_ONLY.');

/** An experiment. */
export const Experiment = named(
  z.object({
    experimentId: z.string(),
    name: z.string(),
    artifactLocation: z.string(),
    lifecycleStage: LifecycleStage,
    creationTime: EpochMillis,
    lastUpdateTime: EpochMillis,
    tags: z.array(Tag),
  }),
  'Experiment',
  'A named group of runs.',
);
/** An experiment. */
export type Experiment = z.infer<typeof Experiment>;

/** Path parameter naming an experiment by id. */
export const ExperimentIdParams = z.object({ experimentId: z.string().regex(/^\d+$/, 'must be a numeric experiment id') });

/** Path parameter naming an experiment by name. */
export const ExperimentNameParams = z.object({ name: Name });

/** Query of GET /experiments. */
export const ListExperimentsQuery = z.object({
  filter: z.string().optional().describe("MLflow filter, e.g. name LIKE 'fraud-%' and tags.team = 'risk'."),
  orderBy: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional()
    .describe('Order clauses, e.g. `name ASC`; repeat the parameter for several.'),
  view: ViewType.optional(),
  maxResults: pageSize(1000, 100),
  pageToken: z.string().optional(),
});
/** Query of GET /experiments. */
export type ListExperimentsQuery = z.input<typeof ListExperimentsQuery>;

/** A page of experiments. */
export const ExperimentPage = named(
  z.object({ experiments: z.array(Experiment), nextPageToken: z.string().optional() }),
  'ExperimentPage',
  'A page of experiments; pass nextPageToken to get the next one.',
);
/** A page of experiments. */
export type ExperimentPage = z.infer<typeof ExperimentPage>;

/** Body of POST /experiments. */
export const CreateExperimentBody = z.strictObject({
  name: Name,
  artifactLocation: z.string().min(1).optional(),
  tags: TagsInput.optional(),
});
/** Body of POST /experiments. */
export type CreateExperimentBody = z.input<typeof CreateExperimentBody>;

/** Body of PATCH /experiments/{experimentId}: rename and/or set tags. */
export const UpdateExperimentBody = z
  .strictObject({ name: Name.optional(), tags: TagsInput.optional() })
  .refine((b) => b.name !== undefined || b.tags !== undefined, { message: 'give at least one of name, tags' });
/** Body of PATCH /experiments/{experimentId}. */
export type UpdateExperimentBody = z.input<typeof UpdateExperimentBody>;
