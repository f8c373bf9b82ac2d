/**
 * Drives releases in the background of the server process: gates in order (each result
 * persisted as it finishes), approvals, then the rollout strategy over the server's live
 * traffic (direct, blue-green, canary with live analysis and automatic rollback, shadow).
 * Every step goes through `ReleaseService.transition`, which refuses a step from a state the
 * release has left (an abort won), so a runner never overrides a person's decision.
 * State lives in the store; splits live in serving's memory, so on start `recover()` picks up
 * unfinished releases and decides what a rollout cut short by a restart becomes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { systemClock, type Clock } from '../core/clock.js';
import { isSlipwayError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { ResolvedModel } from '../core/model-source.js';
import type { TrafficController } from '../core/traffic-split.js';
import type { RegistryService } from '../registry/registry-service.js';
import type { Store } from '../store/store.js';
import type { GateResult, GateSpec, Release, StrategySpec } from '../client/schemas/releases.js';
import type { GateContext, GateOutcome, PrivateServer } from './gates/gate.js';
import { approvalsNeeded, policyDuration } from './release-policy.js';
import { isTerminal, type ReleaseRollout, type ReleaseScheduler, type ReleaseService } from './release-service.js';
import { windowPerformance } from '../monitoring/performance/performance-repository.js';
import { accuracyOfSides, addShadowWindow, analyseCanaryWindow, emptyShadowTotals, judgeShadow, type LabelledAccuracy, type SideFigures, type WindowAnalysis } from './rollout-analysis.js';

/** How long a promoted rollout keeps the old champion loaded, so a promotion that cannot be recorded is undone in serving too. */
const PROMOTE_UNDO_MS = 60_000;

/** How far back the champion's labelled predictions count in a canary's accuracy check. */
const LABELS_LOOKBACK_MS = 3_600_000;

/** Runs one non-approval gate (the gates module's `runGate`). */
export type GateRunner = (spec: GateSpec, ctx: GateContext) => Promise<GateOutcome>;

/** What the runner needs; the server plugin provides the pieces that need a face. */
export interface ReleaseRunnerOptions {
  service: ReleaseService;
  registry: RegistryService;
  store: Store;
  artifacts?: ArtifactStore;
  /** The server's live traffic; absent where nothing is served (direct releases only). */
  traffic?: () => TrafficController | undefined;
  /** Runs a gate; absent, every non-approval gate ends in `error` saying the gates are not available here. */
  runGate?: GateRunner;
  /** A version's ONNX file on local disk with its input columns. */
  resolveModel(name: string, version: string): Promise<ResolvedModel>;
  /** A local path for a holdout ref (`releases/holdouts/…`). */
  holdoutPath(ref: string): Promise<string>;
  /** Serves models on a private loopback port for load-test gates. */
  startPrivateServer?(models: { candidate: ResolvedModel; champion?: ResolvedModel }): Promise<PrivateServer>;
  /** Longest a live rollout waits for serving to load its model (after a restart) before it rolls back. @default 2 min */
  servedTimeoutMs?: number;
  /** Longest a gate may run before it counts as an error. @default 30 min */
  gateTimeoutMs?: number;
  /** Called after a rollout rolls back on its own (a breach beyond the failure limit, a restart, a challenger that failed); alerts hang here. */
  onRolledBack?(release: Release, evidence: Record<string, unknown>): void;
  clock?: Clock;
  logger?: Logger;
}

/** The actor the runner's own steps are recorded under. */
export const RUNNER_ACTOR = 'slipway';

const SYSTEM = { actor: RUNNER_ACTOR } as const;

class Stopped extends Error {}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

/** Background driver of releases; also the service's scheduler. */
export class ReleaseRunner implements ReleaseScheduler {
  private readonly service: ReleaseService;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(private readonly opts: ReleaseRunnerOptions) {
    this.service = opts.service;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
  }

  private traffic(): TrafficController | undefined {
    return this.opts.traffic?.();
  }

  /** Starts driving a release from its stored state; a no-op when it is being driven or the runner is closed. */
  schedule(id: string): void {
    if (this.closed || this.running.has(id)) return;
    const controller = new AbortController();
    const entry: Running = { controller, done: Promise.resolve() };
    this.running.set(id, entry);
    entry.done = this.drive(id, controller.signal)
      .catch((err: unknown) => {
        if (err instanceof Stopped || controller.signal.aborted) return;
        this.logger.error({ err, release: id }, 'release: runner failed');
      })
      .finally(() => {
        if (this.running.get(id) === entry) this.running.delete(id);
        // An approval may have landed while this drive was finishing; pick it up.
        if (!controller.signal.aborted) void this.rescheduleIfMoved(id);
      });
  }

