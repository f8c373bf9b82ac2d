/**
 * `repro`: runs the stages whose command, deps, params or outs changed since `slipway.lock`
 * recorded them, and the stages downstream of them, in parallel where the graph allows.
 *
 * Each stage is decided only once everything upstream of it has finished, so a stage whose inputs
 * came out the same as before is skipped even though its upstream ran. A failing stage stops the
 * scheduling of new stages; those already running finish and keep their lock entries.
 */
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { WORKSPACE_DIR } from '../data/data-types.js';
import { tryLock } from './pid-lock.js';
import { allOuts, buildGraph, selectStages, type PipelineGraph } from './pipeline-graph.js';
import type { LockedPath, Pipeline, Stage, StageDecision, StageLock, StageObserver, StageOut, StageResult } from './pipeline-types.js';
import { readRunCache, runCacheKey, writeRunCache } from './run-cache.js';
import { runStageCommand } from './stage-command.js';
import { lockFileFor, readLockFile, updateLockFile } from './stage-lock-file.js';
import { changedParams, ParamsReader } from './stage-params.js';
import { linkedParent, overlaps } from './stage-paths.js';
import type { StageStorage } from './stage-storage.js';

/** What `reproduce` is asked to do. */
export interface ReproOptions {
  pipeline: Pipeline;
  /** The checked graph, when the caller built it already. */
  graph?: PipelineGraph;
  storage: StageStorage;
  /** Stages to bring up to date (with everything upstream); all when empty. */
  targets?: readonly string[];
  /** Stages run at once. @default the number of cores */
  jobs?: number;
  /** Run the selected stages even when nothing changed. @default false */
  force?: boolean;
  /** Only say what would run and why. @default false */
  dryRun?: boolean;
  /** Restore outs from the run cache instead of running when the same inputs ran before. @default true */
  runCache?: boolean;
  observer?: StageObserver;
  /** Progress: decisions, each line a command prints, and each stage's end. */
  onEvent?: (event: ReproEvent) => void;
}

/** What became of one stage. */
export interface StageReport {
  stage: string;
  status: 'ran' | 'restored' | 'unchanged' | 'failed' | 'refused' | 'would-run' | 'not-run';
  /** Why it ran (or would run). */
  reason?: string;
  detail?: string;
  durationMs?: number;
  exitCode?: number;
  /** For a failed or refused stage, the one-line message. */
  message?: string;
}

/** The outcome of a repro. */
export interface ReproReport {
  /** True when every selected stage is up to date now (or, in a dry run, the plan could be made). */
  ok: boolean;
  stages: StageReport[];
  /** The first failure, as one line. */
  failure?: string;
}

/** A step of a repro, for progress output. */
export type ReproEvent =
  | { kind: 'started'; stage: string; decision: StageDecision & { run: true } }
  | { kind: 'output'; stage: string; line: string }
  | { kind: 'finished'; report: StageReport }
  | { kind: 'warning'; stage: string; message: string };

/** The lock file of a stage being run: `.slipway/locks/stage-<name>.lock`. */
export function stageLockPath(root: string, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.@-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return join(root, WORKSPACE_DIR, 'locks', `stage-${safe}.lock`);
}

/** Digests of paths, computed once per repro and forgotten when a stage rewrites them. */
class PathDigests {
  private readonly memo = new Map<string, Promise<LockedPath | undefined>>();

  constructor(private readonly storage: StageStorage) {}

  get(path: string): Promise<LockedPath | undefined> {
    let got = this.memo.get(path);
    if (!got) {
      got = this.storage.hash(path);
      this.memo.set(path, got);
      // A failed hash is not remembered, so a later look tries again.
      got.catch(() => this.memo.delete(path));
    }
    return got;
  }

  forget(path: string): void {
    for (const key of [...this.memo.keys()]) if (overlaps(key, path)) this.memo.delete(key);
  }
}

function listed(items: readonly string[]): string {
  return items.length <= 3 ? items.join(', ') : `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`;
}

