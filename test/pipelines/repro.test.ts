import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { pipelineWorkspace } from './pipeline-workspace.js';

const THREE_STAGES = `stages:
  prepare:
    cmd: node tool.mjs prepare --in raw.txt --out data/clean.txt
    deps: [raw.txt]
    outs: [data/clean.txt]
  train:
    cmd: node tool.mjs train --in data/clean.txt --param lr --out model.bin
    deps: [data/clean.txt]
    params: [lr]
    outs: [model.bin]
  evaluate:
    cmd: node tool.mjs evaluate --in model.bin --out eval.txt
    deps: [model.bin]
    outs: [eval.txt]
`;

function threeStages() {
  return pipelineWorkspace(THREE_STAGES, { 'raw.txt': 'rows\n', 'params.yaml': 'lr: 0.1\n' });
}

describe('slipway repro', () => {
  it('runs every stage once, writes slipway.lock, and then has nothing to do', async () => {
    const ws = threeStages();
    const first = await runCli(['repro'], {}, ws.dir);
    // Stage runs are recorded as tracking runs, in the embedded store by default.
    expect(first.stderr).toBe(`using the embedded store ${join(ws.dir, '.slipway/slipway.db')}\n`);
    expect(first.code).toBe(0);
    expect(ws.runs()).toEqual(['prepare', 'train', 'evaluate']);
    expect(first.stdout).toContain("running 'train': it has not run yet");
    expect(first.stdout).toContain('3 ran, 0 up to date.');
    expect(ws.read('eval.txt')).toBe('evaluate|train|prepare|rows\n|lr=0.1');
    const lock = ws.read('slipway.lock');
    expect(lock).toMatch(/train:\n\s+cmd: node tool\.mjs train/);
    expect(lock).toMatch(/params:\n\s+params\.yaml:\n\s+lr: 0\.1/);

    ws.clearRuns();
    const second = await runCli(['repro'], {}, ws.dir);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Everything is up to date.');
    // Nothing ran, so no store was opened.
    expect(second.stderr).toBe('');
    expect(ws.runs()).toEqual([]);
  });

  it('re-runs only the stages that read a changed param, and those downstream', async () => {
    const ws = threeStages();
    expect((await runCli(['repro'], {}, ws.dir)).code).toBe(0);
    ws.clearRuns();
    ws.write('params.yaml', 'lr: 0.3\n');
    const dry = await runCli(['repro', '--dry-run'], {}, ws.dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("'prepare' is up to date");
    expect(dry.stdout).toContain("would run 'train': params.yaml:lr changed (0.1 -> 0.3)");
    expect(dry.stdout).toContain("would run 'evaluate': upstream stage 'train' would run first");
    expect(ws.runs()).toEqual([]);

    const run = await runCli(['repro'], {}, ws.dir);
    expect(run.code).toBe(0);
    expect(ws.runs()).toEqual(['train', 'evaluate']);
    expect(ws.read('eval.txt')).toContain('lr=0.3');
  });

  it('brings one stage up to date with what it depends on, and nothing downstream', async () => {
    const ws = threeStages();
    const run = await runCli(['repro', 'train', '--json'], {}, ws.dir);
    expect(run.code).toBe(0);
    expect(ws.runs()).toEqual(['prepare', 'train']);
    const report = JSON.parse(run.stdout) as { ok: boolean; stages: Array<{ stage: string; status: string; reason?: string }> };
    expect(report.ok).toBe(true);
    expect(report.stages.map((s) => [s.stage, s.status, s.reason])).toEqual([
      ['prepare', 'ran', 'new'],
      ['train', 'ran', 'new'],
    ]);
  });

  it('runs independent stages side by side up to --jobs', async () => {
    const ws = pipelineWorkspace(`stages:
  left:
    cmd: node tool.mjs left --sleep 1500 --stamp yes --out left.txt
    outs: [left.txt]
  right:
    cmd: node tool.mjs right --sleep 1500 --stamp yes --out right.txt
    outs: [right.txt]
`);
    const run = await runCli(['repro', '--jobs', '2'], {}, ws.dir);
    expect(run.code).toBe(0);
    const left = JSON.parse(ws.read('stamps/left.json')) as { start: number; end: number };
    const right = JSON.parse(ws.read('stamps/right.json')) as { start: number; end: number };
    // Each started before the other ended: they overlapped.
    expect(left.start).toBeLessThan(right.end);
    expect(right.start).toBeLessThan(left.end);
  });

  it('restores outs from the run cache when an older params file comes back from git, instead of running', async () => {
    const ws = threeStages();
    ws.git('init', '-q');
    ws.git('add', 'params.yaml', 'slipway.yaml');
    ws.git('commit', '-q', '-m', 'lr 0.1');
    expect((await runCli(['repro'], {}, ws.dir)).code).toBe(0);
    const modelAt01 = ws.read('model.bin');
    ws.write('params.yaml', 'lr: 0.2\n');
    expect((await runCli(['repro'], {}, ws.dir)).code).toBe(0);
    expect(ws.read('model.bin')).toContain('lr=0.2');

    ws.git('checkout', '--', 'params.yaml');
    ws.clearRuns();
    const back = await runCli(['repro'], {}, ws.dir);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("'train' restored from the run cache");
    expect(back.stdout).toContain("'evaluate' restored from the run cache");
    expect(ws.runs()).toEqual([]);
    expect(ws.read('model.bin')).toBe(modelAt01);
    expect(ws.read('eval.txt')).toContain('lr=0.1');
    expect((await runCli(['repro'], {}, ws.dir)).stdout).toContain('Everything is up to date.');
    // The cache, the run cache, the locks and the tracking store (with its audit key) stay out of git.
    expect(ws.git('status', '--porcelain', '-uall', '.slipway')).toBe('?? .slipway/.gitignore\n');
  });

  it('restores a stage that writes a metrics file (kept out of the cache setting) from the run cache', async () => {
    const ws = pipelineWorkspace('stages:\n  train:\n    cmd: node tool.mjs train --param lr --out model.bin --out metrics.json\n    params: [lr]\n    outs: [model.bin]\n    metrics: [metrics.json]\n', { 'params.yaml': 'lr: 0.1\n' });
    expect((await runCli(['repro', '--no-track'], {}, ws.dir)).code).toBe(0);
    ws.write('params.yaml', 'lr: 0.2\n');
    expect((await runCli(['repro', '--no-track'], {}, ws.dir)).code).toBe(0);
    expect(ws.read('metrics.json')).toContain('lr=0.2');
    ws.write('params.yaml', 'lr: 0.1\n');
    ws.clearRuns();
    const back = await runCli(['repro', '--no-track'], {}, ws.dir);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("'train' restored from the run cache");
    expect(ws.runs()).toEqual([]);
    expect(ws.read('metrics.json')).toContain('lr=0.1');
    expect(ws.read('model.bin')).toContain('lr=0.1');
  });

  it('restores a deleted out from the run cache, and runs instead with --no-run-cache', async () => {
    const ws = threeStages();
    expect((await runCli(['repro'], {}, ws.dir)).code).toBe(0);
    const model = ws.read('model.bin');
    ws.clearRuns();
    writeFileSync(join(ws.dir, 'model.bin'), 'tampered');
    const restored = await runCli(['repro', 'train'], {}, ws.dir);
    expect(restored.stdout).toContain("'train' restored from the run cache (model.bin differs from what the stage last produced)");
    expect(ws.read('model.bin')).toBe(model);
    expect(ws.runs()).toEqual([]);

    ws.write('model.bin', 'tampered');
    const ran = await runCli(['repro', 'train', '--no-run-cache'], {}, ws.dir);
    expect(ran.code).toBe(0);
    expect(ws.runs()).toEqual(['train']);
  });

  it('stops at a failing command with exit 1, naming the stage, its exit code and its last lines, and keeps what ran before', async () => {
    const ws = pipelineWorkspace(`stages:
  a:
    cmd: node tool.mjs a --out a.txt
    outs: [a.txt]
  b:
    cmd: node tool.mjs b --in a.txt --fail 3
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: node tool.mjs c --in b.txt --out c.txt
    deps: [b.txt]
    outs: [c.txt]
`);
    const run = await runCli(['repro'], {}, ws.dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: stage 'b' failed (exit 3): ");
    expect(run.stderr).toContain('boom: out of memory');
    expect(run.stdout).toContain('1 ran, 1 failed, 0 up to date, 1 not run.');
    expect(ws.runs()).toEqual(['a', 'b']);
    expect(ws.read('a.txt')).toBe('a');
    expect(ws.read('slipway.lock')).toContain('  a:\n');
    expect(ws.read('slipway.lock')).not.toContain('  b:\n');

    ws.clearRuns();
    const again = await runCli(['repro'], {}, ws.dir);
    expect(again.stderr).toContain("error: stage 'b' failed (exit 3)");
    expect(again.code).toBe(1);
    expect(ws.runs()).toEqual(['b']);
  });

  it('lets a running stage finish after another fails, and starts no new one', async () => {
    const ws = pipelineWorkspace(`stages:
  a:
    cmd: node tool.mjs a --touch a.started --fail 4
    outs: [a.txt]
  b:
    cmd: node tool.mjs b --wait-for a.started --wait-gone .slipway/locks/stage-a.lock --out b.txt
    outs: [b.txt]
  c:
    cmd: node tool.mjs c --out c.txt
    outs: [c.txt]
`);
    const run = await runCli(['repro', '--jobs', '2', '--no-track'], {}, ws.dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: stage 'a' failed (exit 4)");
    expect(ws.runs().sort()).toEqual(['a', 'b']);
    expect(ws.read('b.txt')).toBe('b');
    expect(ws.read('slipway.lock')).toContain('  b:\n');
    expect(ws.exists('c.txt')).toBe(false);
  });

  it('fails a stage that exits 0 without writing an out, and keeps a persist out while the stage runs', async () => {
    const ws = pipelineWorkspace(`stages:
  lazy:
    cmd: node tool.mjs lazy
    outs: [model.bin]
  resume:
    cmd: node tool.mjs resume --in checkpoint.txt --out checkpoint.txt
    outs: [{ checkpoint.txt: { persist: true, cache: false } }]
`);
    const run = await runCli(['repro', 'lazy', '--no-track'], {}, ws.dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("error: stage 'lazy' finished but did not write its out 'model.bin'\n");

    // A wdir that is a link out of the workspace never gets a command run in it.
    symlinkSync(tmpdir(), join(ws.dir, 'elsewhere'));
    ws.write('slipway.yaml', `${ws.read('slipway.yaml')}  away:\n    cmd: node -e 0\n    wdir: elsewhere\n`);
    const away = await runCli(['repro', 'away', '--no-track'], {}, ws.dir);
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(/^error: stage 'away' could not start: its wdir 'elsewhere' leads outside the workspace/);

    ws.write('checkpoint.txt', 'epoch 1');
    const resumed = await runCli(['repro', 'resume', '--no-track'], {}, ws.dir);
    expect(resumed.code).toBe(0);
    expect(ws.read('checkpoint.txt')).toBe('resume|epoch 1');
  });

  it('refuses a stage another repro is running, and takes over a lock left by a dead process', async () => {
    const ws = pipelineWorkspace(`stages:
  slow:
    cmd: node tool.mjs slow --wait-for go.flag --out slow.txt
    outs: [slow.txt]
`);
    const first = runCli(['repro'], {}, ws.dir);
    const lock = join(ws.dir, '.slipway/locks/stage-slow.lock');
    while (!existsSync(lock) || !ws.runs().includes('slow')) await new Promise((r) => setTimeout(r, 25));
    const holder = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number };
    const second = await runCli(['repro'], {}, ws.dir);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`^error: stage 'slow' is being run by another slipway repro \\(pid ${holder.pid} on .+, since \\d{4}-`));
    ws.write('go.flag', '');
    expect((await first).code).toBe(0);
    expect(existsSync(lock)).toBe(false);

    // A lock whose process is gone (the pid of a child that has exited) is stale.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    ws.write('.slipway/locks/stage-slow.lock', JSON.stringify({ pid: dead, host: hostname(), since: new Date().toISOString() }));
    ws.clearRuns();
    const taken = await runCli(['repro', '--force', '--no-track'], {}, ws.dir);
    expect(taken.stderr).toBe('');
    expect(taken.code).toBe(0);
    expect(ws.runs()).toEqual(['slow']);
  });

  it('keeps the entries of two repros running different stages at once', async () => {
    const stages = Array.from({ length: 6 }, (_, i) => `  s${i}:\n    cmd: node tool.mjs s${i} --out out/s${i}.txt\n    outs: [out/s${i}.txt]\n`).join('');
    const ws = pipelineWorkspace(`stages:\n${stages}`);
    const [one, two] = await Promise.all([runCli(['repro', '--no-track', 's0', 's1', 's2'], {}, ws.dir), runCli(['repro', '--no-track', 's3', 's4', 's5'], {}, ws.dir)]);
    expect([one.code, two.code]).toEqual([0, 0]);
    const lock = ws.read('slipway.lock');
    for (let i = 0; i < 6; i++) expect(lock).toContain(`  s${i}:\n`);
    expect((await runCli(['repro', '--no-track'], {}, ws.dir)).stdout).toContain('Everything is up to date.');
  });

  it('keeps the lock of a pipeline named with --config beside it, apart from slipway.lock', async () => {
    const ws = pipelineWorkspace('stages:\n  a:\n    cmd: node tool.mjs a --out a.txt\n    outs: [a.txt]\n');
    ws.write('experiment.yaml', 'stages:\n  b:\n    cmd: node tool.mjs b --out b.txt\n    outs: [b.txt]\n');
    expect((await runCli(['repro', '--no-track'], {}, ws.dir)).code).toBe(0);
    expect((await runCli(['repro', '--no-track', '--config', 'experiment.yaml'], {}, ws.dir)).code).toBe(0);
    expect(ws.read('slipway.lock')).toContain('  a:\n');
    expect(ws.read('slipway.lock')).not.toContain('  b:\n');
    expect(ws.read('experiment.lock')).toContain('  b:\n');
    ws.clearRuns();
    expect((await runCli(['repro', '--no-track'], {}, ws.dir)).stdout).toContain('Everything is up to date.');
    expect((await runCli(['repro', '--no-track', '--config', 'experiment.yaml'], {}, ws.dir)).stdout).toContain('Everything is up to date.');
    expect(ws.runs()).toEqual([]);
  });

  it('data gc keeps the cached outs a pipeline named with --config recorded in its own lock file', async () => {
    const ws = pipelineWorkspace('stages: {}\n');
    // One out kept out of the cache: the stage has no run-cache entry, so only experiment.lock names model.bin.
    ws.write('experiment.yaml', 'stages:\n  b:\n    cmd: node tool.mjs b --out model.bin --out log.txt\n    outs: [model.bin, { log.txt: { cache: false } }]\n');
    ws.write('poetry.lock', 'not ours: [\n');
    expect((await runCli(['repro', '--no-track', '--config', 'experiment.yaml'], {}, ws.dir)).code).toBe(0);
    // The run cache may be removed at any time (it only costs reruns); the lock file alone must keep its outs.
    rmSync(join(ws.dir, '.slipway/runs'), { recursive: true, force: true });
    const gc = await runCli(['data', 'gc', '--workspace', '--json'], {}, ws.dir);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({ removed: 0 });
  });

  it('refuses to run a stage whose out lies under a symbolic link, leaving what the link points at alone', async () => {
    const ws = pipelineWorkspace('stages:\n  train:\n    cmd: node tool.mjs train --out lnk/model.bin\n    outs: [lnk/model.bin]\n');
    const outside = pipelineWorkspace('stages: {}\n');
    outside.write('model.bin', 'precious\n');
    symlinkSync(outside.dir, join(ws.dir, 'lnk'));
    const res = await runCli(['repro', '--no-track'], {}, ws.dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("its out 'lnk/model.bin' lies under the symbolic link 'lnk'");
    expect(ws.runs()).toEqual([]);
    expect(outside.read('model.bin')).toBe('precious\n');
  });

  it('runs a stage marked alwaysChanged on every repro, and only what depends on an out it changed', async () => {
    const ws = pipelineWorkspace('stages:\n  pull:\n    cmd: node tool.mjs pull --out raw.txt\n    outs: [raw.txt]\n    alwaysChanged: true\n  clean:\n    cmd: node tool.mjs clean --in raw.txt --out clean.txt\n    deps: [raw.txt]\n    outs: [clean.txt]\n');
    expect((await runCli(['repro', '--no-track'], {}, ws.dir)).code).toBe(0);
    expect(ws.runs()).toEqual(['pull', 'clean']);
    ws.clearRuns();
    const again = await runCli(['repro', '--no-track'], {}, ws.dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("running 'pull': it is marked alwaysChanged");
    // pull wrote the same content again, so clean stays up to date.
    expect(ws.runs()).toEqual(['pull']);
    const bad = pipelineWorkspace('stages:\n  pull:\n    cmd: x\n    alwaysChanged: yes please\n');
    const b = await runCli(['repro', '--no-track'], {}, bad.dir);
    expect(b.code).toBe(2);
    expect(b.stderr).toBe('error: slipway.yaml:4:5: stages.pull.alwaysChanged: must be true or false.\n');
  });

  it('answers a bad pipeline with exit 2 and a message naming the stages and the cause', async () => {
    const cycle = pipelineWorkspace('stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: y\n    deps: [a.txt]\n    outs: [b.txt]\n');
    const c = await runCli(['repro'], {}, cycle.dir);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^error: the pipeline has a cycle: a -> b -> a;/);

    const twice = pipelineWorkspace('stages:\n  a:\n    cmd: x\n    outs: [m.bin]\n  b:\n    cmd: y\n    outs: [m.bin]\n');
    const t = await runCli(['repro'], {}, twice.dir);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain("the out 'm.bin' is claimed by two stages: 'a' and 'b'");

    const missing = pipelineWorkspace('stages:\n  train:\n    cmd: x\n    deps: [data/raw.csv]\n');
    const m = await runCli(['repro'], {}, missing.dir);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("stage 'train' depends on 'data/raw.csv', which no stage produces and which does not exist");

    const yaml = pipelineWorkspace('stages:\n  train:\n    cmd: x\n    outz: [m.bin]\n');
    const y = await runCli(['repro'], {}, yaml.dir);
    expect(y.code).toBe(2);
    expect(y.stderr).toMatch(/^error: slipway\.yaml:4:5: stages\.train\.outz: unknown key 'outz'/);
    expect(existsSync(join(yaml.dir, 'slipway.lock'))).toBe(false);

    const params = pipelineWorkspace('stages:\n  train:\n    cmd: x\n    params: [lr]\n', { 'params.yaml': 'epochs: 3\n' });
    const p = await runCli(['repro'], {}, params.dir);
    expect(p.code).toBe(2);
    expect(p.stderr).toBe("error: params.yaml has no param 'lr' (read by stage 'train').\n");

    // The pipeline: section is checked before any stage runs, like the rest of the file.
    const settings = pipelineWorkspace('pipeline:\n  experimnt: x\nstages:\n  a:\n    cmd: node tool.mjs a --out a.txt\n    outs: [a.txt]\n');
    const st = await runCli(['repro'], {}, settings.dir);
    expect(st.code).toBe(2);
    expect(st.stderr).toBe("error: slipway.yaml:2:3: pipeline.experimnt: unknown key 'experimnt'; use experiment.\n");
    expect(existsSync(join(settings.dir, 'a.txt'))).toBe(false);

    const fine = pipelineWorkspace('stages:\n  a:\n    cmd: node tool.mjs a\n');
    const none = await runCli(['repro', 'nope'], {}, fine.dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe("error: no stage 'nope' in the pipeline; stages: a.\n");
  });
});

describe('slipway dag', () => {
  const PIPE = `stages:
  prepare:
    cmd: node tool.mjs prepare --in raw.txt --out data/clean.txt
    deps: [raw.txt]
    outs: [data/clean.txt]
  train:
    foreach: [small, large]
    do:
      cmd: node tool.mjs train-\${item} --in data/clean.txt --out models/\${item}.bin
      deps: [data]
      outs: ["models/\${item}.bin"]
  evaluate:
    cmd: node tool.mjs evaluate --in models/small.bin --out eval.txt
    deps: [models]
    outs: [eval.txt]
`;

  it('prints the stages in layers with arrows, as dot, and as JSON nodes and edges', async () => {
    const ws = pipelineWorkspace(PIPE, { 'raw.txt': 'x' });
    const text = await runCli(['dag'], {}, ws.dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      ['layer 1  prepare      -> train@small, train@large', 'layer 2  train@small  -> evaluate', '         train@large  -> evaluate', 'layer 3  evaluate', ''].join('\n'),
    );
    const dot = await runCli(['dag', '--dot'], {}, ws.dir);
    expect(dot.stdout).toContain('digraph pipeline {');
    expect(dot.stdout).toContain('"prepare" -> "train@small";');
    const json = JSON.parse((await runCli(['dag', '--json', 'train@large'], {}, ws.dir)).stdout) as { nodes: Array<{ name: string }>; edges: unknown[] };
    expect(json.nodes.map((n) => n.name)).toEqual(['prepare', 'train@large']);
    expect(json.edges).toEqual([{ from: 'prepare', to: 'train@large', path: 'data' }]);
  });

  it('runs a foreach pipeline in order, from a subfolder, finding slipway.yaml above it', async () => {
    const ws = pipelineWorkspace(PIPE, { 'raw.txt': 'x' });
    ws.write('notebooks/.keep', '');
    const run = await runCli(['repro', '--jobs', '1'], {}, join(ws.dir, 'notebooks'));
    expect(run.code).toBe(0);
    expect(ws.runs()).toEqual(['prepare', 'train-small', 'train-large', 'evaluate']);
    // The runs went to the workspace's store, not to a new one under the subfolder.
    expect(ws.exists('notebooks/.slipway')).toBe(false);
    expect(ws.exists('.slipway/slipway.db')).toBe(true);
  });
});
