import { describe, expect, it } from 'vitest';
import { parsePipeline } from './pipeline-config.js';
import { buildGraph, graphLayers, graphToDot, selectStages } from './pipeline-graph.js';

const ROOT = '/project';

function graphOf(text: string, present: string[] = []) {
  return buildGraph(parsePipeline(text, ROOT, 'slipway.yaml', ROOT), (p) => present.includes(p));
}

function errorOf(text: string, present: string[] = []): string {
  try {
    graphOf(text, present);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

const PIPELINE = `stages:
  evaluate:
    cmd: e
    deps: [models, data/test.csv]
    metrics: [metrics.json]
  train:
    foreach: [a, b]
    do:
      cmd: t
      deps: [data/clean]
      outs: ["models/\${item}.bin"]
  prepare:
    cmd: p
    deps: [raw.csv]
    outs: [data]
`;

describe('the pipeline graph', () => {
  it('links an out to the deps that are it, inside it, or hold it, and orders stages topologically', () => {
    const g = graphOf(PIPELINE, ['raw.csv']);
    expect(g.stages.map((s) => s.name)).toEqual(['prepare', 'train@a', 'train@b', 'evaluate']);
    expect(g.edges).toEqual([
      { from: 'train@a', to: 'evaluate', path: 'models' },
      { from: 'train@b', to: 'evaluate', path: 'models' },
      { from: 'prepare', to: 'evaluate', path: 'data/test.csv' },
      { from: 'prepare', to: 'train@a', path: 'data/clean' },
      { from: 'prepare', to: 'train@b', path: 'data/clean' },
    ]);
    expect(graphLayers(g)).toEqual([['prepare'], ['train@a', 'train@b'], ['evaluate']]);
    expect(graphToDot(g)).toContain('"train@a" -> "evaluate";');
  });

  it('selects a stage with everything upstream of it, and a foreach base name as all its stages', () => {
    const g = graphOf(PIPELINE, ['raw.csv']);
    expect([...selectStages(g, ['train@a'])].sort()).toEqual(['prepare', 'train@a']);
    expect([...selectStages(g, ['train'])].sort()).toEqual(['prepare', 'train@a', 'train@b']);
    expect(() => selectStages(g, ['fit'])).toThrow("no stage 'fit' in the pipeline; stages: evaluate, train@a, train@b, prepare.");
  });

  it('names the cycle', () => {
    const text = 'stages:\n  a:\n    cmd: x\n    deps: [b.out]\n    outs: [a.out]\n  b:\n    cmd: y\n    deps: [a.out]\n    outs: [b.out]\n';
    expect(errorOf(text)).toMatch(/^the pipeline has a cycle: a -> b -> a;/);
  });

  it('names both stages claiming one out, and overlapping outs', () => {
    expect(errorOf('stages:\n  a:\n    cmd: x\n    outs: [m.bin]\n  b:\n    cmd: y\n    outs: [m.bin]\n')).toMatch(/^the out 'm\.bin' is claimed by two stages: 'a' and 'b'/);
    expect(errorOf('stages:\n  a:\n    cmd: x\n    outs: [models]\n  b:\n    cmd: y\n    metrics: [models/m.json]\n')).toMatch(/^the outs 'models' and 'models\/m\.json' overlap, and are claimed by two stages: 'a' and 'b'/);
  });

  it('names the stage and the dep that nothing produces and nothing holds', () => {
    expect(errorOf('stages:\n  train:\n    cmd: x\n    deps: [data/raw.csv]\n')).toBe("stage 'train' depends on 'data/raw.csv', which no stage produces and which does not exist (nor is it tracked by a .slipway pointer).");
    expect(() => graphOf('stages:\n  train:\n    cmd: x\n    deps: [data/raw.csv]\n', ['data/raw.csv'])).not.toThrow();
  });

  it('refuses a stage that reads its own out', () => {
    expect(errorOf('stages:\n  a:\n    cmd: x\n    deps: [m.bin]\n    outs: [m.bin]\n')).toMatch(/^stage 'a' reads 'm\.bin' and also writes 'm\.bin'/);
  });
});
