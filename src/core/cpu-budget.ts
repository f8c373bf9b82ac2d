/**
 * How many CPUs this process may use: the cores it may run on, capped by a cgroup v2 CPU quota
 * when it has one (a container limited to 2 CPUs on a 64-core node gets 2, not 64).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The CPUs a default (workers, threads) should plan for: at least 1. */
export function cpuBudget(cgroupFile = '/sys/fs/cgroup/cpu.max'): number {
  const cores = availableParallelism();
  try {
    // "max 100000" (no quota) or "<quota> <period>" in microseconds.
    const [quota, period] = readFileSync(cgroupFile, 'utf8').trim().split(/\s+/);
    const q = Number(quota);
    const p = Number(period);
    if (quota !== 'max' && q > 0 && p > 0) return Math.max(1, Math.min(cores, Math.ceil(q / p)));
  } catch {
    // No cgroup v2 quota here.
  }
  return cores;
}