  private async rescheduleIfMoved(id: string): Promise<void> {
    if (this.closed || this.running.has(id)) return;
    const r = await this.service.getState(id).catch(() => undefined);
    if (r && (r.state === 'rolling_out' || r.state === 'pending' || r.state === 'gates')) this.schedule(id);
  }

  /** Stops driving an (aborted) release and puts its live traffic back on the champion. */
  async cancel(release: Release): Promise<void> {
    const entry = this.running.get(release.id);
    entry?.controller.abort(new Stopped('aborted'));
    await entry?.done;
    const traffic = this.traffic();
    const split = traffic?.activeSplit(release.model);
    if (traffic && split && split.challengerVersion === release.version) await traffic.endSplit(release.model, 'rollback');
  }

  /** Waits until the release is no longer being driven (tests and shutdown). */
  async settled(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  /**
   * Picks up unfinished releases after a start: pending and gates run their gates again,
   * awaiting_approval keeps waiting, rolling_out rolls back (traffic is on the champion already:
   * splits do not outlive the process) or, with `onRestart: resume`, starts its split again at the
   * recorded step.
   */
  async recover(): Promise<void> {
    for (const r of await this.service.listActive()) {
      // Called again and again by the holder of the releases lease: what it drives already is not a leftover.
      if (r.state === 'awaiting_approval' || this.running.has(r.id)) continue;
      if (r.state === 'rolling_out' && r.rollout && r.policy.onRestart === 'rollback') {
        const reason = `The server restarted during the rollout (step ${r.rollout.step + 1}, ${r.rollout.weight} %); rolled back: all traffic is on the champion, '${r.environment}' unchanged.`;
        const evidence = { restart: true, rollout: r.rollout };
        await this.service
          .transition(r.id, { from: ['rolling_out'], to: 'rolled_back', reason }, { ...SYSTEM, type: 'state', action: 'release.rolled_back', message: reason, details: evidence })
          .then((done) => this.opts.onRolledBack?.(done, evidence))
          .catch((err: unknown) => this.logger.warn({ err, release: r.id }, 'release: recovery failed'));
        continue;
      }
      this.schedule(r.id);
    }
  }

  /**
   * Stops driving every release without closing the runner, and puts this process's live traffic
   * of those releases back on the champion: another process took over driving them (a lost lease).
   */
  async pause(): Promise<void> {
    const all = [...this.running.entries()];
    for (const [, r] of all) r.controller.abort(new Stopped('shutdown'));
    await Promise.all(all.map(([, r]) => r.done));
    const traffic = this.traffic();
    if (!traffic) return;
    for (const [id] of all) {
      const release = await this.service.getState(id).catch(() => undefined);
      const split = release ? traffic.activeSplit(release.model) : undefined;
      if (release && split && split.challengerVersion === release.version) await traffic.endSplit(release.model, 'rollback').catch(() => {});
    }
  }

  /** Stops every runner without changing release states (the next start's `recover` takes over). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort(new Stopped('shutdown'));
    await Promise.all(all.map((r) => r.done));
  }

  // ---- the drive ----

  private async drive(id: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      const r = await this.service.getState(id);
      if (isTerminal(r.state) || r.state === 'awaiting_approval') return;
      if (r.state === 'pending') {
        await this.service.transition(id, { from: ['pending'], to: 'gates', reason: 'Running the gates.' }, { ...SYSTEM, type: 'state', action: 'release.state', message: `Running ${r.gates.length} gate(s).` });
        continue;
      }
      if (r.state === 'gates') {
        await this.runGates(r, signal);
        continue;
      }
      await this.rollOut(r, signal);
      return;
    }
  }

  private async runGates(r: Release, signal: AbortSignal): Promise<void> {
    const gates: GateResult[] = r.gates.map((g) => ({ ...g }));
    let ctx: GateContext | undefined;
    for (const [i, spec] of r.policy.gates.entries()) {
      const result = gates[i] as GateResult;
      if (spec.kind === 'approval' || result.verdict === 'pass' || result.verdict === 'skipped') continue;
      ctx ??= await this.gateContext(r, signal);
      const startedTime = this.clock.now();
      const outcome = await this.runOneGate(withPolicyDefaults(spec, r.policy), ctx, signal);
      if (signal.aborted) return;
      gates[i] = { name: result.name, kind: spec.kind, verdict: outcome.verdict, reason: outcome.reason, figures: outcome.figures, startedTime, endedTime: this.clock.now() };
      const failed = outcome.verdict === 'fail' || outcome.verdict === 'error';
      const reason = outcome.verdict === 'error' ? `Gate '${result.name}' could not decide (error): ${outcome.reason}` : `Gate '${result.name}' failed: ${outcome.reason}`;
      await this.service.transition(
        r.id,
        failed ? { from: ['gates'], to: 'rejected', reason, gates } : { from: ['gates'], gates },
        { ...SYSTEM, type: 'gate', action: 'release.gate', message: `Gate '${result.name}' (${spec.kind}): ${outcome.verdict} — ${outcome.reason}`, details: { gate: result.name, kind: spec.kind, verdict: outcome.verdict, figures: outcome.figures } },
      );
      if (failed) return;
    }
    const needed = approvalsNeeded(r.policy);
    if (needed > 0 && r.approvals.length < needed) {
      const next = gates.map((g) => (g.kind === 'approval' ? { ...g, verdict: 'pending' as const, reason: `Waiting for ${needed} approval(s) by people other than ${r.requestedBy}.`, figures: { approvals: r.approvals.length, needed } } : g));
      await this.service.transition(r.id, { from: ['gates'], to: 'awaiting_approval', reason: `Gates passed; waiting for ${needed} approval(s).`, gates: next }, { ...SYSTEM, type: 'state', action: 'release.state', message: `Gates passed; waiting for ${needed} approval(s) by people other than ${r.requestedBy}.` });
      return;
    }
    await this.service.transition(r.id, { from: ['gates'], to: 'rolling_out', reason: `Gates passed; rolling out (${r.policy.strategy.kind}).` }, { ...SYSTEM, type: 'state', action: 'release.state', message: `Gates passed; rolling out with the ${r.policy.strategy.kind} strategy.` });
  }

  private async runOneGate(spec: GateSpec, ctx: GateContext, signal: AbortSignal): Promise<GateOutcome> {
    const run = this.opts.runGate;
    if (!run) return { verdict: 'error', reason: `The ${spec.kind} gate is not available on this server.`, figures: {} };
    const timeoutMs = this.opts.gateTimeoutMs ?? 30 * 60_000;
    const timer = new AbortController();
    const onAbort = (): void => timer.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([
        run(spec, ctx),
        sleep(timeoutMs, undefined, { signal: timer.signal }).then((): GateOutcome => ({ verdict: 'error', reason: `The gate did not finish within ${Math.round(timeoutMs / 1000)} s (timeout).`, figures: { timeoutMs } })),
      ]);
    } catch (err) {
      if (signal.aborted) throw new Stopped('stopped');
      const message = isSlipwayError(err) ? err.message : err instanceof Error ? err.message : String(err);
      return { verdict: 'error', reason: message, figures: {} };
    } finally {
      timer.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async gateContext(r: Release, signal: AbortSignal): Promise<GateContext> {
    const candidate = await this.opts.resolveModel(r.model, r.version);
    const champion = r.championVersion !== undefined ? await this.opts.resolveModel(r.model, r.championVersion).catch(() => undefined) : undefined;
    return {
      release: { id: r.id, model: r.model, version: r.version, environment: r.environment, ...(r.championVersion !== undefined ? { championVersion: r.championVersion } : {}), requestedBy: r.requestedBy },
      candidate,
      ...(champion ? { champion } : {}),
      store: this.opts.store,
      registry: this.opts.registry,
      ...(this.opts.artifacts ? { artifacts: this.opts.artifacts } : {}),
      clock: this.clock,
      logger: this.logger,
      signal,
      holdoutPath: (ref) => this.opts.holdoutPath(ref),
      ...(this.opts.startPrivateServer ? { startPrivateServer: this.opts.startPrivateServer.bind(this.opts) } : {}),
      progress: (message) => this.logger.info({ release: r.id }, message),
    };
  }

  // ---- rollouts ----

  private async rollOut(r: Release, signal: AbortSignal): Promise<void> {
    const s = r.policy.strategy;
    if (s.kind === 'direct') return this.promote(r, 'Alias moved (direct).');
    const traffic = this.traffic();
    if (!traffic) {
      const reason = `The ${s.kind} strategy needs live traffic, but this server serves no models; the alias is unchanged.`;
      await this.service.transition(r.id, { from: ['rolling_out'], to: 'rolled_back', reason }, { ...SYSTEM, type: 'state', action: 'release.rolled_back', message: reason });
      return;
    }
    const challengerUri = `models:/${r.model}/${r.version}`;
    try {
      await this.untilServed(r.model, traffic, signal);
      if (s.kind === 'blue-green') {
        await traffic.startSplit(r.model, { challengerUri, weight: 0 });
        this.checkStillRollingOut(signal);
        const bakeMs = policyDuration(s.bake, 'policy.strategy.bake');
        return await this.promoteLive(r, traffic, bakeMs, signal, `Switched at once; version ${r.championVersion ?? '(none)'} stays loaded for ${s.bake} so a rollback is instant.`);
      }
      if (s.kind === 'canary') return await this.canary(r, s, traffic, challengerUri, signal);
      return await this.shadow(r, s, traffic, challengerUri, signal);
    } catch (err) {
      if (err instanceof Stopped || signal.aborted) throw new Stopped('stopped');
      // The challenger failed to load, or serving refused the split: nothing moved.
      const message = isSlipwayError(err) ? err.message : err instanceof Error ? err.message : String(err);
      if (traffic.activeSplit(r.model)) await traffic.endSplit(r.model, 'rollback').catch(() => {});
      const reason = `The ${s.kind} rollout failed: ${message}; all traffic is on the champion, '${r.environment}' unchanged.`;
      await this.service
        .transition(r.id, { from: ['rolling_out'], to: 'rolled_back', reason }, { ...SYSTEM, type: 'state', action: 'release.rolled_back', message: reason, details: { error: message } })
        .then((done) => this.opts.onRolledBack?.(done, { error: message }))
        .catch(() => {});
    }
  }

  /**
   * Waits for serving to have loaded the model: after a restart, recovery resumes a rollout while
   * the server is still loading its registered models in the background.
   */
  private async untilServed(model: string, traffic: TrafficController, signal: AbortSignal): Promise<void> {
    const limit = this.opts.servedTimeoutMs ?? 120_000;
    for (let waited = 0; traffic.servedUri(model) === undefined; waited += 100) {
      if (waited >= limit) throw new Error(`${model} was not served within ${limit / 1000} s`);
      await this.wait(100, signal);
    }
  }

  private checkStillRollingOut(signal: AbortSignal): void {
    if (signal.aborted) throw new Stopped('stopped');
  }

  private async wait(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw new Stopped('stopped');
    }
  }

