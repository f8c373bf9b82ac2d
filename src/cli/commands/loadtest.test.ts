/** `slipway loadtest` as a user runs it: the built CLI (`npm run build` first) against a local target. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { startTestTarget, type TestTarget } from '../../loadtest/test-target.test-support.js';
import { loadtestAction } from './loadtest.js';

describe('slipway loadtest', () => {
  let t: TestTarget;
  const dir = mkdtempSync(join(tmpdir(), 'slipway-loadtest-cli-'));
  beforeAll(async () => {
    t = await startTestTarget({ serviceMs: 1, keepBodies: true });
  });
  afterAll(async () => t.close());

  it('prints the full result document with --json, writes the report and exits 0 when thresholds hold', async () => {
    const report = join(dir, 'report.html');
    const out = join(dir, 'result.json');
    const r = await runCli(['loadtest', t.url, '--rate', '50', '--duration', '1s', '--workers', '1', '--late-tolerance', '250ms', '--slo', 'error_rate<1%', '--slo', 'p99<2s', '--report', report, '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { kind: string; passed: boolean; thresholds: Array<{ expression: string; passed: boolean }>; throughput: { offered: number } };
    expect(doc).toMatchObject({ kind: 'slipway.loadtest', passed: true, throughput: { offered: 50 } });
    expect(doc.thresholds.map((x) => x.expression)).toEqual(['error_rate<1%', 'p99<2s']);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ kind: 'slipway.loadtest' });
    expect(readFileSync(report, 'utf8')).toContain('<svg');
  });

  it('exits 1 with a readable summary when a threshold fails', async () => {
    const r = await runCli(['loadtest', t.url, '--clients', '1', '--duration', '300ms', '--workers', '1', '--slo', 'p99<1us']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED');
    expect(r.stdout).toMatch(/threshold\s+FAIL\s+p99<1us/);
    // Not a terminal: no progress line.
    expect(r.stderr).toBe('');
  });

  it.each([
    [['loadtest', 'http://127.0.0.1:1/', '--rate', '10', '--duration', '1s', '--slo', 'p99<fast'], "Invalid threshold 'p99<fast'"],
    [['loadtest', '--rate', '10', '--duration', '1s'], 'Missing target'],
    [['loadtest', 'http://127.0.0.1:1/', '--duration', '1s'], '--rate (spec key: rate) is required for the open model (or ramp with --stages or --steps; or give --clients for the closed model).'],
    [['loadtest', 'http://127.0.0.1:1/', '--clients', '2'], '--duration (spec key: duration) is required for the closed model.'],
    [['loadtest', 'http://127.0.0.1:1/', '--rate', '0', '--duration', '1s'], '--rate (spec key: rate) must be greater than zero.'],
    [['loadtest', 'http://127.0.0.1:1/', '--rate', '10', '--duration', 'forever'], "--duration (spec key: duration) must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'forever'."],
    [['loadtest', 'http://127.0.0.1:1/', '--rate', '10', '--duration', '30'], "--duration (spec key: duration) must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s."],
    [['loadtest', 'http://127.0.0.1:1/', '--rate', '10', '--duration', '1s', '--timeout', '5'], "--timeout (spec key: timeout) must be a duration such as 250ms, 10s or 5m; got '5': add a unit, e.g. 5ms or 5s."],
    [['loadtest', 'http://127.0.0.1:1/', '--steps', '10,10,2,5'], "--steps (spec key: steps.duration) must be a duration such as 250ms, 10s or 5m; got '5': add a unit"],
    [['loadtest', 'http://127.0.0.1:1/invocations', '--rate', '10', '--duration', '1s'], "Protocol 'mlflow' needs data rows to build requests: give --data FILE (spec key: data)"],
    [['loadtest', 'models:/m@champion', '--rate', '10', '--duration', '1s'], 'needs the Slipway server URL to resolve against: give --server (spec key: server)'],
    [['loadtest', 'http://127.0.0.1:1/', '--rate', '10', '--duration', '1s', '--bogus'], "unknown option '--bogus'"],
    [['loadtest', 'http://127.0.0.1:1/', '--clients', 'many', '--duration', '1s'], '--clients must be a positive integer'],
    [['loadtest', 'http://127.0.0.1:1/v2/models/m/infer', '--rate', '10', '--duration', '1s', '--data', '/nonexistent/rows.csv'], 'Cannot reach'],
    [['loadtest', 'http://127.0.0.1:1/', '--stages', '100-10s', '--duration', '1s'], "--stages item '100-10s'"],
    [['loadtest', 'http://127.0.0.1:1/', '--capacity', '10:20', '--slo', 'p99<1s'], "--capacity '10:20'"],
  ])('rejects %j with a clear message', async (args, text) => {
    const r = await runCli(args);
    expect(r.stderr).toContain(text);
    // Unreachable targets are failures (1); everything else here is bad usage (2).
    expect(r.code).toBe(text === 'Cannot reach' ? 1 : 2);
  });

  it('prints why each capacity step broke and writes the ladder report', async () => {
    const report = join(dir, 'capacity.html');
    const r = await runCli(['loadtest', t.url, '--capacity', '20:20:100', '--step-duration', '300ms', '--workers', '1', '--late-tolerance', '250ms', '--slo', 'p(99)<1us', '--report', report]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('No rate held p(99)<1us; even the first step broke.');
    expect(r.stdout).toMatch(/broke {2}20\.0\/s {2}achieved [\d.]+\/s {2}p50 [\d.]+ ms {2}p99 [\d.]+ ms {2}errors 0\.000%\n {9}why: p\(99\)<1us failed \(measured [\d.]+ ms\)/);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<h2>Why 20/s broke</h2>');
    expect(html).toMatch(/<p class="fail breaking-reason">p\(99\)&lt;1us failed \(measured [\d.]+ ms\)<\/p>/);
  });

  it('reads a YAML spec, flags override it, and data rows become raw bodies', async () => {
    const data = join(dir, 'rows.jsonl');
    writeFileSync(data, '{"a":1}\n{"a":2}\n');
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `target: ${t.url}\nmethod: POST\nbody: '{"rows":{{rows}}}'\ndata: rows.jsonl\nrate: 20\nduration: 5s\nworkers: 1\nlateTolerance: 2s\nthresholds: ["error_rate<1%"]\n`);
    t.bodies.length = 0;
    const r = await runCli(['loadtest', '--spec', spec, '--duration', '500ms', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { settings: { durationMs: number; payloads: number } };
    expect(doc.settings).toMatchObject({ durationMs: 500, payloads: 2 });
    expect(t.bodies.slice(0, 2)).toEqual(['{"rows":[{"a":1}]}', '{"rows":[{"a":2}]}']);
  });

  it('shows a progress line on a terminal and stays quiet with --json', async () => {
    const err: string[] = [];
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) };
    const code = await loadtestAction(t.url, { rate: '50', duration: '2s', workers: 1, lateTolerance: '250ms' }, io, true);
    expect(code).toBe(0);
    const progress = err.join('');
    expect(progress).toMatch(/\r\s+\d+s {2}rate \d+\/s \(offered \d+\/s\) {2}p99 [\d.]+ ms {2}errors 0/);
    expect(out.join('')).toContain('PASSED');
    err.length = 0;
    await loadtestAction(t.url, { rate: '50', duration: '500ms', workers: 1, json: true }, io, true);
    expect(err.join('')).toBe('');
  });
});
