/**
 * Leases for background jobs that must run in exactly one server process at a time (monitoring
 * window finalisation, alert evaluation, retention, release recovery), and the runner that runs
 * each job only while it holds the job's lease.
 *
 * A lease has a name, a holder and a fencing token that grows by one each time the lease changes
 * hands. Work done under a lease commits through `fenced`, which refuses it when the token is no
 * longer current: a holder that stalled past its lease and was taken over cannot act late.
 */
import { SlipwayError } from './errors.js';
import type { Logger } from './logger.js';

/** A held lease. */
export interface LeaseGrant {
  name: string;
  holder: string;
  /** Fencing token: larger for every new holder of the name. */
  token: number;
  /** When the lease lapses unless renewed (epoch ms, the local clock). */
  expiresAt: number;
}

/** Leases of named jobs; `Tx` is the store's transaction type, in which fenced work commits. */
export interface JobLeases<Tx = unknown> {
  /** Who this process is, as recorded on the leases it holds. */
  readonly holder: string;
  /** Takes lease `name` for `ttlMs` when nobody else holds it; undefined when someone does. */
  acquire(name: string, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Extends a held lease; undefined when it was lost (taken over, or the connection that held it died). */
  renew(grant: LeaseGrant, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Gives a lease back so another process may take it at once. */
  release(grant: LeaseGrant): Promise<void>;
  /** Runs `work` in one transaction that commits only while `grant`'s token is still current. */
  fenced<T>(grant: LeaseGrant, work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Calls `listener` when every lease of this process was lost at once (its lock connection ended). */
  onLost(listener: () => void): () => void;
  /** Releases what is held and closes connections. */
  close(): Promise<void>;
}

/** The error `fenced` throws for work whose lease has changed hands. */
export function leaseLostError(name: string, token: number): SlipwayError {
  return new SlipwayError('CONFLICT', `The lease '${name}' (token ${token}) is no longer held by this process; its work was not committed.`, { lease: name, token });
}

/** What a job sees while it runs. */
export interface JobContext {
  grant: LeaseGrant;
  /** Aborts as soon as the lease is lost or the runner stops. */
  signal: AbortSignal;
}

/** A background job. */
export interface JobSpec {
  name: string;
  /** Time between runs while the lease is held, in ms. */
  intervalMs: number;
  /** Runs the job once; work that changes shared state should commit through `leases.fenced(ctx.grant, …)`. */
  run(ctx: JobContext): Promise<void>;
  /** Called when this process takes the lease (e.g. to recover what the last holder left). */
  onAcquired?(ctx: JobContext): Promise<void>;
}

/** Options of the job runner. */
export interface JobRunnerOptions<Tx = unknown> {
  leases: JobLeases<Tx>;
  logger: Logger;
  /** Lease time: how long a dead holder may keep a job from running. @default 10000 */
  ttlMs?: number;
}

interface JobState {
  spec: JobSpec;
  grant: LeaseGrant | undefined;
  controller: AbortController | undefined;
  timer: NodeJS.Timeout | undefined;
  nextRunAt: number;
  running: Promise<void> | undefined;
}

/**
 * Runs each job only while holding its lease: tries to take the lease every third of the lease
 * time, renews it as often, runs the job at its interval, aborts the job at once when a renewal
 * fails or the lease would lapse before the next renewal, and gives leases back on close.
 */
export class JobRunner<Tx = unknown> {
  readonly ttlMs: number;
  private readonly jobs = new Map<string, JobState>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: JobRunnerOptions<Tx>) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    if (!(this.ttlMs >= 300)) throw new SlipwayError('INVALID_ARGUMENT', `The job lease time must be at least 300 ms, got ${this.ttlMs}.`);
    this.unsubscribe = opts.leases.onLost(() => {
      for (const job of this.jobs.values()) this.lose(job, 'the lease connection ended');
    });
  }

  /** The leases this runner works with. */
  get leases(): JobLeases<Tx> {
    return this.opts.leases;
  }

  /** Adds a job and starts competing for its lease. */
  add(spec: JobSpec): void {
    if (this.closed) throw new SlipwayError('UNAVAILABLE', 'The job runner is closed.');
    if (this.jobs.has(spec.name)) throw new SlipwayError('ALREADY_EXISTS', `A job named '${spec.name}' is already running.`);
    const job: JobState = { spec, grant: undefined, controller: undefined, timer: undefined, nextRunAt: 0, running: undefined };
    this.jobs.set(spec.name, job);
    this.schedule(job, 0);
  }

  /** The names of the jobs added. */
  jobNames(): string[] {
    return [...this.jobs.keys()];
  }

  /** Whether this process holds the lease of job `name` now. */
  holds(name: string): boolean {
    return this.jobs.get(name)?.grant !== undefined;
  }

  /** The current grant of job `name`, if held. */
  grantOf(name: string): LeaseGrant | undefined {
    return this.jobs.get(name)?.grant;
  }

  private schedule(job: JobState, delayMs: number): void {
    if (this.closed) return;
    job.timer = setTimeout(() => void this.tick(job), Math.max(0, delayMs));
    // Background work never keeps a process alive on its own.
    job.timer.unref();
  }

  private lose(job: JobState, why: string): void {
    if (!job.grant) return;
    this.opts.logger.warn({ job: job.spec.name, token: job.grant.token, why }, 'jobs: lease lost; the job stops here');
    job.controller?.abort(new Error(`lease lost: ${why}`));
    job.grant = undefined;
    job.controller = undefined;
  }

  private async tick(job: JobState): Promise<void> {
    job.timer = undefined;
    if (this.closed) return;
    const beat = Math.max(100, Math.floor(this.ttlMs / 3));
    try {
      if (!job.grant) {
        const grant = await this.opts.leases.acquire(job.spec.name, this.ttlMs);
        if (grant && !this.closed) {
          job.grant = grant;
          job.controller = new AbortController();
          this.opts.logger.info({ job: job.spec.name, token: grant.token }, 'jobs: lease taken');
          const ctx = { grant, signal: job.controller.signal };
          if (job.spec.onAcquired) this.runJob(job, () => (job.spec.onAcquired as NonNullable<JobSpec['onAcquired']>)(ctx));
          job.nextRunAt = Date.now();
        } else if (grant) {
          await this.opts.leases.release(grant);
        }
      } else {
        const before = job.grant;
        const renewed = await this.opts.leases.renew(before, this.ttlMs);
        if (job.grant !== before) return this.schedule(job, beat);
        if (renewed) job.grant = renewed;
        else this.lose(job, 'renewal refused: another process holds it');
      }
    } catch (err) {
      // A renewal that cannot reach the store may be overtaken by expiry: stop before the lease can lapse.
      if (job.grant && Date.now() + beat >= job.grant.expiresAt) this.lose(job, `renewal failed: ${(err as Error).message}`);
      else this.opts.logger.debug({ job: job.spec.name, err: (err as Error).message }, 'jobs: lease attempt failed');
    }
    if (job.grant && !job.running && Date.now() >= job.nextRunAt) {
      const ctx = { grant: job.grant, signal: (job.controller as AbortController).signal };
      job.nextRunAt = Date.now() + job.spec.intervalMs;
      this.runJob(job, () => job.spec.run(ctx));
    }
    const untilRun = job.grant ? Math.max(0, job.nextRunAt - Date.now()) : beat;
    this.schedule(job, Math.min(beat, untilRun));
  }

  private runJob(job: JobState, run: () => Promise<void>): void {
    const p = (job.running ?? Promise.resolve())
      .then(run)
      .catch((err: unknown) => {
        const level = job.controller?.signal.aborted === false ? 'error' : 'debug';
        this.opts.logger[level]({ job: job.spec.name, err: (err as Error).message }, 'jobs: run failed');
      })
      .finally(() => {
        if (job.running === p) job.running = undefined;
      });
    job.running = p;
  }

  /** Stops every job, waits for runs in progress, and gives the leases back so another process takes over at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const job of this.jobs.values()) {
      if (job.timer) clearTimeout(job.timer);
      job.timer = undefined;
    }
    await Promise.all([...this.jobs.values()].map((j) => j.running));
    for (const job of this.jobs.values()) {
      const grant = job.grant;
      job.controller?.abort(new Error('the job runner closed'));
      job.grant = undefined;
      if (grant) await this.opts.leases.release(grant).catch(() => {});
    }
  }
}