  /** Each side's accuracy on its labelled predictions since `since`; undefined when they cannot be read (the analysis goes on without). */
  private async labelledAccuracy(model: string, championVersion: string, challengerVersion: string, since: number): Promise<LabelledAccuracy | undefined> {
    try {
      const windows = await windowPerformance(this.opts.store, model, { from: since, task: 'classification' });
      return accuracyOfSides(windows, championVersion, challengerVersion);
    } catch (err) {
      this.logger.warn({ err, model }, 'release: reading late labels for the canary analysis failed');
      return undefined;
    }
  }

  private async promote(r: Release, how: string): Promise<void> {
    await this.opts.registry.setAlias(r.model, r.environment, r.version, { actor: RUNNER_ACTOR });
    const reason = `Promoted: '${r.environment}' points at version ${r.version}. ${how}`;
    try {
      await this.service.transition(r.id, { from: ['rolling_out'], to: 'promoted', reason }, { ...SYSTEM, type: 'state', action: 'release.state', message: reason, details: { environment: r.environment, version: r.version, previousVersion: r.championVersion ?? null } });
    } catch (err) {
      // The release could not be marked promoted (aborted in the meantime, a store fault): the alias goes back with it.
      const back = r.championVersion !== undefined
        ? this.opts.registry.setAlias(r.model, r.environment, r.championVersion, { actor: RUNNER_ACTOR })
        : this.opts.registry.deleteAlias(r.model, r.environment, { actor: RUNNER_ACTOR });
      await back.catch((e: unknown) => this.logger.error({ err: e, release: r.id }, 'release: restoring the alias after a failed promotion failed'));
      throw err;
    }
  }

