// Profiling an in-memory table of 30 numeric columns (Float64Array), single thread.
// Run: npm run build && node bench/monitoring-profile.mjs [rows]
// Baseline, same run and same data: pandas `DataFrame.describe()` (count, mean, std,
// min, quartiles, max) on the same columns, one Python process (python3-pandas).
import { execFileSync } from 'node:child_process';
import { profileTable } from '../dist/monitoring/index.js';
import { columns } from './monitoring-common.mjs';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const COLS = 30;
const data = columns(ROWS, COLS, 42);
const table = { rows: ROWS, columns: data.map((values, c) => ({ name: `f${c}`, type: 'number', values })) };

// Wall time and CPU time (the machine is shared: CPU time is the per-core figure).
let best = Infinity;
let bestCpu = Infinity;
for (let rep = 0; rep < 3; rep++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const p = profileTable(table);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  if (p.rows !== ROWS) throw new Error('profile lost rows');
  best = Math.min(best, ms);
  bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
}
console.log(`slipway profileTable (moments, DDSketch, HyperLogLog): wall ${best.toFixed(0)} ms, CPU ${bestCpu.toFixed(0)} ms → ${(ROWS / bestCpu / 1000).toFixed(2)} M rows per CPU-second for ${COLS} columns`);

const py = `
import numpy as np, pandas as pd, time
rows, cols = ${ROWS}, ${COLS}
# Same shape and scale as the JS data (not bit-identical: the statistics cost does not depend on the values).
rng = np.random.default_rng(42)
df = pd.DataFrame({f"f{c}": rng.normal(0, 1 + c % 5, rows) + c * 10 for c in range(cols)})
best, best_cpu = 1e9, 1e9
for _ in range(3):
    t = time.perf_counter(); c = time.process_time(); df.describe()
    best = min(best, time.perf_counter() - t); best_cpu = min(best_cpu, time.process_time() - c)
print(best, best_cpu)
`;
try {
  const [secs, cpu] = execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } }).trim().split(' ').map(Number);
  console.log(`baseline pandas describe(): wall ${(secs * 1000).toFixed(0)} ms, CPU ${(cpu * 1000).toFixed(0)} ms → ${(ROWS / cpu / 1e6).toFixed(2)} M rows per CPU-second`);
} catch (err) {
  console.log(`baseline pandas describe(): unavailable (${err.message.split('\n')[0]})`);
}
