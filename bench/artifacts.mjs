/**
 * Artifact upload and download through the MLflow artifact proxy
 * (PUT/GET /api/2.0/mlflow-artifacts/artifacts/<path>), against two baselines measured
 * the same way in the same run:
 *   - a bare Node http server that streams PUT bodies to a file (temp file, fsync, rename — the
 *     same durability Slipway gives) and GET back with fs streams: the floor for any Node server;
 *   - the real MLflow server with --serve-artifacts, when available (see tracking-common.mjs,
 *     MLFLOW_SERVER_CMD).
 * Workloads: one large file (streamed from disk, --large-mb) uploaded then downloaded --repeat
 * times; --small files of --small-kb each uploaded then downloaded over --connections keep-alive
 * connections. Every loop is bounded by its count and by --max-seconds.
 *
 *   npm run build && node bench/artifacts.mjs [--large-mb 256] [--repeat 3] [--small 2000] [--small-kb 16] [--connections 4] [--max-seconds 60]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import { fmt, freePort, parseFlags, percentiles, removeTemp, startMlflow, startSlipway, stopTree, tempDir, waitReady } from './tracking-common.mjs';

const PREFIX = '/api/2.0/mlflow-artifacts/artifacts';

// Child mode: the bare baseline server.
if (process.argv[2] === '--bare-server') {
  const [, , , root, port] = process.argv;
  let seq = 0;
  createServer(async (req, res) => {
    const rel = decodeURIComponent(req.url.split('?')[0].slice(PREFIX.length + 1));
    const file = join(root, 'files', rel);
    try {
      if (req.method === 'PUT') {
        mkdirSync(dirname(file), { recursive: true });
        const temp = join(root, `tmp-${process.pid}-${seq++}`);
        await pipeline(req, createWriteStream(temp));
        const handle = await open(temp, 'r');
        await handle.sync();
        await handle.close();
        await rename(temp, file);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else if (req.method === 'GET' && req.url.startsWith(`${PREFIX}/`)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        await pipeline(createReadStream(file), res);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      }
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  }).listen(Number(port), '127.0.0.1');
} else {
  await main();
}

async function startBare() {
  const dir = tempDir('bare-artifacts-');
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--bare-server', dir, String(port)], { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, t0, { child });
  return { name: 'bare Node', url, dir, child, stop: () => stopTree(child) };
}

async function main() {
  const opts = parseFlags({ largeMb: 256, repeat: 3, small: 2000, smallKb: 16, connections: 4, maxSeconds: 60 });
  const work = tempDir('artifacts-bench-');
  const largeFile = join(work, 'large.bin');
  // Random bytes so no layer can compress or dedupe the payload.
  const block = randomBytes(1024 * 1024);
  const out = createWriteStream(largeFile);
  for (let i = 0; i < opts.largeMb; i++) if (!out.write(block)) await new Promise((r) => out.once('drain', r));
  await new Promise((r) => out.end(r));
  const smallBody = randomBytes(opts.smallKb * 1024);
  writeFileSync(join(work, 'small.bin'), smallBody);

  const results = [];
  const targets = [
    ['Slipway', () => startSlipway({ home: join(work, 'slipway') })],
    ['bare Node', startBare],
    ['MLflow', () => startMlflow({ dir: join(work, 'mlflow') })],
  ];
  try {
    for (const [name, start] of targets) {
      const server = await start();
      if (!server) {
        console.log(`${name}: skipped (not available; set MLFLOW_SERVER_CMD)`);
        continue;
      }
      try {
        results.push({ name, ...(await measure(server.url, largeFile, smallBody, opts)) });
      } finally {
        await server.stop();
        if (server.dir) removeTemp(server.dir);
      }
    }
  } finally {
    removeTemp(work);
  }

  console.log(`\nLarge file: ${opts.largeMb} MB, median of ${opts.repeat}; small files: ${fmt(opts.small)} × ${opts.smallKb} KB over ${opts.connections} connections`);
  console.log('                         ' + results.map((r) => r.name.padStart(12)).join(''));
  const row = (label, pick, digits = 0) => console.log(label.padEnd(25) + results.map((r) => fmt(pick(r), digits).padStart(12)).join(''));
  row('large upload MB/s', (r) => r.largeUp, 0);
  row('large download MB/s', (r) => r.largeDown, 0);
  row('small upload files/s', (r) => r.smallUp, 0);
  row('small download files/s', (r) => r.smallDown, 0);
  row('small upload p50 ms', (r) => r.smallUpP50, 2);
}

async function measure(url, largeFile, smallBody, opts) {
  const pool = new Pool(url, { connections: opts.connections, pipelining: 1 });
  const deadline = Date.now() + opts.maxSeconds * 1000;
  try {
    const mb = opts.largeMb;
    const up = [];
    const down = [];
    for (let i = 0; i < opts.repeat && Date.now() < deadline; i++) {
      const path = `${PREFIX}/bench/large-${i}.bin`;
      let t = performance.now();
      const put = await pool.request({ method: 'PUT', path, body: createReadStream(largeFile), headers: { 'content-type': 'application/octet-stream' } });
      await put.body.dump();
      if (put.statusCode !== 200) throw new Error(`PUT ${path} → ${put.statusCode}`);
      up.push(mb / ((performance.now() - t) / 1000));
      t = performance.now();
      const get = await pool.request({ method: 'GET', path });
      let bytes = 0;
      for await (const chunk of get.body) bytes += chunk.length;
      if (bytes !== mb * 1024 * 1024) throw new Error(`GET ${path} returned ${bytes} bytes`);
      down.push(mb / ((performance.now() - t) / 1000));
    }

    const latencies = [];
    const smallUp = await loop(opts, deadline, async (i) => {
      const t = performance.now();
      // Each file differs in its first bytes so content addressing cannot dedupe them away.
      const body = Buffer.from(smallBody);
      body.writeUInt32LE(i, 0);
      const res = await pool.request({ method: 'PUT', path: `${PREFIX}/bench/small/${i % 50}/f-${i}.bin`, body, headers: { 'content-type': 'application/octet-stream' } });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`PUT small ${i} → ${res.statusCode}`);
      latencies.push(performance.now() - t);
    });
    const smallDown = await loop(opts, deadline, async (i) => {
      const res = await pool.request({ method: 'GET', path: `${PREFIX}/bench/small/${i % 50}/f-${i % smallUp.done}.bin` });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`GET small ${i} → ${res.statusCode}`);
    });
    return {
      largeUp: percentiles(up).p50,
      largeDown: percentiles(down).p50,
      smallUp: smallUp.rate,
      smallDown: smallDown.rate,
      smallUpP50: percentiles(latencies).p50,
    };
  } finally {
    await pool.close();
  }
}

/** Runs `task(i)` for i < --small over --connections workers, stopping at the deadline. */
async function loop(opts, deadline, task) {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < opts.small && Date.now() < deadline) {
      const i = next++;
      await task(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  return { done, rate: done / ((performance.now() - t0) / 1000) };
}
