/**
 * Retention of live monitoring's per-request records: stored predictions (kept for labels that
 * arrive late) and ground-truth labels older than the retention are deleted in bounded batches,
 * so one pass never holds the store for long. Windows (profiles and figures) are kept.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { Store } from '../../store/store.js';

/** Rows deleted per statement. */
const BATCH = 5000;

/** Runs one batch's deletion in one transaction (e.g. fenced by a job lease). */
export type RetentionTransaction = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

/** What a pass deleted. */
export interface RetentionResult {
  predictions: number;
  labels: number;
}

/**
 * Deletes predictions served before `before` and labels received before it (epoch ms), batch by
 * batch until none is left or `signal` aborts.
 */
export async function pruneMonitoring(store: Store, before: number, transaction: RetentionTransaction = (work) => store.db.transaction().execute(work), signal?: AbortSignal): Promise<RetentionResult> {
  const out: RetentionResult = { predictions: 0, labels: 0 };
  for (;;) {
    if (signal?.aborted) return out;
    const deleted = await transaction(async (trx) =>
      Number(
        (
          await trx
            .deleteFrom('monitoring_predictions')
            .where('request_id', 'in', (eb) => eb.selectFrom('monitoring_predictions').select('request_id').where('time', '<', before).limit(BATCH))
            .executeTakeFirst()
        ).numDeletedRows,
      ),
    );
    out.predictions += deleted;
    if (deleted < BATCH) break;
  }
  for (;;) {
    if (signal?.aborted) return out;
    const deleted = await transaction(async (trx) =>
      Number(
        (
          await trx
            .deleteFrom('monitoring_ground_truth')
            .where('request_id', 'in', (eb) => eb.selectFrom('monitoring_ground_truth').select('request_id').where('received_time', '<', before).limit(BATCH))
            .executeTakeFirst()
        ).numDeletedRows,
      ),
    );
    out.labels += deleted;
    if (deleted < BATCH) break;
  }
  return out;
}
