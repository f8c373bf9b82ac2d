/**
 * Server start to ready on an existing store, and idle memory. "Ready" is the first 200 answer to an
 * MLflow REST read (experiments/get of the Default experiment), timed from process spawn. The store is
 * first given some content (--runs runs with 10 params and 10 metrics each) by a previous start; then the
 * server is started --starts times and the median is reported. Idle RSS is the resident memory of the
 * server's whole process tree (MLflow: gunicorn master and its workers) --idle seconds after ready.
 * "CPU to ready" is the CPU time (user + system, whole process tree, from /proc) spent by the moment it
 * answered, which other jobs on the machine barely move. The real MLflow server is measured the same way
 * in the same run as the baseline.
 *
 *   npm run build && node bench/tracking-startup.mjs [--starts 5] [--runs 2000] [--idle 3]
 *
 * The MLflow baseline is started as described in tracking-common.mjs (MLFLOW_SERVER_CMD).
 */
import { fmt, freePort, parallel, parseFlags, percentiles, removeTemp, restClient, startMlflow, startSlipway, tempDir, treeRssMb, treeCpuSeconds, machineLine } from './tracking-common.mjs';

console.log(machineLine());
const opts = parseFlags({ starts: 5, runs: 2000, idle: 3 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function seed(url) {
  const api = restClient(url, 8);
  try {
    const { experiment_id: experimentId } = await api.post('experiments/create', { name: 'startup-bench' });
    await parallel(opts.runs, 8, async (i) => {
      const { run } = await api.post('runs/create', { experiment_id: experimentId, run_name: `r${i}`, start_time: Date.now() });
      const params = Array.from({ length: 10 }, (_, k) => ({ key: `p${k}`, value: String(i % (k + 2)) }));
      const metrics = Array.from({ length: 10 }, (_, k) => ({ key: `m${k}`, value: Math.random(), timestamp: Date.now(), step: 0 }));
      await api.post('runs/log-batch', { run_id: run.info.run_id, params, metrics });
    });
  } finally {
    await api.close();
  }
}

async function measure(name, start, folder) {
  const first = await start(folder);
  if (!first) return undefined;
  await seed(first.url);
  await first.stop();
  const ready = [];
  const cpu = [];
  let rss = 0;
  for (let i = 0; i < opts.starts; i++) {
    const server = await start(folder, await freePort());
    ready.push(server.readyMs);
    cpu.push(treeCpuSeconds(server.child.pid) * 1000);
    if (i === opts.starts - 1) {
      await sleep(opts.idle * 1000);
      rss = treeRssMb(server.child.pid);
    }
    await server.stop();
  }
  const p = percentiles(ready);
  const c = percentiles(cpu);
  console.log(
    `${name.padEnd(8)} start to ready: median ${p.p50.toFixed(0)} ms (min ${Math.min(...ready).toFixed(0)}, max ${p.max.toFixed(0)}, ${p.n} starts on a store of ${fmt(opts.runs)} runs);` +
      ` CPU to ready: median ${c.p50.toFixed(0)} ms; idle RSS ${rss.toFixed(0)} MB`,
  );
  return { ready: p.p50, cpu: c.p50, rss };
}

const slipwayHome = tempDir('slipway-startup-');
const mlflowDir = tempDir('mlflow-startup-');
try {
  const s = await measure('Slipway', (home, port) => startSlipway({ home, port }), slipwayHome);
  const m = await measure('MLflow', (dir, port) => startMlflow({ dir, port }), mlflowDir);
  if (!m) console.log('MLflow baseline skipped: set MLFLOW_SERVER_CMD or make `python3 -m mlflow` importable.');
  console.log('\n                     Slipway     MLflow');
  console.log(`start to ready   ${fmt(s.ready).padStart(8)} ms ${m ? fmt(m.ready).padStart(8) + ' ms' : '-'}`);
  console.log(`CPU to ready     ${fmt(s.cpu).padStart(8)} ms ${m ? fmt(m.cpu).padStart(8) + ' ms' : '-'}`);
  console.log(`idle RSS         ${fmt(s.rss).padStart(8)} MB ${m ? fmt(m.rss).padStart(8) + ' MB' : '-'}`);
} finally {
  removeTemp(slipwayHome);
  removeTemp(mlflowDir);
}
console.log(machineLine());