function short(value: unknown): string {
  const text = value === undefined ? '(none)' : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Why `stage` must run, comparing what it would run on now with its lock entry; unchanged when it need not. */
export function decideStage(
  stage: Stage,
  prior: StageLock | undefined,
  now: { deps: readonly LockedPath[]; params: Record<string, Record<string, unknown>>; outs: ReadonlyArray<{ path: string; digest: LockedPath | undefined }> },
  force: boolean,
): StageDecision {
  if (force) return { run: true, reason: 'forced', detail: 'forced with --force' };
  if (stage.alwaysChanged) return { run: true, reason: 'forced', detail: 'it is marked alwaysChanged' };
  if (!prior) return { run: true, reason: 'new', detail: 'it has not run yet (no entry in slipway.lock)' };
  if (prior.cmd !== stage.cmd) return { run: true, reason: 'command-changed', detail: 'its command changed' };
  const changedDeps = now.deps.filter((d) => prior.deps.find((p) => p.path === d.path)?.sha256 !== d.sha256).map((d) => d.path);
  const droppedDeps = prior.deps.filter((p) => !now.deps.some((d) => d.path === p.path)).map((p) => p.path);
  if (changedDeps.length > 0) return { run: true, reason: 'deps-changed', detail: `${listed(changedDeps)} changed` };
  if (droppedDeps.length > 0) return { run: true, reason: 'deps-changed', detail: `${listed(droppedDeps)} is no longer a dep` };
  const params = changedParams(prior.params, now.params);
  if (params.length > 0) {
    const first = params[0] as string;
    const [file, key] = [first.slice(0, first.indexOf(':')), first.slice(first.indexOf(':') + 1)];
    return { run: true, reason: 'params-changed', detail: `${listed(params)} changed${params.length === 1 ? ` (${short(prior.params[file]?.[key])} -> ${short(now.params[file]?.[key])})` : ''}` };
  }
  const missing = now.outs.filter((o) => !o.digest).map((o) => o.path);
  if (missing.length > 0) return { run: true, reason: 'outs-changed', detail: `${listed(missing)} ${missing.length === 1 ? 'is' : 'are'} missing` };
  const modified = now.outs.filter((o) => prior.outs.find((p) => p.path === o.path)?.sha256 !== o.digest?.sha256).map((o) => o.path);
  if (modified.length > 0) return { run: true, reason: 'outs-changed', detail: `${listed(modified)} ${modified.length === 1 ? 'differs' : 'differ'} from what the stage last produced` };
  return { run: false, reason: 'unchanged' };
}

/** Brings the selected stages up to date; see the module comment. Throws on bad config (exit 2 material). */
export async function reproduce(opts: ReproOptions): Promise<ReproReport> {
  const { pipeline, storage } = opts;
  const root = pipeline.root;
  const graph = opts.graph ?? buildGraph(pipeline);
  const selected = selectStages(graph, opts.targets ?? []);
  const order = graph.stages.filter((s) => selected.has(s.name));
  const lockFile = lockFileFor(pipeline.file);
  const locks = await readLockFile(root, lockFile);
  const params = new ParamsReader(root);
  const digests = new PathDigests(storage);
  const inPipeline = new Set(graph.byName.keys());
  const emit = opts.onEvent ?? (() => {});
  const force = opts.force ?? false;
  const useRunCache = opts.runCache ?? true;

  /** The current state of a stage's inputs and outs. */
  const inspect = async (stage: Stage) => {
    const deps: LockedPath[] = [];
    for (const dep of stage.deps) {
      const d = await digests.get(dep);
      if (!d) throw new SlipwayError('INVALID_STATE', `stage '${stage.name}' depends on '${dep}', which is missing; bring it back (slipway data checkout ${dep}) or run the stage that produces it.`, { stage: stage.name, path: dep });
      deps.push(d);
    }
    const values = await params.valuesOf(stage);
    const outs = await Promise.all(allOuts(stage).map(async (o) => ({ path: o.path, digest: await digests.get(o.path) })));
    return { deps, params: values, outs };
  };

  if (opts.dryRun) {
    const reports: StageReport[] = [];
    const willRun = new Set<string>();
    // Every stage is inspected at once; a stage below one that would run never needs its (possibly missing) deps.
    const inspected = new Map(order.map((s) => [s.name, inspect(s)]));
    for (const p of inspected.values()) p.catch(() => {});
    for (const stage of order) {
      const ups = (graph.upstream.get(stage.name) ?? []).filter((u) => willRun.has(u));
      let decision: StageDecision;
      if (ups.length > 0 && !force) decision = { run: true, reason: 'deps-changed', detail: `upstream ${ups.length === 1 ? 'stage' : 'stages'} ${listed(ups.map((u) => `'${u}'`))} would run first` };
      else decision = decideStage(stage, locks[stage.name], await (inspected.get(stage.name) as ReturnType<typeof inspect>), force);
      if (decision.run) willRun.add(stage.name);
      reports.push(decision.run ? { stage: stage.name, status: 'would-run', reason: decision.reason, detail: decision.detail } : { stage: stage.name, status: 'unchanged' });
    }
    return { ok: true, stages: reports };
  }

  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  const results = new Map<string, StageReport>();
  const running = new Map<string, Promise<void>>();
  let stopping = false;
  let thrown: unknown;
  // Deciding is cheap I/O and runs for every ready stage at once; only commands and restores take one
  // of the --jobs slots. Slots go out in the pipeline's order, and not past a stage still deciding,
  // so the order stages start in does not depend on which check happened to finish first.
  const position = new Map(order.map((s, i) => [s.name, i]));
  const deciding = new Set<number>();
  const waiters: Array<{ at: number; go: () => void }> = [];
  let free = jobs;
  const pump = (): void => {
    waiters.sort((a, b) => a.at - b.at);
    while (free > 0 && waiters.length > 0) {
      const head = waiters[0] as (typeof waiters)[number];
      if ([...deciding].some((d) => d < head.at)) return;
      waiters.shift();
      free--;
      head.go();
    }
  };
  const doneDeciding = (stage: Stage): void => {
    deciding.delete(position.get(stage.name) ?? 0);
    pump();
  };
  const takeSlot = async (stage: Stage): Promise<() => void> => {
    await new Promise<void>((go) => {
      waiters.push({ at: position.get(stage.name) ?? 0, go });
      doneDeciding(stage);
    });
    let given = false;
    return () => {
      if (given) return;
      given = true;
      free++;
      pump();
    };
  };

  const runOne = async (stage: Stage): Promise<StageReport> => {
    const lockPath = stageLockPath(root, stage.name);
    const got = await tryLock(lockPath);
    if ('holder' in got) {
      const h = got.holder;
      const message = `stage '${stage.name}' is being run by another slipway repro (pid ${h.pid}${h.host !== '' ? ` on ${h.host}` : ''}, since ${h.since}); wait for it, or delete ${lockPath} if no such process runs.`;
      return { stage: stage.name, status: 'refused', message };
    }
    try {
      let decision: StageDecision;
      let now: Awaited<ReturnType<typeof inspect>>;
      try {
        now = await inspect(stage);
        decision = decideStage(stage, locks[stage.name], now, force);
      } catch (err) {
        doneDeciding(stage);
        throw err;
      }
      if (!decision.run) {
        doneDeciding(stage);
        return { stage: stage.name, status: 'unchanged' };
      }
      const releaseSlot = await takeSlot(stage);
      try {
        if (stopping) return { stage: stage.name, status: 'not-run', message: 'not run: an earlier stage failed' };
        const report = await runChanged(stage, decision, now);
        // Before the slot passes to a waiting stage, which must then see that it is not to start.
        if (report.status === 'failed') stopping = true;
        return report;
      } finally {
        releaseSlot();
      }
    } finally {
      await got.lock.release();
    }
  };

  /** Restores or runs a stage that must change, and records it. */
  const runChanged = async (stage: Stage, decision: StageDecision & { run: true }, now: Awaited<ReturnType<typeof inspect>>): Promise<StageReport> => {
    const start = Date.now();
    const outs = allOuts(stage);
    // Metrics and plots files are small and belong in git, but the run cache needs them too: they are
    // kept in the object cache whatever their cache setting, or a training stage could never be restored.
    const reports = new Set<StageOut>([...stage.metrics, ...stage.plots]);
    const kept = (o: StageOut): boolean => o.cache || reports.has(o);
    const cacheable = outs.length > 0 && outs.every(kept);
    for (const out of outs) {
      const link = linkedParent(root, out.path);
      if (link === undefined) continue;
      const message = `stage '${stage.name}' cannot run: its out '${out.path}' lies under the symbolic link '${link}', so removing or restoring it would act outside the workspace`;
      await finishObserved(stage, decision, 'failed', undefined, start, { error: message });
      return { stage: stage.name, status: 'failed', reason: decision.reason, detail: decision.detail, durationMs: Date.now() - start, message };
    }
    const key = runCacheKey(stage, now.deps, now.params);
    if (useRunCache && decision.reason !== 'forced' && cacheable) {
      const entry = await readRunCache(root, key, outs.map((o) => o.path));
      if (entry && (await Promise.all(entry.outs.map((o) => storage.restorable(o)))).every(Boolean)) {
        for (const out of entry.outs) {
          await storage.restore(out);
          digests.forget(out.path);
        }
        const lock: StageLock = { cmd: stage.cmd, deps: now.deps, params: now.params, outs: entry.outs };
        await finishObserved(stage, { run: false, reason: 'restored', runCacheKey: key }, 'restored', lock, start);
        await updateLockFile(root, { [stage.name]: lock }, inPipeline, lockFile);
        locks[stage.name] = lock;
        return { stage: stage.name, status: 'restored', reason: decision.reason, detail: decision.detail, durationMs: Date.now() - start };
      }
    }
    emit({ kind: 'started', stage: stage.name, decision });
    let runId: string | undefined;
    try {
      const started = await opts.observer?.stageStarted(stage, decision);
      if (started && started.runId) runId = started.runId;
    } catch (err) {
      emit({ kind: 'warning', stage: stage.name, message: `recording the run failed: ${(err as Error).message}` });
    }
    for (const out of outs) {
      if (!out.persist) await rm(join(root, out.path), { recursive: true, force: true });
      await mkdir(dirname(join(root, out.path)), { recursive: true });
      digests.forget(out.path);
    }
    const env: Record<string, string> = runId ? { SLIPWAY_RUN_ID: runId, MLFLOW_RUN_ID: runId } : {};
    const outcome = await runStageCommand(root, stage, env, (line) => emit({ kind: 'output', stage: stage.name, line }));
    for (const out of outs) digests.forget(out.path);
    let failure: string | undefined;
    if (outcome.error !== undefined) failure = `stage '${stage.name}' could not start: ${outcome.error}`;
    else if (outcome.exitCode !== 0) failure = `stage '${stage.name}' failed (exit ${outcome.exitCode})${outcome.tail.trim() !== '' ? `: ${outcome.tail.trim()}` : ''}`;
    else {
      const absent: string[] = [];
      for (const out of outs) if (!(await digests.get(out.path))) absent.push(out.path);
      if (absent.length > 0) failure = `stage '${stage.name}' finished but did not write its ${absent.length === 1 ? 'out' : 'outs'} ${listed(absent.map((a) => `'${a}'`))}`;
    }
    if (failure !== undefined) {
      await finishObserved(stage, decision, 'failed', undefined, start, { exitCode: outcome.exitCode, error: failure, outputTail: outcome.tail }, runId);
      return { stage: stage.name, status: 'failed', reason: decision.reason, detail: decision.detail, durationMs: Date.now() - start, exitCode: outcome.exitCode, message: failure };
    }
    const saved: LockedPath[] = [];
    for (const out of outs) {
      saved.push(await storage.save(kept(out) === out.cache ? out : { ...out, cache: true }));
      digests.forget(out.path);
    }
    const lock: StageLock = { cmd: stage.cmd, deps: now.deps, params: now.params, outs: saved, ...(runId ? { runId } : {}) };
    const finished = await finishObserved(stage, decision, 'ran', lock, start, { exitCode: 0 }, runId);
    if (!lock.runId && finished) lock.runId = finished;
    await updateLockFile(root, { [stage.name]: lock }, inPipeline, lockFile);
    locks[stage.name] = lock;
    if (cacheable) await writeRunCache(root, { key, stage: stage.name, outs: saved, time: Date.now() });
    return { stage: stage.name, status: 'ran', reason: decision.reason, detail: decision.detail, durationMs: Date.now() - start, exitCode: 0 };
  };

  /** Tells the observer a stage ended; its failure is a warning, never the stage's. Returns the run id it gave. */
  async function finishObserved(stage: Stage, decision: StageDecision, status: StageResult['status'], lock: StageLock | undefined, startTime: number, extra: Partial<StageResult> = {}, runId?: string): Promise<string | undefined> {
    if (!opts.observer) return undefined;
    try {
      const result: StageResult = { stage, decision, status, startTime, endTime: Date.now(), ...(lock ? { lock: runId ? { ...lock, runId } : lock } : {}), ...extra };
      const got = await opts.observer.stageFinished(result);
      return (got && got.runId) || runId;
    } catch (err) {
      emit({ kind: 'warning', stage: stage.name, message: `recording the run failed: ${(err as Error).message}` });
      return runId;
    }
  }

  const settled = (name: string) => ['ran', 'restored', 'unchanged'].includes(results.get(name)?.status ?? '');
  for (;;) {
    if (!stopping) {
      for (const stage of order) {
        if (results.has(stage.name) || running.has(stage.name)) continue;
        if (!(graph.upstream.get(stage.name) ?? []).filter((u) => selected.has(u)).every(settled)) continue;
        deciding.add(position.get(stage.name) ?? 0);
        const task = runOne(stage)
          .then(
            (report) => {
              results.set(stage.name, report);
              if (report.status === 'failed' || report.status === 'refused') stopping = true;
              emit({ kind: 'finished', report });
            },
            (err: unknown) => {
              thrown ??= err;
              stopping = true;
              results.set(stage.name, { stage: stage.name, status: 'not-run', message: (err as Error).message });
            },
          )
          .finally(() => {
            running.delete(stage.name);
            // A stage refused or failing before its decision is no longer deciding either.
            doneDeciding(stage);
          });
        running.set(stage.name, task);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (thrown !== undefined) throw thrown;
  const stages = order.map((s) => results.get(s.name) ?? { stage: s.name, status: 'not-run' as const, message: 'not run: an earlier stage failed' });
  const bad = stages.find((r) => r.status === 'failed' || r.status === 'refused');
  return { ok: !bad, stages, ...(bad?.message !== undefined ? { failure: bad.message } : {}) };
}
