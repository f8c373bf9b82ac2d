// S3 artifact throughput and memory: a 1 GB file uploaded and downloaded through `slipway server
// --artifacts-destination s3://…` (the MLflow artifact proxy routes), against the AWS SDK straight to the same
// local S3-compatible server (s3rver) in the same run, with the server's resident memory above idle sampled
// every 20 ms. Each leg runs --repeat times (default 2), alternating SDK and Slipway, and the table shows the
// fastest of each (the machine may be shared), the highest memory, and the server's least CPU time per leg (user +
// system, all its threads: on a shared machine the speed ratio varies with load, this much less). Run after
// `npm run build`:
// node bench/s3-artifacts.mjs [--size-mb 1024] [--repeat 2]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { request } from 'undici';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const sizeArg = process.argv.indexOf('--size-mb');
const SIZE_MB = sizeArg > 0 ? Number(process.argv[sizeArg + 1]) : 1024;
const SIZE = SIZE_MB * 1024 * 1024;
const repeatArg = process.argv.indexOf('--repeat');
const REPEAT = repeatArg > 0 ? Number(process.argv[repeatArg + 1]) : 2;
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');
const BUCKET = 'slipway-bench';
const work = mkdtempSync(join(tmpdir(), 'slipway-bench-s3-'));

// s3rver in a child: its list tokens need OpenSSL's legacy provider (see test/support/s3-server.ts).
const RUNNER = `
import S3rver from 's3rver';
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: process.argv[1], configureBuckets: [{ name: '${BUCKET}' }] });
const info = await server.run();
process.stdout.write(JSON.stringify({ port: info.port }) + '\\n');
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
`;

function firstLine(child, pattern) {
  return new Promise((done, fail) => {
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = pattern.exec(line);
      if (m) done(m);
    });
    child.once('exit', (code) => fail(new Error(`exited with ${code}: ${err}`)));
  });
}

const s3rver = spawn(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', RUNNER, join(work, 's3')], { stdio: ['ignore', 'pipe', 'pipe'] });
const port = Number((await firstLine(s3rver, /"port":(\d+)/))[1]);
const endpoint = `http://127.0.0.1:${port}`;
const awsEnv = { AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const server = spawn(process.execPath, [CLI, 'server', '--port', '0', '--artifacts-destination', `s3://${BUCKET}/slipway`], {
  env: { PATH: process.env.PATH, HOME: process.env.HOME, SLIPWAY_HOME: join(work, 'home'), SLIPWAY_LOG_LEVEL: 'warn', ...awsEnv },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const url = (await firstLine(server, /ready at (http:\/\/\S+)/))[1];

// The same pseudo-random 1 GB for every leg, generated as it is sent (no file on disk, nothing held in memory).
const block = Buffer.alloc(1024 * 1024);
for (let i = 0; i < block.length; i += 32) createHash('sha256').update(String(i)).digest().copy(block, i);
function body() {
  return Readable.from(
    (function* () {
      for (let i = 0; i < SIZE_MB; i++) {
        block.writeUInt32LE(i, 0);
        yield Buffer.from(block);
      }
    })(),
  );
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
/** CPU time of a process so far in seconds, user and system, all threads (clock ticks are 1/100 s on Linux). */
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
async function sampled(pid, fn) {
  const idle = rssOf(pid);
  const cpu0 = cpuOf(pid);
  let peak = idle;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return { seconds: (performance.now() - t0) / 1000, aboveIdle: peak - idle, cpu: cpuOf(pid) - cpu0 };
}
async function drain(stream) {
  const h = createHash('sha256');
  let n = 0;
  for await (const c of stream) {
    h.update(c);
    n += c.length;
  }
  return { size: n, sha256: h.digest('hex') };
}

const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
const PART = 8 * 1024 * 1024;
const rows = [];
const self = process.pid;

// Keeps the fastest time, the highest memory and the least CPU time of the repeats.
const best = (a, b) => (a ? { seconds: Math.min(a.seconds, b.seconds), aboveIdle: Math.max(a.aboveIdle, b.aboveIdle), cpu: Math.min(a.cpu, b.cpu) } : b);
let sdkUp, sdkDown, viaUp, viaDown, sdkDigest, viaDigest;
const path = `${url}/api/2.0/mlflow-artifacts/artifacts/0/bench/artifacts/blob.bin`;
for (let round = 0; round < REPEAT; round++) {
  sdkUp = best(sdkUp, await sampled(self, () => new Upload({ client, params: { Bucket: BUCKET, Key: 'direct/blob.bin', Body: body() }, partSize: PART, queueSize: 4 }).done()));
  sdkDown = best(
    sdkDown,
    await sampled(self, async () => {
      sdkDigest = await drain((await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'direct/blob.bin' }))).Body);
    }),
  );
  // Give the server's heap a moment to settle before taking its idle figure.
  await new Promise((r) => setTimeout(r, 1000));
  viaUp = best(
    viaUp,
    await sampled(server.pid, async () => {
      const res = await request(path, { method: 'PUT', body: body(), headers: { 'content-type': 'application/octet-stream' }, bodyTimeout: 0, headersTimeout: 0 });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`upload answered ${res.statusCode}`);
    }),
  );
  viaDown = best(
    viaDown,
    await sampled(server.pid, async () => {
      const res = await request(path, { bodyTimeout: 0, headersTimeout: 0 });
      viaDigest = await drain(res.body);
    }),
  );
  if (viaDigest.sha256 !== sdkDigest.sha256 || viaDigest.size !== SIZE) throw new Error('the downloads differ');
}

const mbps = (s) => SIZE / 1024 / 1024 / s;
rows.push(['upload', sdkUp, viaUp], ['download', sdkDown, viaDown]);
console.log(`\n${SIZE_MB} MB through Slipway (MLflow artifact proxy → S3 store) vs the AWS SDK directly, s3rver ${endpoint}, same run, fastest of ${REPEAT}\n`);
console.log('| leg | AWS SDK direct | through Slipway | Slipway / SDK | Slipway RSS above idle | Slipway CPU |');
console.log('|---|---|---|---|---|---|');
for (const [leg, sdk, via] of rows) {
  console.log(`| ${leg} | ${mbps(sdk.seconds).toFixed(1)} MB/s (${sdk.seconds.toFixed(1)} s) | ${mbps(via.seconds).toFixed(1)} MB/s (${via.seconds.toFixed(1)} s) | ${((100 * sdk.seconds) / via.seconds).toFixed(0)} % | ${(via.aboveIdle / 1024 / 1024).toFixed(1)} MB | ${via.cpu.toFixed(1)} s |`);
}
console.log(`\nTargets: ≥ 70 % of the SDK's throughput, ≤ 100 MB above idle. Digest of both downloads: ${viaDigest.sha256}`);

server.kill('SIGTERM');
s3rver.kill('SIGTERM');
await Promise.all([new Promise((r) => server.once('exit', r)), new Promise((r) => s3rver.once('exit', r))]);
rmSync(work, { recursive: true, force: true });
