// Full drift + quality report for 1M × 30 reference and 1M × 30 current rows from CSV,
// end to end through the CLI (`slipway monitor report --json --html`), with its wall
// time and peak memory (GNU time), then the statistics alone.
// Run: npm run build && node bench/monitoring-report.mjs [rows]
// Baselines, same run and same files: pandas `read_csv` of the pair, and scipy computing
// per-column KS (ks_2samp), Wasserstein (wasserstein_distance), PSI and Jensen–Shannon
// (numpy Sturges histograms + scipy.spatial.distance.jensenshannon), as Evidently does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTable } from '../dist/monitoring/index.js';
import { binNumeric, jensenShannon, psi, wassersteinNorm } from '../dist/monitoring/stats/distances.js';
import { ksTwoSample } from '../dist/monitoring/stats/ks-test.js';
import { sortedWithoutNaN } from '../dist/monitoring/stats/radix-sort.js';
import { csvFile } from './monitoring-common.mjs';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const COLS = 30;
const ref = await csvFile('reference', ROWS, COLS, 7);
const cur = await csvFile('current', ROWS, COLS, 8, true);
const mb = (p) => (statSync(p).size / 1e6).toFixed(0);
console.log(`data: ${ROWS} × ${COLS} reference (${mb(ref)} MB) and current (${mb(cur)} MB) CSV`);

const out = mkdtempSync(join(tmpdir(), 'slipway-bench-report-'));
const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
try {
  execFileSync('/usr/bin/time', ['-f', '%e %M %U %S', '-o', join(out, 'time.txt'), process.execPath, cli, 'monitor', 'report', '--reference', ref, '--current', cur, '--out', join(out, 'r.json'), '--html', join(out, 'r.html'), '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
} catch (err) {
  // Exit 1 means the quality suite failed (the current data is shifted on purpose).
  if (err.status !== 1) throw err;
}
const timing = execFileSync('cat', [join(out, 'time.txt')], { encoding: 'utf8' }).trim().split('\n').pop();
const [secs, kb, user, sys] = timing.split(' ').map(Number);
// The machine is shared: CPU time (user + system) is printed beside wall time, with the load average.
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`slipway monitor report (CSV → drift + quality → JSON + HTML): wall ${secs.toFixed(2)} s, CPU ${(user + sys).toFixed(2)} s, peak RSS ${(kb / 1024).toFixed(0)} MB; HTML ${(statSync(join(out, 'r.html')).size / 1024).toFixed(0)} KB`);
rmSync(out, { recursive: true, force: true });

// The statistics alone: sort both columns, then KS, Wasserstein (normed), PSI and JS per column.
const a = await readTable(ref);
const b = await readTable(cur);
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let c = 0; c < COLS; c++) {
  const x = sortedWithoutNaN(a.columns[c].values);
  const y = sortedWithoutNaN(b.columns[c].values);
  const sx = { values: x, count: x.length, exact: true };
  const sy = { values: y, count: y.length, exact: true };
  ksTwoSample(x, y);
  wassersteinNorm(sx, sy);
  psi(binNumeric(sx, sy, true));
  const shares = binNumeric(sx, sy, false);
  jensenShannon(shares.reference, shares.current);
}
const statsMs = performance.now() - t0;
const statsCpu = process.cpuUsage(c0);
const statsCpuS = (statsCpu.user + statsCpu.system) / 1e6;
console.log(`slipway statistics alone (sort + KS + Wasserstein + PSI + JS, ${COLS} columns): wall ${(statsMs / 1000).toFixed(2)} s, CPU ${statsCpuS.toFixed(2)} s`);

const py = `
import time, numpy as np, pandas as pd
from scipy import stats
from scipy.spatial import distance
t = time.perf_counter(); c0 = time.process_time(); a = pd.read_csv(${JSON.stringify(ref)}); b = pd.read_csv(${JSON.stringify(cur)}); read = time.perf_counter() - t; read_cpu = time.process_time() - c0
t = time.perf_counter(); c0 = time.process_time()
for c in a.columns:
    x = a[c].values; y = b[c].values
    stats.ks_2samp(x, y)
    stats.wasserstein_distance(x, y) / max(np.std(x), 0.001)
    bins = np.histogram_bin_edges(np.concatenate([x, y]), bins='sturges')
    rp = np.histogram(x, bins)[0] / len(x); cp = np.histogram(y, bins)[0] / len(y)
    distance.jensenshannon(rp, cp)
    rp = np.where(rp == 0, 0.0001, rp); cp = np.where(cp == 0, 0.0001, cp)
    np.sum((rp - cp) * np.log(rp / cp))
print(read, read_cpu, time.perf_counter() - t, time.process_time() - c0)
`;
const [read, readCpu, scipy, scipyCpu] = execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } }).trim().split(' ').map(Number);
console.log(`baseline pandas read_csv of the pair: wall ${read.toFixed(2)} s, CPU ${readCpu.toFixed(2)} s`);
console.log(`baseline scipy statistics (KS + Wasserstein + PSI + JS, ${COLS} columns): wall ${scipy.toFixed(2)} s, CPU ${scipyCpu.toFixed(2)} s → slipway ${(scipy / (statsMs / 1000)).toFixed(1)}× faster (wall), ${(scipyCpu / statsCpuS).toFixed(1)}× (CPU)`);
