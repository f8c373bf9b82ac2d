/**
 * The pipeline's graph: an edge A → B when an out of A is a dep of B (or one lies inside the
 * other). Building it checks what would make a run meaningless: cycles, an out claimed by two
 * stages, a stage reading its own out, and a dep nothing produces and nothing holds.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { POINTER_SUFFIX } from '../data/data-types.js';
import type { Pipeline, Stage, StageOut } from './pipeline-types.js';
import { overlaps } from './stage-paths.js';

/** One edge: `to` reads `path`, which `from` writes. */
export interface GraphEdge {
  from: string;
  to: string;
  /** The dep of `to` that the edge stands for. */
  path: string;
}

/** The checked graph of a pipeline. */
export interface PipelineGraph {
  /** The stages in a topological order (declared order where free). */
  stages: Stage[];
  byName: Map<string, Stage>;
  edges: GraphEdge[];
  /** Per stage, the stages it reads from directly. */
  upstream: Map<string, string[]>;
  /** Per stage, the stages that read from it directly. */
  downstream: Map<string, string[]>;
}

/** Every out, metric and plot of a stage. */
export function allOuts(stage: Stage): StageOut[] {
  return [...stage.outs, ...stage.metrics, ...stage.plots];
}

function configError(message: string, details: Record<string, unknown>): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, details);
}

/** True when `path` (relative to `root`) exists or is tracked by a pointer file, itself or a folder above it. */
export function existsOrTracked(root: string, path: string): boolean {
  if (existsSync(join(root, path))) return true;
  const parts = path.split('/');
  for (let i = parts.length; i > 0; i--) {
    if (existsSync(join(root, `${parts.slice(0, i).join('/')}${POINTER_SUFFIX}`))) return true;
  }
  return false;
}