  /**
   * Serves the challenger for good, then moves the alias. The old champion stays loaded at least
   * PROMOTE_UNDO_MS, so when the promotion cannot be recorded serving goes back to it as well, and the
   * release's "all traffic is on the champion" holds.
   */
  private async promoteLive(r: Release, traffic: TrafficController, bakeMs: number, signal: AbortSignal, how: string): Promise<void> {
    this.checkStillRollingOut(signal);
    await traffic.endSplit(r.model, 'promote', { bakeMs: Math.max(bakeMs, PROMOTE_UNDO_MS) });
    try {
      await this.promote(r, how);
    } catch (err) {
      await traffic.revert(r.model, r.championVersion).catch((e: unknown) => this.logger.error({ err: e, release: r.id }, 'release: serving the champion again after a failed promotion failed'));
      throw err;
    }
  }

  private async canary(r: Release, s: Extract<StrategySpec, { kind: 'canary' }>, traffic: TrafficController, challengerUri: string, signal: AbortSignal): Promise<void> {
    const intervalMs = policyDuration(s.interval, 'policy.strategy.interval');
    // A resumed rollout starts again at its recorded step, with its failures so far.
    let rollout: ReleaseRollout = r.rollout ?? { step: 0, weight: s.steps[0] as number, failures: 0, analyses: [] };
    const split = { challengerUri, weight: rollout.weight / 100, ...(s.stickyHeader ? { stickyHeader: s.stickyHeader } : {}) };
    await traffic.startSplit(r.model, split);
    // Late labels are joined with the predictions live monitoring stored: the challenger's exist only since the
    // split began; the champion's of the hour before count too, as its recent accuracy.
    const labelsSince = this.clock.now() - LABELS_LOOKBACK_MS;
    let lastChampion: SideFigures | undefined;
    rollout = await this.step(r, rollout, `Canary step ${rollout.step + 1} of ${s.steps.length}: ${rollout.weight} % of requests to version ${r.version}.`);
    for (;;) {
      await this.wait(intervalMs, signal);
      const stats = traffic.takeStats(r.model);
      if (!stats) throw new Error('serving ended the split on its own');
      const accuracy = s.checks.maxAccuracyDrop !== undefined ? await this.labelledAccuracy(r.model, stats.champion.version, stats.challenger.version, labelsSince) : undefined;
      const analysis = analyseCanaryWindow(stats, s.checks, accuracy, lastChampion);
      if (analysis.champion.requests > 0 && !analysis.champion.fromEarlierWindow) lastChampion = analysis.champion;
      const failures = rollout.failures + (analysis.verdict === 'breach' ? 1 : 0);
      const inconclusive = analysis.verdict === 'inconclusive' ? trailingInconclusive(rollout.analyses) + 1 : 0;
      const why =
        analysis.verdict === 'breach' && failures > s.failureLimit
          ? `${analysis.breaches.join('; ')}; ${failures} failed analyses > failureLimit ${s.failureLimit}`
          : inconclusive > s.inconclusiveLimit
            ? `too little traffic to judge: ${inconclusive} analyses in a row were inconclusive (${analysis.note ?? 'no note'}) > inconclusiveLimit ${s.inconclusiveLimit}`
            : undefined;
      if (why !== undefined) {
        // Traffic first: every request goes to the champion before anything is written.
        await traffic.endSplit(r.model, 'rollback');
        rollout = { ...rollout, failures, analyses: [...rollout.analyses, this.evidence(analysis)].slice(-100) };
        const reason = `Rolled back at step ${rollout.step + 1} (${rollout.weight} %): ${why}. All traffic is on the champion, '${r.environment}' unchanged.`;
        const done = await this.service.transition(
          r.id,
          { from: ['rolling_out'], to: 'rolled_back', reason, rollout },
          { ...SYSTEM, type: 'analysis', action: 'release.rolled_back', message: reason, details: this.evidence(analysis) },
        );
        this.logger.warn({ release: r.id, model: r.model, version: r.version, breaches: analysis.breaches, inconclusive }, 'release: canary rolled back');
        this.opts.onRolledBack?.(done, this.evidence(analysis));
        return;
      }
      const advance = analysis.verdict === 'pass';
      rollout = { ...rollout, failures, analyses: [...rollout.analyses, this.evidence(analysis)].slice(-100) };
      const what = analysis.verdict === 'inconclusive' ? `inconclusive: ${analysis.note}` : analysis.verdict === 'breach' ? `breach ${failures} of ${s.failureLimit} tolerated: ${analysis.breaches.join('; ')}` : 'pass';
      await this.service.transition(
        r.id,
        { from: ['rolling_out'], rollout },
        { ...SYSTEM, type: 'analysis', action: 'release.analysis', message: `Analysis at ${rollout.weight} %: ${what}.`, details: this.evidence(analysis) },
      );
      if (!advance) continue;
      if (rollout.step + 1 >= s.steps.length) {
        return this.promoteLive(r, traffic, 0, signal, `The canary passed all ${s.steps.length} steps (${s.steps.join(' → ')} %).`);
      }
      rollout = { ...rollout, step: rollout.step + 1, weight: s.steps[rollout.step + 1] as number };
      traffic.updateSplit(r.model, { weight: rollout.weight / 100 });
      rollout = await this.step(r, rollout, `Canary step ${rollout.step + 1} of ${s.steps.length}: ${rollout.weight} % of requests to version ${r.version}.`);
    }
  }

