/** Wire schemas of the run routes. */
import { z } from 'zod';
import { EpochMillis, named } from './common.js';
import { LifecycleStage, Tag, TagsInput, ViewType } from './experiments.js';

/** A metric value: a number, or "NaN" / "Infinity" / "-Infinity", which JSON cannot carry as numbers. */
// A literal set, not z.enum: an enum keyed '-Infinity' makes TypeScript emit a broken declaration file.
export const MetricValue = z.union([z.number(), z.literal(['NaN', 'Infinity', '-Infinity'])]);

/** One metric point. */
export const Metric = named(
  z.object({ key: z.string(), value: MetricValue, timestamp: EpochMillis, step: z.number().int() }),
  'Metric',
  'One metric point: value at a step and time.',
);
/** One metric point. */
export type Metric = z.infer<typeof Metric>;

/** A run parameter. */
export const Param = named(z.object({ key: z.string(), value: z.string() }), 'Param', 'A run parameter, logged once.');
/** A run parameter. */
export type Param = z.infer<typeof Param>;

/** Every run status. */
export const RunStatus = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);

/** A run with its latest metrics, params, tags and dataset inputs. */
export const Run = named(
  z.object({
    info: z.object({
      runId: z.string(),
      runName: z.string(),
      experimentId: z.string(),
      userId: z.string(),
      status: RunStatus,
      startTime: EpochMillis,
      endTime: EpochMillis.optional(),
      artifactUri: z.string(),
      lifecycleStage: LifecycleStage,
    }),
    data: z.object({ metrics: z.array(Metric), params: z.array(Param), tags: z.array(Tag) }),
    inputs: z.object({
      datasetInputs: z.array(
        z.object({
          tags: z.array(Tag),
          dataset: z.object({
            name: z.string(),
            digest: z.string(),
            sourceType: z.string(),
            source: z.string(),
            schema: z.string().optional(),
            profile: z.string().optional(),
          }),
        }),
      ),
    }),
  }),
  'Run',
  'A run: its info, the latest value of each metric, its params and tags, and its dataset inputs.',
);
/** A run. */
export type Run = z.infer<typeof Run>;

/** Path parameter naming a run. */
export const RunIdParams = z.object({ runId: z.string().regex(/^[0-9a-f]{32}$/, 'must be a 32-character hex run id') });

/** Body of POST /runs/search. */
export const SearchRunsBody = z.strictObject({
  experimentIds: z.array(z.string().regex(/^\d+$/, 'must be a numeric experiment id')).optional().describe('Experiments to search; all active experiments when absent.'),
  filter: z.string().optional().describe("MLflow filter, e.g. metrics.rmse < 1 and params.model = 'tree'."),
  orderBy: z.array(z.string()).optional().describe('e.g. ["metrics.rmse ASC"]'),
  runViewType: ViewType.optional(),
  maxResults: z.number().int().min(1).max(50000).default(100),
  pageToken: z.string().optional(),
});
/** Body of POST /runs/search. */
export type SearchRunsBody = z.input<typeof SearchRunsBody>;

/** A page of runs. */
export const RunPage = named(
  z.object({ runs: z.array(Run), nextPageToken: z.string().optional() }),
  'RunPage',
  'A page of runs; pass nextPageToken to get the next one.',
);
/** A page of runs. */
export type RunPage = z.infer<typeof RunPage>;

/** Body of POST /runs. */
export const CreateRunBody = z.strictObject({
  experimentId: z.string().regex(/^\d+$/, 'must be a numeric experiment id').default('0'),
  runName: z.string().min(1).max(250).optional(),
  startTime: EpochMillis.optional(),
  userId: z.string().optional(),
  tags: TagsInput.optional(),
});
/** Body of POST /runs. */
export type CreateRunBody = z.input<typeof CreateRunBody>;

/** Body of PATCH /runs/{runId}. */
export const UpdateRunBody = z
  .strictObject({ status: RunStatus.optional(), endTime: EpochMillis.optional(), runName: z.string().min(1).max(250).optional() })
  .refine((b) => b.status !== undefined || b.endTime !== undefined || b.runName !== undefined, { message: 'give at least one of status, endTime, runName' });
/** Body of PATCH /runs/{runId}. */
export type UpdateRunBody = z.input<typeof UpdateRunBody>;

/** A metric point to log; timestamp defaults to now and step to 0. */
export const MetricInput = z.strictObject({
  key: z.string().min(1).max(250),
  value: MetricValue,
  timestamp: EpochMillis.optional(),
  step: z.number().int().default(0),
});

