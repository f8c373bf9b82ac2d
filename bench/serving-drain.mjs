/**
 * SIGTERM drain under load: 120 keep-alive connections each send one 2.4 MB V2 infer
 * request to `slipway serve` and to `slipway server` (built CLI, inline executor, so
 * inference blocks the event loop), the server gets SIGTERM while they are in flight,
 * and every request is classified: answered (by status) or reset. A run without the
 * signal is the baseline. Loopback only; every process started here is stopped by PID.
 *
 *   node bench/serving-drain.mjs [--requests 120]
 */
import { spawn, spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root, scratch } from './serving-common.mjs';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '120' }, 'spread-ms': { type: 'string', default: '1200' }, rows: { type: 'string', default: '7500' } } });
const REQUESTS = Number(values.requests);
// Requests start evenly over this window and the signal comes a quarter into it, so some arrive while the loop is busy.
const SPREAD_MS = Number(values['spread-ms']);
const model = join(root, 'test', 'fixtures', 'breast_cancer_mlp.onnx');
const cli = join(root, 'dist', 'cli', 'main.js');

/** A V2 request of `rows` rows of the 30 breast-cancer features, about 240 bytes a row. */
function body(rows) {
  const data = new Array(rows * 30);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(Math.random() * 1e9) / 1e5;
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 30], data }] }));
}

/** Starts `slipway serve MODEL` (inline executor) and resolves once it listens. */
async function startServe() {
  const env = { ...process.env, SLIPWAY_HOME: scratch, SLIPWAY_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [cli, 'serve', model, '--name', 'bc', '--executor', 'inline', '--port', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`serve did not start: ${err}`)), 60_000);
    child.once('exit', (code) => rej(new Error(`serve exited with ${code}: ${err}`)));
    child.stdout.on('data', (d) => {
      out += d;
      try {
        res(JSON.parse(out).url);
        clearTimeout(timer);
      } catch {
        // Not complete yet.
      }
    });
  });
  return { url, child };
}

/** Starts `slipway server` over a store holding the model as `bc@champion`, once the model is ready. */
async function startServer() {
  const home = join(scratch, `server-${Date.now()}`);
  const env = { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn' };
  const reg = spawnSync(process.execPath, [cli, 'models', 'register', model, '--name', 'bc', '--alias', 'champion'], { env, encoding: 'utf8', timeout: 60_000 });
  if (reg.status !== 0) throw new Error(`register failed: ${reg.stderr}`);
  const child = spawn(process.execPath, [cli, 'server', '--port', '0', '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`server did not start: ${err}`)), 60_000);
    child.once('exit', (code) => rej(new Error(`server exited with ${code}: ${err}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
  });
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${url}/v2/models/bc/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

async function inputName(url, name) {
  const meta = await (await fetch(`${url}/v2/models/${name}`)).json();
  return meta.inputs[0].name;
}

/** Sends `n` requests at once on warmed keep-alive connections; with `child`, SIGTERMs it once they are in flight. */
async function run(url, name, payload, child) {
  const agent = new Agent({ keepAlive: true, maxSockets: REQUESTS });
  const target = new URL(`${url}/v2/models/${name}/infer`);
  const send = (method, path, data) =>
    new Promise((resolve) => {
      const req = request({ agent, host: target.hostname, port: target.port, method, path, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
        res.on('error', (e) => resolve({ error: e.code ?? e.message }));
      });
      req.on('error', (e) => resolve({ error: e.code ?? e.message }));
      req.end(data);
    });
  // Open every connection first, so the big requests arrive on idle keep-alive connections.
  await Promise.all(Array.from({ length: REQUESTS }, () => send('GET', '/v2/health/live')));
  const started = performance.now();
  const pending = Array.from({ length: REQUESTS }, (_, i) => new Promise((r) => setTimeout(r, (i * SPREAD_MS) / REQUESTS)).then(() => send('POST', target.pathname, payload)));
  let exited;
  if (child) {
    exited = new Promise((res) => child.once('exit', (code, signal) => res(code ?? signal)));
    await new Promise((r) => setTimeout(r, SPREAD_MS / 4));
    child.kill('SIGTERM');
  }
  const results = await Promise.all(pending);
  const ms = performance.now() - started;
  agent.destroy();
  const tally = {};
  for (const r of results) {
    const key = r.error ? `reset (${r.error})` : String(r.status);
    tally[key] = (tally[key] ?? 0) + 1;
  }
  const resets = results.filter((r) => r.error).length;
  return { tally, resets, ms: Math.round(ms), exit: exited ? await exited : undefined };
}

const payload = body(Number(values.rows));
console.log(`${REQUESTS} requests of ${(payload.length / 1e6).toFixed(2)} MB each, on ${REQUESTS} warmed keep-alive connections, started over ${SPREAD_MS} ms`);
for (const kind of ['serve', 'server']) {
  for (const signal of [false, true]) {
    const { url, child } = kind === 'serve' ? await startServe() : await startServer();
    const input = await inputName(url, 'bc');
    const data = Buffer.from(payload.toString().replace('"name":"input"', `"name":${JSON.stringify(input)}`));
    const r = await run(url, 'bc', data, signal ? child : undefined);
    console.log(`slipway ${kind.padEnd(6)} ${signal ? 'SIGTERM during load' : 'baseline (no signal)'}: ${JSON.stringify(r.tally)}, resets ${r.resets}, ${r.ms} ms${signal ? `, exit ${r.exit}` : ''}`);
    if (!signal) {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await exited;
    }
  }
}
