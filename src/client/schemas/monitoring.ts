/**
 * Wire types of the monitoring routes the SDK calls. Those routes validate their own bodies
 * (see docs/monitoring.md), so these are plain types rather than zod schemas.
 */

/** A late label for one prediction, by the request id it was served under: one `label`, or `labels` for a batch request's rows. */
export type GroundTruthLabel = { requestId: string; label: unknown } | { requestId: string; labels: unknown[] };

/** What recording ground truth did. */
export interface GroundTruthResult {
  /** Labels stored (joined with their predictions). */
  accepted: number;
  /** Request ids with no stored prediction for the model; their labels were not stored. */
  unknown: string[];
}
