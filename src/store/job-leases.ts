/**
 * Background-job leases over the metadata store: PostgreSQL holds each lease as a session
 * advisory lock on a dedicated connection; SQLite as a row with an expiry. Both keep the fencing
 * token in the `job_leases` table, where fenced work checks it inside its own transaction.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Transaction } from 'kysely';
import type { JobLeases } from '../core/job-leases.js';
import type { Logger } from '../core/logger.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';
import { SqliteJobLeases } from './sqlite/sqlite-job-leases.js';

/** Job leases whose fenced work runs in a store transaction. */
export type StoreJobLeases = JobLeases<Transaction<Database>>;

/** A holder name that tells operators which process holds a lease. */
export function defaultLeaseHolder(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Options of `openJobLeases`. */
export interface JobLeasesOptions {
  /** @default host:pid:random */
  holder?: string;
  logger?: Logger;
}

/** The job leases of `store`'s backend. */
export async function openJobLeases(store: Store, opts: JobLeasesOptions = {}): Promise<StoreJobLeases> {
  const holder = opts.holder ?? defaultLeaseHolder();
  if (store.dialect === 'postgres') {
    const { PostgresJobLeases } = await import('./postgres/postgres-job-leases.js');
    return new PostgresJobLeases(store, holder, opts.logger);
  }
  return new SqliteJobLeases(store, holder);
}
