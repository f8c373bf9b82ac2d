/**
 * Shared pieces of the serving benchmarks: start `slipway serve` (built CLI) and a
 * bare node:http baseline as child processes on loopback, and drive them with wrk.
 * Every process started here is stopped by its own PID.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..');
export const scratch = mkdtempSync(join(tmpdir(), 'slipway-bench-'));

/** Starts `slipway serve MODEL ...flags` and resolves with its address once it listens. */
export async function startServe(model, flags = []) {
  const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'serve', model, '--port', '0', '--json', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_HOME: scratch },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const info = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`serve did not start: ${err}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      try {
        const parsed = JSON.parse(out);
        clearTimeout(timer);
        res(parsed);
      } catch {
        // Not complete yet.
      }
    });
    child.on('exit', (code) => rej(new Error(`serve exited with ${code}: ${err}`)));
  });
  return { url: info.url, pid: child.pid, stop: () => stopChild(child) };
}

/** Starts a bare node:http server that reads the body and answers `constant` as JSON. */
export async function startBare(constant) {
  const code = `
    const http = require('node:http');
    const body = ${JSON.stringify(constant)};
    const server = http.createServer((req, res) => {
      req.on('data', () => {});
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((res) => child.stdout.once('data', (d) => res(Number(String(d).trim()))));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
}

function stopChild(child) {
  return new Promise((res) => {
    if (child.exitCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
  });
}

/** Runs wrk with a POST body against `url`; returns requests/s, non-2xx count and latency percentiles (ms). */
export function wrk(url, body, { connections = 64, threads = 2, seconds = 10 } = {}) {
  const script = join(scratch, `post-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = [[${body}]]\nwrk.headers["Content-Type"] = "application/json"\n`);
  const r = spawnSync('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', script, url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`);
  const text = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(text)?.[1];
  const pct = (p) => toMs(new RegExp(`\\s${p}%\\s+([\\d.]+\\w+)`).exec(text)?.[1]);
  return { rps, non2xx, errors, p50: pct(50), p99: pct(99) };
}

function toMs(s) {
  if (!s) return NaN;
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Percentile of a sorted list. */
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Formats a number with thousands separators. */
export function fmt(n, digits = 0) {
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
