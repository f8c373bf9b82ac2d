import type { Transaction } from 'kysely';
import { leaseLostError, type LeaseGrant } from '../core/job-leases.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/**
 * Runs `work` in one transaction after checking that `grant`'s token is the lease's current one.
 * On PostgreSQL the row is read FOR SHARE, so a new holder's takeover (which raises the token)
 * waits for this transaction: late work either commits before the takeover or not at all.
 */
export async function fencedTransaction<T>(store: Store, grant: LeaseGrant, work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  return store.db.transaction().execute(async (tx) => {
    let q = tx.selectFrom('job_leases').select(['token', 'holder']).where('name', '=', grant.name);
    if (store.dialect === 'postgres') q = q.forShare();
    const row = await q.executeTakeFirst();
    if (!row || Number(row.token) !== grant.token || row.holder !== grant.holder) throw leaseLostError(grant.name, grant.token);
    return work(tx);
  });
}
