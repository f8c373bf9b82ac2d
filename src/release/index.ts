/** The release domain: the persisted state machine, its background runner and the live analysis of rollouts. */
export { ReleaseService, isTerminal, type CreateReleaseInput, type ListReleasesInput, type ReleaseActor, type ReleaseChange, type ReleaseEventInput, type ReleaseRollout, type ReleaseScheduler, type ReleaseServiceOptions } from './release-service.js';
export { ReleaseRunner, RUNNER_ACTOR, type GateRunner, type ReleaseRunnerOptions } from './release-runner.js';
export { HOLDOUT_PREFIX, approvalsNeeded, gateNames } from './release-policy.js';
export { analyseCanaryWindow, equalFrequencyCuts, scorePsi, judgeShadow, type WindowAnalysis } from './rollout-analysis.js';
