/**
 * Job leases on PostgreSQL: each lease is a session-level advisory lock held on one dedicated
 * connection of this process (not a pooled one), plus a `job_leases` row with the fencing token
 * and an expiry the holder renews.
 *
 * Why session locks: when the holder dies its connection closes and PostgreSQL drops the lock at
 * once, so another replica takes the job on its next try. A holder that is alive but stalled
 * (paused, swapping, partitioned) keeps its connection; once its row has been expired for a
 * whole lease time, a competitor ends that backend (`pg_terminate_backend`), which frees the
 * lock. The token rises at every takeover, so the stalled holder's late work is refused by
 * `fenced`, and its next renewal fails.
 */
import pg from 'pg';
import type { Transaction } from 'kysely';
import type { JobLeases, LeaseGrant } from '../../core/job-leases.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { fencedTransaction } from '../fenced-transaction.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';

/** The first key of every job advisory lock (the audit chain uses the one-key form). */
const LOCK_CLASS = 7419002;

/** A stable 32-bit signed key for a lease name (FNV-1a). */
export function leaseLockKey(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** `JobLeases` over a PostgreSQL store. */
export class PostgresJobLeases implements JobLeases<Transaction<Database>> {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  /** Leases held on the current client; a new client holds none. */
  private readonly held = new Set<string>();
  private readonly lostListeners = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly store: Store,
    readonly holder: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const options = (this.store.pool as pg.Pool).options;
      const client = new pg.Client({
        ...options,
        application_name: `slipway-leases ${this.holder}`,
        keepAlive: true,
        // A statement that hangs (a partition) must fail, so the runner stops before the lease lapses.
        query_timeout: 5000,
      } as pg.ClientConfig);
      const ended = (err?: Error): void => {
        if (this.client !== client) return;
        this.client = undefined;
        const hadLeases = this.held.size > 0;
        this.held.clear();
        if (hadLeases) {
          this.logger.warn({ err: err?.message }, 'jobs: the lease connection ended; its leases are gone');
          for (const l of this.lostListeners) l();
        }
      };
      // The connection ending (a PostgreSQL restart, a terminated backend) must not crash the process.
      client.on('error', (err) => ended(err));
      client.on('end', () => ended());
      try {
        await client.connect();
      } catch (err) {
        client.removeAllListeners('end');
        await client.end().catch(() => {});
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async acquire(name: string, ttlMs: number): Promise<LeaseGrant | undefined> {
    if (this.closed) return undefined;
    const client = await this.connect();
    const key = leaseLockKey(name);
    const locked = (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::int, $2::int) as ok', [LOCK_CLASS, key])).rows[0]?.ok === true;
    if (!locked) {
      await this.endStalledHolder(client, name, ttlMs);
      return undefined;
    }
    try {
      const res = await client.query<{ token: number }>(
        `insert into job_leases (name, holder, token, expires_at, backend_pid, acquired_time)
         values ($1, $2, 1, ${NOW_MS} + $3::bigint, pg_backend_pid(), ${NOW_MS})
         on conflict (name) do update set holder = excluded.holder, token = job_leases.token + 1,
           expires_at = excluded.expires_at, backend_pid = excluded.backend_pid, acquired_time = excluded.acquired_time
         returning token`,
        [name, this.holder, ttlMs],
      );
      this.held.add(name);
      return { name, holder: this.holder, token: Number(res.rows[0]?.token), expiresAt: Date.now() + ttlMs };
    } catch (err) {
      await client.query('select pg_advisory_unlock($1::int, $2::int)', [LOCK_CLASS, key]).catch(() => {});
      throw err;
    }
  }

  /** Ends the backend of a holder whose lease row has been expired for a whole lease time (it is stalled, not dead). */
  private async endStalledHolder(client: pg.Client, name: string, ttlMs: number): Promise<void> {
    const row = (
      await client.query<{ holder: string; backend_pid: number | null; overdue: boolean }>(
        `select holder, backend_pid, expires_at + $2::bigint < ${NOW_MS} as overdue from job_leases where name = $1`,
        [name, ttlMs],
      )
    ).rows[0];
    if (!row?.overdue || row.backend_pid === null) return;
    this.logger.warn({ lease: name, holder: row.holder, pid: row.backend_pid }, 'jobs: the lease holder stopped renewing; ending its connection to take over');
    // Only the backend that holds this job's lock now: after a PostgreSQL restart the recorded id may be another's.
    await client.query(
      `select pg_terminate_backend(pid) from pg_locks
       where locktype = 'advisory' and classid = $1::int::oid and objid = $2::int::oid and objsubid = 2 and granted and pid = $3`,
      [LOCK_CLASS, leaseLockKey(name), row.backend_pid],
    );
  }

  async renew(grant: LeaseGrant, ttlMs: number): Promise<LeaseGrant | undefined> {
    const client = this.client;
    if (!client || !this.held.has(grant.name)) return undefined;
    const res = await client.query(`update job_leases set expires_at = ${NOW_MS} + $3::bigint where name = $1 and token = $2 and backend_pid = pg_backend_pid()`, [
      grant.name,
      grant.token,
      ttlMs,
    ]);
    if (res.rowCount === 1) return { ...grant, expiresAt: Date.now() + ttlMs };
    this.held.delete(grant.name);
    await client.query('select pg_advisory_unlock($1::int, $2::int)', [LOCK_CLASS, leaseLockKey(grant.name)]).catch(() => {});
    return undefined;
  }

  async release(grant: LeaseGrant): Promise<void> {
    const client = this.client;
    if (!client || !this.held.has(grant.name)) return;
    this.held.delete(grant.name);
    await client.query('update job_leases set expires_at = 0 where name = $1 and token = $2', [grant.name, grant.token]);
    await client.query('select pg_advisory_unlock($1::int, $2::int)', [LOCK_CLASS, leaseLockKey(grant.name)]);
  }

  fenced<T>(grant: LeaseGrant, work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return fencedTransaction(this.store, grant, work);
  }

  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener);
    return () => void this.lostListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.held.clear();
    // Ending the session drops every advisory lock it holds.
    if (client) await client.end().catch(() => {});
  }
}
