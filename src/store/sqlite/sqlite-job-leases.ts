/**
 * Job leases on SQLite: a row per lease with an expiry, taken and renewed in immediate
 * transactions, so two processes on one database file never both hold a job. SQLite has no
 * connection-bound locks; a holder that died on this machine is noticed by its process id, and
 * one elsewhere (a database file on a shared volume) keeps its lease until the expiry.
 */
import { hostname } from 'node:os';
import type { Transaction } from 'kysely';
import type { JobLeases, LeaseGrant } from '../../core/job-leases.js';
import { fencedTransaction } from '../fenced-transaction.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';

/**
 * Whether a holder named `host:pid:…` was a process of this machine that has ended: its lease
 * need not run out first (a server killed and started again takes its jobs back at once).
 */
function holderIsGone(holder: string): boolean {
  const parts = holder.split(':');
  const pid = Number(parts.at(-2));
  if (parts.slice(0, -2).join(':') !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: the process exists under another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** `JobLeases` over a SQLite store (the clock is the local one: every holder shares the file's machine). */
export class SqliteJobLeases implements JobLeases<Transaction<Database>> {
  constructor(
    private readonly store: Store,
    readonly holder: string,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<LeaseGrant | undefined> {
    return this.store.db.transaction().execute(async (tx) => {
      const now = Date.now();
      const row = await tx.selectFrom('job_leases').select(['holder', 'token', 'expires_at']).where('name', '=', name).executeTakeFirst();
      if (row && Number(row.expires_at) > now && !holderIsGone(row.holder)) return undefined;
      const token = Number(row?.token ?? 0) + 1;
      const values = { name, holder: this.holder, token, expires_at: now + ttlMs, backend_pid: null, acquired_time: now };
      await tx
        .insertInto('job_leases')
        .values(values)
        .onConflict((oc) => oc.column('name').doUpdateSet({ holder: values.holder, token, expires_at: values.expires_at, backend_pid: null, acquired_time: now }))
        .execute();
      return { name, holder: this.holder, token, expiresAt: values.expires_at };
    });
  }

  async renew(grant: LeaseGrant, ttlMs: number): Promise<LeaseGrant | undefined> {
    const expiresAt = Date.now() + ttlMs;
    const res = await this.store.db
      .updateTable('job_leases')
      .set({ expires_at: expiresAt })
      .where('name', '=', grant.name)
      .where('token', '=', grant.token)
      .where('holder', '=', this.holder)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? { ...grant, expiresAt } : undefined;
  }

  async release(grant: LeaseGrant): Promise<void> {
    await this.store.db.updateTable('job_leases').set({ expires_at: 0 }).where('name', '=', grant.name).where('token', '=', grant.token).where('holder', '=', this.holder).execute();
  }

  fenced<T>(grant: LeaseGrant, work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return fencedTransaction(this.store, grant, work);
  }

  onLost(): () => void {
    // Nothing connection-bound to lose: a SQLite lease ends only by expiry or takeover, which renewal sees.
    return () => {};
  }

  async close(): Promise<void> {}
}
