/** Records a gate's load tests as tracking runs in the store, tagged with the release, as `slipway loadtest --record` records them. */
import { isSlipwayError } from '../../core/errors.js';
import type { LoadTestResult } from '../../loadtest/load-test-result.js';
import { LOADTEST_EXPERIMENT, resultMetrics, resultParams, TAG_KEYS } from '../../loadtest/run-recorder.js';
import { TrackingService } from '../../tracking/tracking-service.js';
import type { GateContext } from './gate.js';

/** Tag naming the release a recorded load test belongs to. */
export const RELEASE_TAG = 'slipway.release.id';
/** Tag naming the side (candidate or champion) of a gate's load test. */
export const ROLE_TAG = 'slipway.release.role';

async function experimentId(tracking: TrackingService): Promise<string> {
  try {
    return (await tracking.getExperimentByName(LOADTEST_EXPERIMENT)).experimentId;
  } catch (err) {
    if (!isSlipwayError(err) || err.code !== 'NOT_FOUND') throw err;
  }
  try {
    return await tracking.createExperiment({ name: LOADTEST_EXPERIMENT });
  } catch (err) {
    // Another release created it meanwhile.
    if (isSlipwayError(err) && err.code === 'ALREADY_EXISTS') return (await tracking.getExperimentByName(LOADTEST_EXPERIMENT)).experimentId;
    throw err;
  }
}

/** Stores `result` as a finished run of the load-test experiment; returns its run id. */
export async function recordGateLoadTest(ctx: GateContext, result: LoadTestResult, model: { name: string; version: string }, role: 'candidate' | 'champion'): Promise<{ experimentId: string; runId: string }> {
  const tracking = ctx.tracking ?? new TrackingService(ctx.store, { clock: ctx.clock });
  const id = await experimentId(tracking);
  const tags = {
    [TAG_KEYS.kind]: 'true',
    [TAG_KEYS.passed]: String(result.passed),
    [TAG_KEYS.model]: model.name,
    [TAG_KEYS.version]: model.version,
    [RELEASE_TAG]: ctx.release.id,
    [ROLE_TAG]: role,
  };
  const started = Date.parse(result.startedAt);
  const finished = Date.parse(result.finishedAt);
  const run = await tracking.createRun({
    experimentId: id,
    runName: `loadtest-${model.name}-v${model.version}-release-${ctx.release.id}-${role}`.slice(0, 250),
    startTime: started,
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  });
  const runId = run.info.runId;
  await tracking.logBatch(runId, {
    params: Object.entries(resultParams(result)).map(([key, value]) => ({ key, value })),
    metrics: Object.entries(resultMetrics(result)).map(([key, value]) => ({ key, value, timestamp: finished, step: 0 })),
  });
  await tracking.updateRun({ runId, status: 'FINISHED', endTime: finished });
  return { experimentId: id, runId };
}