function findCycle(names: readonly string[], downstream: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (name: string): string[] | undefined => {
    state.set(name, 'open');
    trail.push(name);
    for (const next of downstream.get(name) ?? []) {
      if (state.get(next) === 'open') return [...trail.slice(trail.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    trail.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of names) {
    if (!state.has(name)) {
      const found = visit(name);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Builds and checks the graph of `pipeline`. `exists` says whether a dep that no stage produces is
 * present (by default: on disk or tracked by a pointer file). Throws INVALID_ARGUMENT naming the
 * stages and paths at fault.
 */
export function buildGraph(pipeline: Pipeline, exists: (path: string) => boolean = (p) => existsOrTracked(pipeline.root, p)): PipelineGraph {
  const byName = new Map(pipeline.stages.map((s) => [s.name, s]));
  const writers: Array<{ stage: string; out: string }> = [];
  for (const stage of pipeline.stages) {
    for (const out of allOuts(stage)) {
      const other = writers.find((w) => w.stage !== stage.name && overlaps(w.out, out.path));
      if (other) {
        const same = other.out === out.path;
        throw configError(`${same ? `the out '${out.path}' is` : `the outs '${other.out}' and '${out.path}' overlap, and are`} claimed by two stages: '${other.stage}' and '${stage.name}'; each path has one producer.`, { stages: [other.stage, stage.name], path: out.path });
      }
      writers.push({ stage: stage.name, out: out.path });
    }
  }
  const edges: GraphEdge[] = [];
  const upstream = new Map<string, string[]>(pipeline.stages.map((s) => [s.name, []]));
  const downstream = new Map<string, string[]>(pipeline.stages.map((s) => [s.name, []]));
  for (const stage of pipeline.stages) {
    for (const dep of stage.deps) {
      const own = allOuts(stage).find((o) => overlaps(o.path, dep));
      if (own) throw configError(`stage '${stage.name}' reads '${dep}' and also writes '${own.path}'; a stage cannot depend on its own out (use persist: true to keep an out between runs).`, { stage: stage.name, path: dep });
      const producers = writers.filter((w) => overlaps(w.out, dep));
      if (producers.length === 0 && !exists(dep)) {
        throw configError(`stage '${stage.name}' depends on '${dep}', which no stage produces and which does not exist (nor is it tracked by a ${POINTER_SUFFIX} pointer).`, { stage: stage.name, path: dep });
      }
      for (const p of producers) {
        if (!upstream.get(stage.name)?.includes(p.stage)) {
          upstream.get(stage.name)?.push(p.stage);
          downstream.get(p.stage)?.push(stage.name);
        }
        if (!edges.some((e) => e.from === p.stage && e.to === stage.name && e.path === dep)) edges.push({ from: p.stage, to: stage.name, path: dep });
      }
    }
  }
  const names = pipeline.stages.map((s) => s.name);
  const cycle = findCycle(names, downstream);
  if (cycle) throw configError(`the pipeline has a cycle: ${cycle.join(' -> ')}; a stage cannot depend, directly or not, on its own outs.`, { cycle });
  // Kahn's order, picking the earliest declared ready stage each time so the listing follows the file.
  const waiting = new Map(names.map((n) => [n, upstream.get(n)?.length ?? 0]));
  const order: Stage[] = [];
  const ready = names.filter((n) => waiting.get(n) === 0);
  const index = new Map(names.map((n, i) => [n, i]));
  while (ready.length > 0) {
    ready.sort((a, b) => (index.get(a) ?? 0) - (index.get(b) ?? 0));
    const name = ready.shift() as string;
    order.push(byName.get(name) as Stage);
    for (const next of downstream.get(name) ?? []) {
      const left = (waiting.get(next) ?? 0) - 1;
      waiting.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  return { stages: order, byName, edges, upstream, downstream };
}

/**
 * The stages named by `targets` (a full name, or the base name of a foreach/matrix stage such as
 * `train` for every `train@…`) and everything upstream of them; all stages when `targets` is empty.
 */
export function selectStages(graph: PipelineGraph, targets: readonly string[]): Set<string> {
  if (targets.length === 0) return new Set(graph.byName.keys());
  const picked = new Set<string>();
  const visit = (name: string): void => {
    if (picked.has(name)) return;
    picked.add(name);
    for (const up of graph.upstream.get(name) ?? []) visit(up);
  };
  for (const target of targets) {
    const matches = graph.byName.has(target) ? [target] : [...graph.byName.keys()].filter((n) => n.startsWith(`${target}@`));
    if (matches.length === 0) {
      throw new SlipwayError('INVALID_ARGUMENT', `no stage '${target}' in the pipeline; stages: ${[...graph.byName.keys()].join(', ')}.`, { stage: target });
    }
    for (const m of matches) visit(m);
  }
  return picked;
}

/** The graph as layers: each stage sits one layer below the deepest stage it reads from. */
export function graphLayers(graph: PipelineGraph, only?: ReadonlySet<string>): string[][] {
  const depth = new Map<string, number>();
  for (const stage of graph.stages) {
    if (only && !only.has(stage.name)) continue;
    const ups = (graph.upstream.get(stage.name) ?? []).filter((u) => !only || only.has(u));
    depth.set(stage.name, ups.length === 0 ? 0 : Math.max(...ups.map((u) => depth.get(u) ?? 0)) + 1);
  }
  const layers: string[][] = [];
  for (const [name, d] of depth) (layers[d] ??= []).push(name);
  return layers;
}

function dotId(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The graph in Graphviz's dot language (`slipway dag --dot | dot -Tsvg`). */
export function graphToDot(graph: PipelineGraph, only?: ReadonlySet<string>): string {
  const lines = ['digraph pipeline {', '  rankdir=TB;', '  node [shape=box];'];
  for (const stage of graph.stages) if (!only || only.has(stage.name)) lines.push(`  ${dotId(stage.name)};`);
  const seen = new Set<string>();
  for (const e of graph.edges) {
    if (only && (!only.has(e.from) || !only.has(e.to))) continue;
    const key = `${e.from}\0${e.to}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(`  ${dotId(e.from)} -> ${dotId(e.to)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

