/**
 * How fast the command line starts, and what talking to a server costs over the embedded store.
 *
 *   npm run build && node bench/cli-startup.mjs [--runs 30] [--warmup 3]
 *
 * Needs hyperfine. Seeds a fresh store through a real `slipway server` (10 experiments, 200 runs,
 * 5 models), then times with hyperfine, in the same run:
 * - `slipway --help` run by node and by `npx slipway` (inside the repository), against the
 *   baselines `node -e ''` (node's own start) and `npx --version` (npm's own start);
 * - `experiments list`, `runs list`, `models list` and `audit log` on the embedded store and with
 *   `--server` against the running server, and `curl` of the same API route (HTTP alone).
 * Prints a table of means and the server-minus-embedded difference for each command.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(flag('runs', 30));
const WARMUP = Number(flag('warmup', 3));
const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const home = mkdtempSync(join(tmpdir(), 'slipway-bench-cli-'));

function startServer() {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, 'server', '--port', '0'], { env: { ...process.env, SLIPWAY_HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) done({ child, url: m[1] });
    });
    child.on('exit', (code) => fail(new Error(`server exited with ${code}`)));
  });
}

async function api(url, method, path, body) {
  const res = await fetch(`${url}/api/v1${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

async function seed(url) {
  const ids = [];
  for (let e = 0; e < 10; e++) ids.push((await api(url, 'POST', '/experiments', { name: `bench-${e}` })).experimentId);
  for (let r = 0; r < 200; r++) {
    const run = await api(url, 'POST', '/runs', { experimentId: ids[r % ids.length], runName: `run-${r}` });
    await api(url, 'POST', `/runs/${run.info.runId}/log`, { params: [{ key: 'lr', value: String(r / 1000) }], metrics: [{ key: 'auc', value: 0.5 + r / 500 }] });
  }
  for (let m = 0; m < 5; m++) await api(url, 'POST', '/models', { name: `model-${m}` });
}

const { child, url } = await startServer();
try {
  await seed(url);
  const node = process.execPath;
  const slip = (rest) => `${node} ${CLI} ${rest}`;
  const commands = [
    ['node start (baseline)', `${node} -e ''`],
    ['slipway --help (node)', slip('--help')],
    ['npm start: npx --version (baseline)', 'npx --version'],
    ['npx slipway --help', 'npx slipway --help'],
  ];
  const pairs = [
    ['experiments list', '/experiments'],
    ['runs list', null],
    ['models list', '/models'],
    ['audit log', '/audit/events'],
  ];
  for (const [cmd, route] of pairs) {
    commands.push([`${cmd} (embedded)`, slip(cmd)]);
    commands.push([`${cmd} (--server)`, slip(`${cmd} --server ${url}`)]);
    if (route) commands.push([`${cmd}: curl of the API (baseline)`, `curl -sf ${url}/api/v1${route} -o /dev/null`]);
  }
  const out = join(home, 'hyperfine.json');
  execFileSync(
    'hyperfine',
    ['--warmup', String(WARMUP), '--runs', String(RUNS), '-N', '--export-json', out, ...commands.flatMap(([name, cmd]) => ['-n', name, cmd])],
    { cwd: ROOT, env: { ...process.env, SLIPWAY_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const results = JSON.parse(readFileSync(out, 'utf8')).results;
  const mean = (name) => results.find((r) => r.command === name);
  const ms = (r) => `${(r.mean * 1000).toFixed(1)} ± ${(r.stddev * 1000).toFixed(1)} ms (median ${(r.median * 1000).toFixed(1)})`;
  console.log(`\n${RUNS} runs each after ${WARMUP} warm-ups; node ${process.version}; ${new Date().toISOString()}\n`);
  for (const [name] of commands) console.log(`${name.padEnd(44)} ${ms(mean(name))}`);
  console.log('\nserver minus embedded (mean):');
  for (const [cmd] of pairs) {
    const diff = (mean(`${cmd} (--server)`).mean - mean(`${cmd} (embedded)`).mean) * 1000;
    console.log(`${cmd.padEnd(20)} ${diff >= 0 ? '+' : ''}${diff.toFixed(1)} ms`);
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((done) => child.once('exit', done));
  rmSync(home, { recursive: true, force: true });
}
