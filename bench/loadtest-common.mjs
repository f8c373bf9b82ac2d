// Shared pieces of the load-generator benchmarks: a bare node:http target in its
// own process (so it never shares an event loop with the generator) and wrk.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Starts a node:http target in a child process; `serviceMs` > 0 busy-waits that long per request (a precise, known service time). */
export async function startBareTarget(serviceMs = 0) {
  const code = `
    const http = require('node:http');
    const body = Buffer.from('{"ok":true}');
    const s = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (${serviceMs} > 0) { const t0 = performance.now(); while (performance.now() - t0 < ${serviceMs}) {} }
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    });
    s.keepAliveTimeout = 60000;
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (c) => reject(new Error(`target exited with ${c}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid, stop: () => child.kill("SIGTERM") };
}

/** Runs wrk and returns requests/s, mean and p50 latency (ms) and the CPU seconds it used; undefined when wrk is not installed. */
export async function wrk(url, { threads, connections, seconds }) {
  let stdout;
  let stderr;
  try {
    // bash's `time` reports the CPU wrk used (user + system), which node cannot read for a child.
    ({ stdout, stderr } = await run('bash', ['-c', `TIMEFORMAT='cpu %U %S'; time wrk -t${threads} -c${connections} -d${seconds}s --latency ${url}`], { timeout: (seconds + 30) * 1000 }));
  } catch (err) {
    if (err.code === 'ENOENT' || /wrk: (command )?not found/.test(String(err.stderr))) return undefined;
    throw err;
  }
  const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const lat = /Latency\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const scale = { us: 0.001, ms: 1, s: 1000 }[lat?.[2] ?? 'ms'];
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const p50scale = { us: 0.001, ms: 1, s: 1000 }[p50?.[2] ?? 'ms'];
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  return { rps, meanMs: Number(lat?.[1]) * scale, p50Ms: Number(p50?.[1]) * p50scale, cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : Number.NaN, requests };
}
