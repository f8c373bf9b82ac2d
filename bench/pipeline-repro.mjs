/**
 * How long `slipway repro` takes when nothing changed: the whole CLI process, on a 20-stage pipeline.
 *
 *   npm run build && node bench/pipeline-repro.mjs [--runs 20] [--files 2000]
 *
 * Builds a pipeline in a temp git repository: `prepare` copies a raw data folder (--files files of
 * 8 KiB) into data/clean, 18 `train@N` stages (a foreach) each read data/clean and a param and
 * write a model, and `evaluate` reads all models and writes metrics. Runs `repro` once to fill
 * slipway.lock, the state cache and the object cache, then times, alternating in the same run:
 * - `node -e 0` (node's own start: the floor of any CLI);
 * - `slipway repro` with nothing changed (every dep and out checked against slipway.lock);
 * - `slipway repro --dry-run` (the same checks, no stage locks taken).
 * Prints min / median / mean of each, and the machine's core count.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = flag('runs', 20);
const FILES = flag('files', 2000);
const TRAINS = 18;
const CLI = join(resolve(import.meta.dirname, '..'), 'dist/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-pipeline-'));

function setup() {
  const raw = join(dir, 'data/raw');
  mkdirSync(raw, { recursive: true });
  const block = Buffer.alloc(8192);
  for (let i = 0; i < FILES; i++) {
    block.writeUInt32LE(i, 0);
    writeFileSync(join(raw, `part-${String(i).padStart(5, '0')}.bin`), block);
  }
  writeFileSync(join(dir, 'params.yaml'), `lr: 0.1\nepochs: 3\n`);
  writeFileSync(
    join(dir, 'step.mjs'),
    `import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
const [what, arg] = process.argv.slice(2);
if (what === 'prepare') cpSync('data/raw', 'data/clean', { recursive: true });
else if (what === 'train') { mkdirSync('models', { recursive: true }); writeFileSync('models/m' + arg + '.bin', 'model ' + arg + ' ' + readdirSync('data/clean').length); }
else writeFileSync('metrics.json', JSON.stringify({ models: readdirSync('models').length }));
`,
  );
  const items = Array.from({ length: TRAINS }, (_, i) => i + 1).join(', ');
  writeFileSync(
    join(dir, 'slipway.yaml'),
    `stages:
  prepare:
    cmd: node step.mjs prepare
    deps: [data/raw, step.mjs]
    outs: [data/clean]
  train:
    foreach: [${items}]
    do:
      cmd: node step.mjs train \${item}
      deps: [data/clean, step.mjs]
      params: [lr, epochs]
      outs: ["models/m\${item}.bin"]
  evaluate:
    cmd: node step.mjs evaluate
    deps: [models, step.mjs]
    metrics: [metrics.json]
`,
  );
  execFileSync('git', ['init', '-q'], { cwd: dir });
}

function time(cmd, argv) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd: dir, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { min: s[0], median: s[Math.floor(s.length / 2)], mean };
}

try {
  setup();
  const first = time(process.execPath, [CLI, 'repro']);
  const stages = (first.stdout.match(/^ran '/gm) ?? []).length;
  console.log(`cores: ${availableParallelism()} (${cpus()[0]?.model ?? 'unknown'})`);
  console.log(`pipeline: ${stages} stages ran in the first repro (${(first.ms / 1000).toFixed(2)} s), data/raw and data/clean ${FILES} files of 8 KiB each`);
  const check = time(process.execPath, [CLI, 'repro']);
  if (!check.stdout.includes('Everything is up to date.')) throw new Error(`the second repro was not a no-op:\n${check.stdout}`);
  const series = { 'node -e 0 (baseline)': [], 'slipway repro, nothing changed': [], 'slipway repro --dry-run': [] };
  for (let i = 0; i < RUNS; i++) {
    series['node -e 0 (baseline)'].push(time(process.execPath, ['-e', '0']).ms);
    series['slipway repro, nothing changed'].push(time(process.execPath, [CLI, 'repro']).ms);
    series['slipway repro --dry-run'].push(time(process.execPath, [CLI, 'repro', '--dry-run']).ms);
  }
  console.log(`\n${RUNS} runs each, alternating:`);
  console.log('| Command | min | median | mean |\n|---|---:|---:|---:|');
  for (const [name, xs] of Object.entries(series)) {
    const s = stats(xs);
    console.log(`| ${name} | ${s.min.toFixed(1)} ms | ${s.median.toFixed(1)} ms | ${s.mean.toFixed(1)} ms |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