  private async step(r: Release, rollout: ReleaseRollout, message: string): Promise<ReleaseRollout> {
    await this.service.transition(r.id, { from: ['rolling_out'], rollout, reason: message }, { ...SYSTEM, type: 'step', action: 'release.step', message, details: { step: rollout.step, weight: rollout.weight } });
    return rollout;
  }

  private evidence(a: WindowAnalysis): Record<string, unknown> {
    return { time: this.clock.now(), ...a } as unknown as Record<string, unknown>;
  }

  private async shadow(r: Release, s: Extract<StrategySpec, { kind: 'shadow' }>, traffic: TrafficController, challengerUri: string, signal: AbortSignal): Promise<void> {
    const durationMs = policyDuration(s.duration, 'policy.strategy.duration');
    const intervalMs = Math.min(policyDuration(s.interval, 'policy.strategy.interval'), durationMs);
    await traffic.startSplit(r.model, { challengerUri, weight: 0, shadowShare: s.share / 100 });
    let rollout: ReleaseRollout = { step: 0, weight: 0, failures: 0, analyses: [] };
    rollout = await this.step(r, rollout, `Shadow: ${s.share} % of requests mirrored to version ${r.version} for ${s.duration}; its answers are compared, never returned.`);
    let totals = emptyShadowTotals();
    let elapsed = 0;
    while (elapsed < durationMs) {
      const ms = Math.min(intervalMs, durationMs - elapsed);
      await this.wait(ms, signal);
      elapsed += ms;
      const stats = traffic.takeStats(r.model);
      if (!stats) throw new Error('serving ended the split on its own');
      totals = addShadowWindow(totals, stats);
      const window = { time: this.clock.now(), windowMs: stats.windowMs, shadow: stats.shadow ?? null, challenger: { requests: stats.challenger.requests, errors: stats.challenger.errors, p99Ms: stats.challenger.latencyP99Ms }, champion: { requests: stats.champion.requests, p99Ms: stats.champion.latencyP99Ms } };
      rollout = { ...rollout, analyses: [...rollout.analyses, window].slice(-100) };
      await this.service.transition(r.id, { from: ['rolling_out'], rollout }, { ...SYSTEM, type: 'analysis', action: 'release.analysis', message: `Shadow window: ${stats.shadow?.compared ?? 0} compared, agreement ${stats.shadow?.agreement ?? 'n/a'}.`, details: window });
    }
    const verdict = judgeShadow(totals, s);
    if (verdict.pass) {
      return this.promoteLive(r, traffic, 0, signal, `The shadow comparison passed: agreement ${(verdict.figures.agreement as number).toFixed(3)} over ${totals.compared} mirrored requests.`);
    }
    await traffic.endSplit(r.model, 'rollback');
    const reason = `Rejected after the shadow comparison: ${verdict.reasons.join('; ')}. '${r.environment}' unchanged.`;
    await this.service.transition(r.id, { from: ['rolling_out'], to: 'rejected', reason, rollout }, { ...SYSTEM, type: 'analysis', action: 'release.state', message: reason, details: verdict.figures });
  }
}

/** A gate with the policy's holdout and label filled in where it names none of its own (every kind that reads a holdout). */
export function withPolicyDefaults(spec: GateSpec, policy: Release['policy']): GateSpec {
  if (spec.kind !== 'evaluation' && spec.kind !== 'quality' && spec.kind !== 'drift' && spec.kind !== 'loadtest') return spec;
  const holdout = spec.holdout ?? policy.holdout;
  const label = spec.label ?? policy.label;
  return { ...spec, ...(holdout !== undefined ? { holdout } : {}), ...(label !== undefined ? { label } : {}) };
}

/** How many of the newest analyses in a row were inconclusive. */
function trailingInconclusive(analyses: ReadonlyArray<Record<string, unknown>>): number {
  let n = 0;
  for (let i = analyses.length - 1; i >= 0 && analyses[i]?.verdict === 'inconclusive'; i--) n++;
  return n;
}
