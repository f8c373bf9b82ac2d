import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePipeline } from './pipeline-config.js';

const ROOT = '/project';

function parse(text: string) {
  return parsePipeline(text, ROOT, 'slipway.yaml', ROOT);
}

function errorOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('the stages: section', () => {
  it('reads a stage with every key, normalizing paths and joining a command list with &&', () => {
    const p = parse(`params: conf/params.yaml
stages:
  train:
    cmd: [node prep.js, node train.js]
    wdir: ./src
    deps: [./data//clean.csv, train.js]
    params: [train.lr, { eval.json: [threshold] }, { other.yaml: [] }]
    outs:
      - models/model.bin
      - cache/: { cache: false, persist: true }
    metrics: [metrics.json]
    plots: [{ plots/roc.csv: { cache: true } }]
    env: { SEED: 42 }
    register: { name: cancer, path: models/model.bin, aliases: [candidate] }
`);
    expect(p.paramsFile).toBe('conf/params.yaml');
    expect(p.stages).toHaveLength(1);
    const s = p.stages[0]!;
    expect(s).toMatchObject({
      name: 'train',
      cmd: 'node prep.js && node train.js',
      wdir: 'src',
      deps: ['data/clean.csv', 'train.js'],
      params: [
        { file: 'conf/params.yaml', keys: ['train.lr'] },
        { file: 'eval.json', keys: ['threshold'] },
        { file: 'other.yaml', keys: ['*'] },
      ],
      outs: [
        { path: 'models/model.bin', cache: true, persist: false },
        { path: 'cache', cache: false, persist: true },
      ],
      metrics: [{ path: 'metrics.json', cache: false, persist: false }],
      plots: [{ path: 'plots/roc.csv', cache: true, persist: false }],
      env: { SEED: '42' },
      register: { name: 'cancer', path: 'models/model.bin', aliases: ['candidate'] },
      declaredAt: 'slipway.yaml:3:3',
    });
  });

  it('expands foreach over a list into NAME@ITEM stages with ${item} replaced', () => {
    const p = parse(`stages:
  train:
    foreach: [small, large]
    do:
      cmd: node train.js --size \${item}
      outs: ["models/\${item}.bin"]
`);
    expect(p.stages.map((s) => [s.name, s.cmd, s.outs[0]?.path])).toEqual([
      ['train@small', 'node train.js --size small', 'models/small.bin'],
      ['train@large', 'node train.js --size large', 'models/large.bin'],
    ]);
  });

  it('expands foreach over a mapping with ${key} and ${item.field}, and a list of mappings by index', () => {
    const p = parse(`stages:
  fit:
    foreach:
      us: { lr: 0.1, rows: 100 }
      eu: { lr: 0.2, rows: 50 }
    do:
      cmd: node fit.js \${key} \${item.lr} \${item.rows}
  score:
    foreach: [{ n: 1 }, { n: 2 }]
    do:
      cmd: node score.js \${key} \${item.n}
`);
    expect(p.stages.map((s) => [s.name, s.cmd])).toEqual([
      ['fit@us', 'node fit.js us 0.1 100'],
      ['fit@eu', 'node fit.js eu 0.2 50'],
      ['score@0', 'node score.js 0 1'],
      ['score@1', 'node score.js 1 2'],
    ]);
  });

  it('expands matrix into the cross product, named by the values joined with -', () => {
    const p = parse(`stages:
  train:
    matrix: { lr: [1, 2], model: [x, y] }
    do:
      cmd: node train.js \${item.lr} \${item.model}
      outs: ["out/\${item.model}-\${item.lr}"]
`);
    expect(p.stages.map((s) => s.name)).toEqual(['train@1-x', 'train@1-y', 'train@2-x', 'train@2-y']);
    expect(p.stages[1]?.cmd).toBe('node train.js 1 y');
    expect(p.stages[3]?.outs[0]?.path).toBe('out/y-2');
  });

  it('names file, line, column and key of an unknown key', () => {
    expect(errorOf('stages:\n  train:\n    cmd: node t.js\n    out: [m.bin]\n')).toBe('slipway.yaml:4:5: stages.train.out: unknown key \'out\'; use cmd, wdir, deps, params, outs, metrics, plots, env, register, alwaysChanged (or foreach/matrix with do).');
  });

  it('refuses a stage name with @ or /, a missing cmd and a wrong type, at their keys', () => {
    expect(errorOf('stages:\n  train@v2:\n    cmd: x\n')).toMatch(/^slipway\.yaml:2:3: stages\.train@v2: the stage name 'train@v2' contains '@'/);
    expect(errorOf('stages:\n  a/b:\n    cmd: x\n')).toMatch(/^slipway\.yaml:2:3: stages\.a\/b: the stage name 'a\/b' contains '\/'/);
    expect(errorOf('stages:\n  train:\n    deps: [a]\n')).toMatch(/^slipway\.yaml:2:3: stages\.train\.cmd: 'cmd' is required/);
    expect(errorOf('stages:\n  train:\n    cmd: x\n    deps: 3\n')).toBe('slipway.yaml:4:5: stages.train.deps: must be a list of paths.');
    expect(errorOf('stages:\n  train:\n    cmd: x\n    outs: [{ m.bin: { cache: maybe } }]\n')).toBe('slipway.yaml:4:23: stages.train.outs[0].m.bin.cache: must be true or false.');
  });

  it('refuses paths that leave the workspace or are absolute', () => {
    expect(errorOf('stages:\n  train:\n    cmd: x\n    deps: [../secret.csv]\n')).toBe("slipway.yaml:4:12: stages.train.deps[0]: '../secret.csv' escapes the workspace root.");
    expect(errorOf('stages:\n  train:\n    cmd: x\n    outs: [/etc/passwd]\n')).toBe("slipway.yaml:4:12: stages.train.outs[0]: '/etc/passwd' must be relative to the workspace root.");
    expect(errorOf('stages:\n  train:\n    cmd: x\n    wdir: a/../../b\n')).toMatch(/stages\.train\.wdir: 'a\/\.\.\/\.\.\/b' escapes the workspace root\./);
  });

  it('refuses an unknown ${…} name, duplicate expansion keys, and a register path that is not an out', () => {
    expect(errorOf('stages:\n  t:\n    foreach: [a]\n    do:\n      cmd: run ${item.size}\n')).toMatch(/^slipway\.yaml:5:7: stages\.t\.do\.cmd: \$\{item\.size\} names nothing/);
    expect(errorOf('stages:\n  t:\n    cmd: run ${item}\n')).toBe('slipway.yaml:3:5: stages.t.cmd: ${item} exists only inside the do: of a foreach or matrix stage.');
    expect(errorOf('stages:\n  t:\n    foreach: [a, a]\n    do: { cmd: x }\n')).toMatch(/^slipway\.yaml:3:18: stages\.t\.foreach\[1\]: the stage 't@a' is produced twice/);
    expect(errorOf('stages:\n  t:\n    cmd: x\n    outs: [m.bin]\n    register: { name: m, path: other.bin }\n')).toMatch(/stages\.t\.register\.path: 'other\.bin' is not one of the stage's outs/);
  });

  it('says where invalid YAML breaks, and that a file without stages declares none', () => {
    expect(errorOf('stages:\n  t:\n    cmd: [a\n')).toMatch(/^slipway\.yaml:\d+:\d+: not valid YAML: /);
    expect(errorOf('server:\n  port: 5000\n')).toMatch(/^slipway\.yaml declares no stages/);
  });

  it('fills ${params.KEY} from the params file, in commands and foreach lists, and leaves shell variables alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'slipway-config-'));
    try {
      writeFileSync(join(root, 'params.yaml'), 'train:\n  lr: 0.05\nsizes: [s, m]\n');
      const p = parsePipeline(
        `stages:
  train:
    cmd: node train.js --lr \${params.train.lr} --home \${HOME}
  fit:
    foreach: \${params.sizes}
    do:
      cmd: node fit.js \${item} \${params.train.lr} "$\{USER}"
`,
        root,
        'slipway.yaml',
        root,
      );
      expect(p.stages.map((s) => [s.name, s.cmd])).toEqual([
        ['train', 'node train.js --lr 0.05 --home ${HOME}'],
        ['fit@s', 'node fit.js s 0.05 "${USER}"'],
        ['fit@m', 'node fit.js m 0.05 "${USER}"'],
      ]);
      expect(() => parsePipeline('stages:\n  t:\n    cmd: run ${params.nope}\n', root, 'slipway.yaml', root)).toThrow('slipway.yaml:3:5: stages.t.cmd: ${params.nope} names no key of the params file.');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
