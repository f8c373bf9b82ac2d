/**
 * `slipway_job_lease_held{job}`: 1 while this process holds a background job's lease, else 0.
 * Summed over replicas it is 1 per job when all is well; 0 for longer than the lease time means
 * no replica runs the job, more than 1 never happens (the leases see to it).
 */
import { Gauge } from 'prom-client';
import type { JobRunner } from '../core/job-leases.js';
import { getMetricsRegistry } from './metrics-registry.js';

const runners = new Set<JobRunner<never>>();
let gauge: Gauge | undefined;

/** Publishes the leases of `runner` until the returned function is called. */
export function publishJobLeases(runner: JobRunner<never>): () => void {
  gauge ??= new Gauge({
    name: 'slipway_job_lease_held',
    help: '1 while this process holds the lease of the background job, else 0.',
    labelNames: ['job'],
    registers: [getMetricsRegistry()],
    collect() {
      this.reset();
      for (const r of runners) for (const name of r.jobNames()) this.set({ job: name }, r.holds(name) ? 1 : 0);
    },
  });
  runners.add(runner);
  return () => void runners.delete(runner);
}