/** Body of POST /runs/{runId}/log: metrics, params and tags in one atomic call. */
export const LogRunBody = z.strictObject({
  metrics: z.array(MetricInput).max(1000, 'at most 1000 metrics per call').default([]),
  params: z
    .union([z.array(z.object({ key: z.string().min(1).max(250), value: z.string().max(6000) })), z.record(z.string().min(1).max(250), z.string().max(6000))])
    .transform((v) => (Array.isArray(v) ? v : Object.entries(v).map(([key, value]) => ({ key, value }))))
    .refine((v) => v.length <= 100, 'at most 100 params per call')
    .default([]),
  tags: TagsInput.refine((v) => v.length <= 100, 'at most 100 tags per call').default([]),
});
/** Body of POST /runs/{runId}/log. */
export type LogRunBody = z.input<typeof LogRunBody>;

/** Body of POST /runs/{runId}/inputs: the datasets a run used, as MLflow's log-inputs records them. */
export const LogInputsBody = z.strictObject({
  datasets: z
    .array(
      z.strictObject({
        // Lengths are checked by the tracking service, with MLflow's messages (a digest has at most 36 characters).
        dataset: z.strictObject({
          name: z.string(),
          digest: z.string(),
          sourceType: z.string(),
          source: z.string(),
          schema: z.string().optional(),
          profile: z.string().optional(),
        }),
        tags: z.array(z.object({ key: z.string(), value: z.string() })).default([]).describe('Input tags, e.g. mlflow.data.context = training.'),
      }),
    )
    .min(1)
    .max(1000, 'at most 1000 datasets per call'),
});
/** Body of POST /runs/{runId}/inputs. */
export type LogInputsBody = z.input<typeof LogInputsBody>;

/** Path parameters of the metric history route. */
export const MetricHistoryParams = RunIdParams.extend({ key: z.string().min(1) });

/** Query of the metric history route. */
export const MetricHistoryQuery = z.object({
  maxResults: z.coerce.number<number>().int().min(1).max(25000).optional().describe('Page size (at most 25000); every point when absent.'),
  pageToken: z.string().optional(),
});

/** A page of a metric's history. */
export const MetricHistory = named(
  z.object({ metrics: z.array(Metric), nextPageToken: z.string().optional() }),
  'MetricHistory',
  "Every logged point of one of a run's metrics, by step then time.",
);
/** A page of a metric's history. */
export type MetricHistory = z.infer<typeof MetricHistory>;

// An empty `from=` would coerce to 0: read it as the bad number it is.
const WindowEdge = z.preprocess((v) => (v === '' ? Number.NaN : v), z.coerce.number<number>()).optional();

/** Query of the downsampled metric history routes: the point budget, the x axis and an optional window on it. */
export const DownsampledHistoryQuery = z.object({
  maxPoints: z.coerce.number<number>().int().min(5).max(10000).optional().describe('At most this many points (5 to 10000); 1000 when absent.'),
  x: z.enum(['step', 'time']).optional().describe('The x axis the buckets cut: step (default) or time (timestamp in milliseconds).'),
  from: WindowEdge.describe('Only points with x >= from.'),
  to: WindowEdge.describe('Only points with x <= to.'),
});
/** Query of the downsampled metric history routes. */
export type DownsampledHistoryQuery = z.input<typeof DownsampledHistoryQuery>;

const DownsampledFields = {
  points: z.array(Metric),
  total: z.number().int().describe('Points of the series inside the window.'),
  returned: z.number().int().describe('Points in this answer.'),
  downsampled: z.boolean().describe('False when every point of the window is returned unchanged.'),
};

/** One metric of a run, downsampled for a chart. */
export const DownsampledMetricHistory = named(
  z.object({ key: z.string(), x: z.enum(['step', 'time']), ...DownsampledFields }),
  'DownsampledMetricHistory',
  "One metric of a run for a chart: at most maxPoints points in x order, per x bucket the first, last, minimum and maximum (the series' extremes always kept).",
);
/** One metric of a run, downsampled for a chart. */
export type DownsampledMetricHistory = z.infer<typeof DownsampledMetricHistory>;

/** Query of the several-run downsampled history route. */
export const DownsampledHistoriesQuery = DownsampledHistoryQuery.extend({
  runIds: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((id) => id.trim()).filter((id) => id !== ''))
    .pipe(z.array(z.string().regex(/^[0-9a-f]{32}$/, 'must be 32-character hex run ids')).min(1).max(100, 'at most 100 runs'))
    .describe('Comma-separated run ids (at most 100).'),
  key: z.string().min(1).describe('The metric key.'),
});
/** Query of the several-run downsampled history route. */
export type DownsampledHistoriesQuery = z.input<typeof DownsampledHistoriesQuery>;

/** One metric of several runs, each downsampled for a chart. */
export const DownsampledMetricHistories = named(
  z.object({ key: z.string(), x: z.enum(['step', 'time']), histories: z.array(z.object({ runId: z.string(), ...DownsampledFields })) }),
  'DownsampledMetricHistories',
  'One metric of several runs for a compare chart, each downsampled as the single-run route does, in the order asked.',
);
/** One metric of several runs, each downsampled for a chart. */
export type DownsampledMetricHistories = z.infer<typeof DownsampledMetricHistories>;
