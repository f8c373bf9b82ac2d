/**
 * Wire schemas of the serving figures: a snapshot of the cumulative request counts,
 * latency histograms, queue depths and in-flight requests of every model this server
 * serves. Rates and quantiles come from the difference between two snapshots.
 */
import { z } from 'zod';
import { EpochMillis, named } from './common.js';

/** A cumulative latency histogram, in seconds, as Prometheus exposes one. */
export const LatencyHistogram = named(
  z.object({
    bounds: z.array(z.number()).describe('Bucket upper bounds in seconds, ascending (the +Inf bucket is implied).'),
    counts: z.array(z.number()).describe('Cumulative counts: counts[i] observations at or below bounds[i]; the last entry (one more than bounds) is the +Inf bucket, equal to count.'),
    sum: z.number().describe('Sum of the observed latencies in seconds.'),
    count: z.number().describe('Observations.'),
  }),
  'LatencyHistogram',
  'A cumulative latency histogram (seconds): bucket bounds, cumulative counts, sum and count.',
);
export type LatencyHistogram = z.infer<typeof LatencyHistogram>;

/** Requests by outcome. */
export const RequestCounts = named(
  z.object({
    total: z.number(),
    ok: z.number().describe('Answered (HTTP 2xx).'),
    clientError: z.number().describe('Refused for the request itself (HTTP 4xx: bad input, unknown model or version).'),
    serverError: z.number().describe('Failed on the server side (HTTP 5xx: model failure, not ready, queue full, deadline exceeded).'),
    byStatus: z.record(z.string(), z.number()).describe('Every HTTP status seen, with its count.'),
  }),
  'RequestCounts',
  'Cumulative requests by outcome.',
);
export type RequestCounts = z.infer<typeof RequestCounts>;

/** One served version's figures. */
export const ServedVersionStats = named(
  z.object({
    version: z.string().describe("The model version; '' for requests refused before a version was chosen (the model was not ready or not found)."),
    requests: RequestCounts,
    latency: LatencyHistogram.nullable().describe('Latency of answered requests; null before the first.'),
    queueDepth: z.number().describe('Requests waiting in the batching queue now.'),
    inFlightBatches: z.number().describe('Batches executing now.'),
  }),
  'ServedVersionStats',
  'Cumulative figures of one model version.',
);
export type ServedVersionStats = z.infer<typeof ServedVersionStats>;

/** One side of a traffic split. */
export const SplitRoleStats = named(
  z.object({
    version: z.string(),
    role: z.enum(['champion', 'challenger', 'shadow']).or(z.string()).describe('champion, challenger, or shadow for mirrored copies.'),
    requests: z.number().describe('Requests this side handled (answered or failed).'),
    errors: z.number().describe('Requests this side failed on the server side.'),
    latency: LatencyHistogram.nullable(),
  }),
  'SplitRoleStats',
  'Cumulative figures of one side of a traffic split while a release runs.',
);
export type SplitRoleStats = z.infer<typeof SplitRoleStats>;

/** One model's figures. */
export const ServedModelStats = named(
  z.object({
    model: z.string(),
    state: z.string().nullable().describe('READY, LOADING, UNAVAILABLE… as the repository index says; null when the model is not loaded (its figures remain).'),
    servedVersion: z.string().nullable().describe('The version serving now (or loading); null when not loaded.'),
    reason: z.string().describe('Why the model is not ready, or why its last load failed; empty otherwise.'),
    inFlight: z.number().describe('Requests accepted and not yet answered, all versions.'),
    versions: z.array(ServedVersionStats),
    roles: z.array(SplitRoleStats).describe('Per version and role, once a release split its traffic; empty otherwise.'),
  }),
  'ServedModelStats',
  'Cumulative serving figures of one model.',
);
export type ServedModelStats = z.infer<typeof ServedModelStats>;

/** GET /serving/stats. */
export const ServingStats = named(
  z.object({
    time: EpochMillis.describe("The server's clock when the snapshot was taken."),
    startedTime: EpochMillis.describe('When the server started; counts are cumulative since then.'),
    uptimeMs: z.number().describe('time - startedTime.'),
    models: z.array(ServedModelStats).describe('Sorted by model name; only the models the caller may read.'),
  }),
  'ServingStats',
  'A snapshot of cumulative serving figures; rates and quantiles come from the difference between two snapshots.',
);
export type ServingStats = z.infer<typeof ServingStats>;

/** GET /serving/stats query. */
export const ServingStatsQuery = z.object({
  model: z.string().min(1).max(1000).optional().describe('Only this model.'),
});
export type ServingStatsQuery = z.input<typeof ServingStatsQuery>;
