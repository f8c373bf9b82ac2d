/**
 * `slipway metrics show|diff` and `slipway params diff` (built CLI) in a real git workspace: the
 * workspace against HEAD, two revisions, a metrics file kept only in the object cache, two
 * tracking runs, and the mistakes a user makes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../../src/client/index.js';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { openInProcessApi } from '../../src/server/in-process-api.js';
import { runCli, tempHome } from '../support/cli.js';

const PIPELINE = `pipeline:
  experiment: reports
stages:
  train:
    cmd: node train.mjs
    params: [train.lr, train.epochs]
    outs: [model.bin]
    metrics: [metrics.json]
  evaluate:
    cmd: node evaluate.mjs
    deps: [model.bin]
    params: [{ eval.yaml: [threshold] }]
    metrics: [{ eval/scores.yaml: { cache: true } }]
`;

interface DiffJson {
  old: { kind: string; rev?: string; commit?: string; runId?: string };
  new: { kind: string; rev?: string; runId?: string };
  metrics?: Array<{ path: string; key: string; old: unknown; new: unknown; change: number | null; changed: boolean }>;
  params?: Array<{ path: string; key: string; old: unknown; new: unknown; change: number | null; changed: boolean }>;
  missing: string[];
}

function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } });
}

describe('slipway metrics / params (built CLI)', () => {
  const home = tempHome('slipway-report-home');
  let root: string;
  let first: string;
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  /** Stores `text` in the workspace's object cache, as a cached out is, and returns its digest. */
  function cache(text: string): string {
    const digest = sha(text);
    const dir = join(root, '.slipway/cache/objects', digest.slice(0, 2));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, digest.slice(2)), text);
    return digest;
  }

  function lock(scores: string): string {
    return `schema: 1\nstages:\n  evaluate:\n    cmd: node evaluate.mjs\n    outs:\n      - path: eval/scores.yaml\n        kind: file\n        sha256: ${cache(scores)}\n        size: ${scores.length}\n`;
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'slipway-report-ws-'));
    mkdirSync(join(root, 'eval'));
    writeFileSync(join(root, 'slipway.yaml'), PIPELINE);
    writeFileSync(join(root, 'params.yaml'), 'train:\n  lr: 0.1\n  epochs: 10\n  optimizer: sgd\n');
    writeFileSync(join(root, 'eval.yaml'), 'threshold: 0.5\n');
    writeFileSync(join(root, 'metrics.json'), '{"accuracy": 0.8, "eval": {"auc": 0.9}}\n');
    // The cached metrics file stays out of git; the lock names it by digest.
    writeFileSync(join(root, '.gitignore'), '/eval/scores.yaml\n/.slipway/\n');
    writeFileSync(join(root, 'eval/scores.yaml'), 'f1: 0.7\n');
    writeFileSync(join(root, 'slipway.lock'), lock('f1: 0.7\n'));
    git(root, 'init', '-q');
    git(root, 'add', '.');
    git(root, 'commit', '-q', '-m', 'first');
    first = git(root, 'rev-parse', 'HEAD').trim();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('compares HEAD with the workspace: every metric with its change, only the params that differ', async () => {
    writeFileSync(join(root, 'params.yaml'), 'train:\n  lr: 0.05\n  epochs: 10\n  optimizer: adam\n');
    writeFileSync(join(root, 'metrics.json'), '{"accuracy": 0.85, "eval": {"auc": 0.9}, "recall": 0.6}\n');
    writeFileSync(join(root, 'eval/scores.yaml'), 'f1: 0.75\n');

    const metrics = await runCli(['metrics', 'diff'], {}, root);
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toBe(
      [
        'metrics of HEAD -> workspace',
        'PATH              KEY       OLD   NEW  CHANGE',
        'eval/scores.yaml  f1        0.7  0.75   +0.05',
        'metrics.json      accuracy  0.8  0.85   +0.05',
        'metrics.json      eval.auc  0.9   0.9       0',
        'metrics.json      recall      -   0.6   added',
        '',
      ].join('\n'),
    );

    const params = await runCli(['params', 'diff'], {}, root);
    expect(params.code).toBe(0);
    expect(params.stdout).toBe(
      ['params of HEAD -> workspace', 'PATH         KEY              OLD  NEW   CHANGE', 'params.yaml  train.lr         0.1  0.05  -0.05', 'params.yaml  train.optimizer  sgd  adam  changed', ''].join('\n'),
    );

    const all = JSON.parse((await runCli(['params', 'diff', '--all', '--json'], {}, root)).stdout) as DiffJson;
    expect(all.old).toEqual({ kind: 'revision', rev: 'HEAD', commit: first });
    expect(all.new).toEqual({ kind: 'workspace' });
    expect(all.params?.map((r) => [r.path, r.key, r.changed])).toEqual([
      ['eval.yaml', 'threshold', false],
      ['params.yaml', 'train.epochs', false],
      ['params.yaml', 'train.lr', true],
      ['params.yaml', 'train.optimizer', true],
    ]);
  });

  it('compares two revisions, reading a cached metrics file through that revision’s lock', async () => {
    writeFileSync(join(root, 'slipway.lock'), lock('f1: 0.75\n'));
    git(root, 'commit', '-q', '-am', 'second');
    const res = await runCli(['metrics', 'diff', first, 'HEAD', '--json'], {}, root);
    expect(res.code, res.stderr).toBe(0);
    const diff = JSON.parse(res.stdout) as DiffJson;
    expect(diff.old).toMatchObject({ kind: 'revision', rev: first });
    expect(diff.new).toMatchObject({ kind: 'revision', rev: 'HEAD' });
    expect(diff.metrics?.find((r) => r.key === 'f1')).toEqual({ path: 'eval/scores.yaml', key: 'f1', old: 0.7, new: 0.75, change: 0.05, changed: true });
    expect(diff.missing).toEqual([]);

    const shown = await runCli(['metrics', 'show', '--rev', first], {}, root);
    expect(shown.stdout).toBe(['PATH              KEY       VALUE', 'metrics.json      accuracy    0.8', 'metrics.json      eval.auc    0.9', 'eval/scores.yaml  f1          0.7', ''].join('\n'));
  });

  it('warns about a metrics file it cannot find and still compares the rest, and params diff does not', async () => {
    rmSync(join(root, '.slipway/cache'), { recursive: true, force: true });
    const res = await runCli(['metrics', 'diff', first], {}, root);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`warning: cannot read ${first}: eval/scores.yaml (neither committed in ${first} nor in the object cache)\n`);
    expect(res.stdout).toContain('metrics.json      accuracy  0.8  0.85   +0.05');
    // Comparing params has nothing to say about metrics files.
    const params = await runCli(['params', 'diff', first], {}, root);
    expect(params.code).toBe(0);
    expect(params.stderr).toBe('');
  });

  it('compares the metrics and params of two tracking runs', async () => {
    const api = await openInProcessApi(resolveConfig({ home }, {}, home), { logger: silentLogger });
    const ids: string[] = [];
    try {
      const client = new SlipwayClient({ url: api.url, fetch: api.fetch });
      for (const [lr, acc] of [['0.1', 0.8], ['0.05', 0.86]] as const) {
        const run = await client.runs.create({ runName: 'train' });
        await client.runs.log(run.info.runId, { params: { 'train.lr': lr, 'train.epochs': '10' }, metrics: [{ key: 'accuracy', value: acc }] });
        ids.push(run.info.runId);
      }
    } finally {
      await api.close();
    }
    const env = { SLIPWAY_HOME: home };
    const metrics = await runCli(['metrics', 'diff', '--runs', ids[0]!, ids[1]!], env, root);
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toBe([`metrics of ${ids[0]} -> ${ids[1]}`, 'PATH  KEY       OLD   NEW  CHANGE', 'run   accuracy  0.8  0.86   +0.06', ''].join('\n'));
    const params = JSON.parse((await runCli(['params', 'diff', '--runs', ids[0]!, ids[1]!, '--json'], env, root)).stdout) as DiffJson;
    expect(params.params).toEqual([{ path: 'run', key: 'train.lr', old: '0.1', new: '0.05', change: null, changed: true }]);
  });

  it('answers mistakes with one line and exit 2', async () => {
    const cases: Array<[string[], string, string?]> = [
      [['metrics', 'diff', 'no-such-branch'], "error: Unknown git revision 'no-such-branch'.\n"],
      [['params', 'diff', 'HEAD', 'HEAD', 'HEAD'], 'error: Give at most two revisions (REV1 [REV2]); got 3.\n'],
      [['metrics', 'diff', 'HEAD', '--runs', 'a', 'b'], 'error: Give either revisions or --runs RUN1 RUN2, not both.\n'],
      [['metrics', 'diff', '--runs', 'f'.repeat(32)], 'error: --runs takes two run ids (RUN1 RUN2); got 1.\n'],
      [['metrics', 'diff', '--', '--output=x'], "error: '--output=x' is not a git revision.\n"],
    ];
    for (const [args, stderr] of cases) {
      const res = await runCli(args, {}, root);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toBe(stderr);
      expect(res.stdout).toBe('');
    }
    writeFileSync(join(root, 'metrics.json'), '{"accuracy": ');
    const broken = await runCli(['metrics', 'show'], {}, root);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: Metrics file metrics\.json is neither JSON nor YAML: /);

    // A metrics file that is a link out of the workspace, or a link loop, is refused rather than read.
    const secret = join(mkdtempSync(join(tmpdir(), 'slipway-report-outside-')), 'secret.json');
    writeFileSync(secret, '{"password": 1}');
    rmSync(join(root, 'metrics.json'));
    symlinkSync(secret, join(root, 'metrics.json'));
    const escaped = await runCli(['metrics', 'show'], {}, root);
    expect(escaped.code).toBe(2);
    expect(escaped.stderr).toBe(`error: metrics.json leads outside the workspace (${realpathSync(secret)}).\n`);
    rmSync(join(root, 'metrics.json'));
    symlinkSync('metrics.json', join(root, 'metrics.json'));
    const loop = await runCli(['metrics', 'show'], {}, root);
    expect(loop.code).toBe(2);
    expect(loop.stderr).toBe('error: metrics.json is a symlink loop.\n');
    rmSync(join(root, 'metrics.json'));
    rmSync(dirname(secret), { recursive: true, force: true });

    const outside = mkdtempSync(join(tmpdir(), 'slipway-report-nogit-'));
    try {
      writeFileSync(join(outside, 'slipway.yaml'), PIPELINE);
      const res = await runCli(['params', 'diff'], {}, outside);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/^error: .* is not in a git repository: comparing revisions needs git \(or compare runs with --runs\)\.\n$/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
