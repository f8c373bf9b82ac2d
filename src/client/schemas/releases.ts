/**
 * Wire schemas of releases: a release policy (gates and a rollout strategy), the
 * release itself with its gate evidence and event history, and the release routes'
 * requests. The same policy shape is what `slipway.yaml`'s `releases:` section holds.
 */
import { z } from 'zod';
import { EpochMillis, Name, named, pageSize } from './common.js';

/** A duration as the rest of Slipway writes it (`250ms`, `30s`, `5m`). */
const DurationText = z.string().trim().min(1).describe('A duration with its unit: 500ms, 30s, 5m, 1h.');

/** Where a holdout file lives: a path in the server's artifact store (`slipway release --holdout` uploads the file there). */
const HoldoutRef = z.string().trim().min(1).max(1024).describe("The holdout's path in the artifact store, e.g. releases/holdouts/<sha256>.csv (CSV, TSV, JSON lines or Parquet).");

/** A holdout's label column. */
const LabelColumn = z.string().trim().min(1).max(500);

const gateName = z.string().trim().min(1).max(100).optional().describe('A name for the gate in reports (default: its kind, numbered when repeated).');

/** `signature`: the candidate's inputs are compatible with the champion's. */
export const SignatureGate = z.object({ kind: z.literal('signature'), name: gateName, allowBreaking: z.boolean().default(false).describe('Pass with a warning on a breaking change.') }).strict();

/** `evaluation`: candidate and champion scored on one holdout, thresholds absolute or relative to the champion. */
export const EvaluationGate = z
  .object({
    kind: z.literal('evaluation'),
    name: gateName,
    holdout: HoldoutRef.optional(),
    label: z.string().trim().min(1).max(500).optional().describe('The label column of the holdout.'),
    task: z.enum(['classification', 'regression']).optional().describe('Default: from the label column and the model output.'),
    metrics: z.array(z.string().trim().min(1).max(200)).min(1).describe("Thresholds such as 'accuracy >= 0.9', 'accuracy >= champion - 0.02', 'rmse <= champion * 1.05'."),
  })
  .strict();

/** `quality`: the monitoring quality suite on the holdout against the model's reference profile. */
export const QualityGate = z
  .object({ kind: z.literal('quality'), name: gateName, holdout: HoldoutRef.optional(), label: LabelColumn.optional(), failOnWarning: z.boolean().default(false) })
  .strict();

/** `drift`: drift of the holdout against the model's training reference. */
export const DriftGate = z
  .object({
    kind: z.literal('drift'),
    name: gateName,
    holdout: HoldoutRef.optional(),
    label: LabelColumn.optional().describe('The label column, left out of the drift comparison.'),
    maxDriftShare: z.number().min(0).max(1).default(0.5).describe('Fail when more than this share of columns drifted (Evidently: 0.5).'),
  })
  .strict();

/** `loadtest`: the candidate (and the champion, same run) load-tested on a private loopback server. */
export const LoadTestGate = z
  .object({
    kind: z.literal('loadtest'),
    name: gateName,
    holdout: HoldoutRef.optional().describe('Requests carry the first 1,000 holdout rows (label left out); without a holdout, rows of zeros.'),
    label: LabelColumn.optional(),
    slo: z.array(z.string().trim().min(1).max(200)).min(1).describe("Thresholds such as 'p99<20ms', 'error_rate<0.01', 'p99 <= champion * 1.25'."),
    rate: z.number().positive().max(1_000_000).default(100).describe('Requests per second offered.'),
    duration: DurationText.default('10s'),
    rows: z.number().int().min(1).max(10_000).default(1).describe('Rows per request.'),
  })
  .strict();

/** `approval`: N approvals by people other than the requester. */
export const ApprovalGate = z.object({ kind: z.literal('approval'), name: gateName, count: z.number().int().min(1).max(20).default(1) }).strict();

/** `command`: a shell command whose exit status decides. */
export const CommandGate = z
  .object({ kind: z.literal('command'), name: gateName, run: z.string().min(1).max(10_000), timeout: DurationText.default('10m'), cwd: z.string().optional() })
  .strict();

/** One gate of a release policy. */
export const GateSpec = named(
  z.discriminatedUnion('kind', [SignatureGate, EvaluationGate, QualityGate, DriftGate, LoadTestGate, ApprovalGate, CommandGate]),
  'GateSpec',
  'A check a release must pass before its rollout: signature, evaluation, quality, drift, loadtest, approval or command.',
);
export type GateSpec = z.infer<typeof GateSpec>;

/** What the live analysis of a canary compares between challenger and champion. */
export const CanaryChecks = z
  .object({
    maxErrorRate: z.number().min(0).max(1).default(0.01).describe("Challenger's share of failed requests (Flagger: success rate >= 99 %)."),
    maxP99Ms: z.number().positive().optional().describe("Challenger's p99 latency bound in ms (absolute)."),
    maxP99Ratio: z.number().positive().default(1.5).describe("Challenger's p99 over the champion's, same window."),
    maxP50Ratio: z
      .number()
      .positive()
      .optional()
      .describe("Challenger's p50 over the champion's, same window: steadier than p99 when both share the CPU, so a slow challenger that also slows the champion's tail still shows."),
    maxPsi: z.number().positive().default(0.25).describe('PSI between the two sides\' prediction distributions.'),
    maxAccuracyDrop: z.number().min(0).max(1).optional().describe('Once late labels arrive: champion accuracy minus challenger accuracy.'),
    minRequests: z.number().int().min(0).default(20).describe('Fewer challenger requests in a window than this: the window is inconclusive, not a breach.'),
  })
  .strict();

/** How the candidate reaches traffic once the gates pass. */
export const StrategySpec = named(
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('direct') }).strict(),
    z
      .object({
        kind: z.literal('canary'),
        steps: z.array(z.number().gt(0).max(100)).min(1).default([10, 50, 100]).describe('Traffic percentages, ascending; the last is usually 100.'),
        interval: DurationText.default('30s').describe('Analysis interval; each step lasts one interval.'),
        failureLimit: z.number().int().min(0).default(0).describe('Failed analyses tolerated before rolling back (Argo Rollouts: failureLimit).'),
        inconclusiveLimit: z
          .number()
          .int()
          .min(0)
          .default(10)
          .describe('Inconclusive analyses in a row (fewer challenger requests than minRequests) tolerated before rolling back: too little traffic to judge is no pass (Argo Rollouts: inconclusiveLimit).'),
        stickyHeader: z.string().trim().min(1).max(200).optional().describe('Pin callers to one side by this request header.'),
        checks: CanaryChecks.default(CanaryChecks.parse({})),
      })
      .strict(),
    z
      .object({
        kind: z.literal('shadow'),
        share: z.number().gt(0).max(100).default(100).describe('Percentage of requests mirrored to the candidate.'),
        duration: DurationText.default('5m'),
        interval: DurationText.default('30s'),
        minAgreement: z.number().min(0).max(1).default(0.95).describe('Agreement of predicted classes (or scores within 1e-6 relative) to promote.'),
        maxErrorRate: z.number().min(0).max(1).default(0.01),
        maxP99Ratio: z.number().positive().default(1.5),
      })
      .strict(),
    z.object({ kind: z.literal('blue-green'), bake: DurationText.default('10m').describe('How long the old version stays loaded for an instant rollback.') }).strict(),
  ]),
  'StrategySpec',
  'direct (atomic alias move), canary (weight steps with live analysis), shadow (mirrored traffic, answers compared) or blue-green (switch at once, old version kept warm).',
);
export type StrategySpec = z.infer<typeof StrategySpec>;

/** What a release runs: its gates in order and its rollout. */
export const ReleasePolicy = named(
  z
    .object({
      gates: z.array(GateSpec).max(50).default([]),
      strategy: StrategySpec.default({ kind: 'direct' }),
      onRestart: z.enum(['rollback', 'resume']).default('rollback').describe('What a rollout interrupted by a server restart does.'),
      holdout: HoldoutRef.optional().describe('The holdout every gate uses unless it names its own.'),
      label: z.string().trim().min(1).max(500).optional().describe('The holdout label column for every gate unless it names its own.'),
    })
    .strict(),
  'ReleasePolicy',
  'The gates a release must pass and how it rolls out.',
);
export type ReleasePolicy = z.infer<typeof ReleasePolicy>;
/** A policy as a client writes it: every field with a default may be left out. */
export type ReleasePolicyInput = z.input<typeof ReleasePolicy>;

/** A release's states. `pending → gates → awaiting_approval → rolling_out → promoted | rejected | rolled_back | aborted`. */
export const ReleaseState = z.enum(['pending', 'gates', 'awaiting_approval', 'rolling_out', 'promoted', 'rejected', 'rolled_back', 'aborted']);
export type ReleaseState = z.infer<typeof ReleaseState>;

/** States after which nothing more happens. */
export const TERMINAL_RELEASE_STATES: readonly ReleaseState[] = ['promoted', 'rejected', 'rolled_back', 'aborted'];

/** One gate's outcome, kept with the release. */
export const GateResult = named(
  z.object({
    name: z.string(),
    kind: z.string(),
    verdict: z.enum(['pending', 'running', 'pass', 'fail', 'error', 'skipped']),
    reason: z.string(),
    figures: z.record(z.string(), z.unknown()).describe('The evidence: metrics of both sides, latencies, drift shares, exit status…'),
    startedTime: EpochMillis.optional(),
    endedTime: EpochMillis.optional(),
  }),
  'GateResult',
  "A gate's verdict, the reason and the figures it was decided on.",
);
export type GateResult = z.infer<typeof GateResult>;

/** One entry of a release's history. */
export const ReleaseEvent = named(
  z.object({
    seq: z.number().int(),
    time: EpochMillis,
    type: z.string().describe('state, gate, step, analysis, approval, rollback, action…'),
    from: ReleaseState.optional(),
    to: ReleaseState.optional(),
    actor: z.string().optional(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
  'ReleaseEvent',
  'A transition or decision in a release, as also written to the audit trail.',
);
export type ReleaseEvent = z.infer<typeof ReleaseEvent>;

/** A release. */
export const Release = named(
  z.object({
    id: z.string(),
    model: z.string(),
    version: z.string().describe('The candidate version.'),
    environment: z.string().describe('The alias the candidate is released to.'),
    championVersion: z.string().optional().describe('The version the alias held when the release started.'),
    state: ReleaseState,
    reason: z.string().describe('Why the release is in its state (the failing gate, the breached check, who aborted).'),
    requestedBy: z.string(),
    policy: ReleasePolicy,
    gates: z.array(GateResult),
    approvals: z.array(z.object({ by: z.string(), time: EpochMillis, comment: z.string().optional() })),
    rollout: z
      .object({ step: z.number().int().describe('Index of the current canary step.'), weight: z.number(), failures: z.number().int(), analyses: z.array(z.record(z.string(), z.unknown())) })
      .optional(),
    createdTime: EpochMillis,
    updatedTime: EpochMillis,
    endedTime: EpochMillis.optional(),
    events: z.array(ReleaseEvent).optional().describe('The history, on GET of one release.'),
  }),
  'Release',
  'One attempt to move a model version into an environment (an alias), with its gates, approvals and rollout.',
);
export type Release = z.infer<typeof Release>;

/** POST /releases. */
export const CreateReleaseBody = named(
  z
    .object({
      model: Name,
      version: z.string().trim().min(1).max(100).optional().describe('The candidate version (or give alias).'),
      alias: z.string().trim().min(1).max(255).optional().describe('The candidate as the version an alias points at, e.g. candidate.'),
      environment: z.string().trim().min(1).max(255).describe('The alias to release to, e.g. staging or champion.'),
      policy: ReleasePolicy.optional().describe("Default: the server's policy for this model and environment (slipway apply), else direct with no gates."),
      requestedBy: z.string().trim().min(1).max(200).optional().describe('Who asks for the release, until access control names the caller (then the caller wins); approvers must differ from it.'),
    })
    .strict(),
  'CreateReleaseBody',
  'Starts a release: the candidate, the environment and, optionally, the policy to run.',
);
export type CreateReleaseBody = z.input<typeof CreateReleaseBody>;

export const ReleaseParams = z.object({ id: z.string().min(1).max(100) });

export const ListReleasesQuery = z.object({
  model: z.string().optional(),
  state: z.string().optional().describe('A state, or `active` for any non-terminal one.'),
  maxResults: pageSize(1000, 100),
  pageToken: z.string().optional(),
});
export type ListReleasesQuery = z.input<typeof ListReleasesQuery>;

export const ReleasePage = named(z.object({ releases: z.array(Release), nextPageToken: z.string().optional() }), 'ReleasePage', 'A page of releases, newest first.');
export type ReleasePage = z.infer<typeof ReleasePage>;

/** POST /releases/{id}/approve. */
export const ApproveReleaseBody = named(
  z.object({ by: z.string().trim().min(1).max(200).optional().describe('Who approves (until access control names the caller).'), comment: z.string().max(2000).optional() }).strict(),
  'ApproveReleaseBody',
  'An approval: who gives it and why.',
);
export type ApproveReleaseBody = z.input<typeof ApproveReleaseBody>;

/** POST /releases/{id}/abort. */
export const AbortReleaseBody = named(z.object({ reason: z.string().max(2000).optional(), by: z.string().trim().min(1).max(200).optional() }).strict(), 'AbortReleaseBody', 'Stops a release; a rollout in progress returns all traffic to the champion.');
export type AbortReleaseBody = z.input<typeof AbortReleaseBody>;

/** POST /models/{name}/rollback. */
export const RollbackBody = named(
  z.object({ environment: z.string().trim().min(1).max(255).default('champion'), version: z.string().trim().min(1).max(100).optional().describe('Default: the version the alias held before its last promotion.'), reason: z.string().max(2000).optional() }).strict(),
  'RollbackBody',
  'Moves an environment back to an earlier version at once (instant while a blue-green bake keeps it loaded).',
);
export type RollbackBody = z.input<typeof RollbackBody>;

export const ModelNameOnlyParams = z.object({ name: z.string().min(1) });

/** Per model and environment, the policy `slipway apply` stores on the server. */
export const ReleasePolicyRecord = named(
  z.object({ model: z.string(), environment: z.string(), policy: ReleasePolicy, updatedTime: EpochMillis }),
  'ReleasePolicyRecord',
  'The release policy stored for one model and environment.',
);
export type ReleasePolicyRecord = z.infer<typeof ReleasePolicyRecord>;

export const ReleasePolicyParams = z.object({ name: z.string().min(1), environment: z.string().min(1) });
export const PutReleasePolicyBody = z.object({ policy: ReleasePolicy }).strict();
export const ReleasePolicyList = named(z.object({ policies: z.array(ReleasePolicyRecord) }), 'ReleasePolicyList', 'Stored release policies.');
export type ReleasePolicyList = z.infer<typeof ReleasePolicyList>;

/** What POST /models/{name}/rollback did. */
export const RollbackResult = named(
  z.object({
    model: z.string(),
    environment: z.string(),
    version: z.string().describe('The version the environment points at now.'),
    previousVersion: z.string().optional().describe('The version it pointed at before the rollback.'),
    instant: z.boolean().describe('True when the version was still loaded (blue-green bake) and took traffic back at once.'),
    releaseId: z.string().optional().describe('The release whose promotion was rolled back; the rollback is in its history.'),
  }),
  'RollbackResult',
  'An environment moved back to an earlier version.',
);
export type RollbackResult = z.infer<typeof RollbackResult>;

// ---- traffic of serving processes that follow a server (`slipway serve models:/… --server URL`) ----

/** GET/POST /traffic/{model}: the registered model's name. */
export const TrafficParams = z.object({ model: z.string().min(1).max(1000) });

const AgentId = z.string().trim().min(1).max(200).describe('A serving process, unique per process (it picks a random id at start).');
const SplitId = z.string().trim().min(1).max(200).describe('The split, as GET /traffic/{model} names it.');
const Share = z.number().min(0).max(1);

/** The split serving processes should run. */
export const PublishedSplit = named(
  z.object({
    id: SplitId,
    uri: z.string().describe('The processes that serve the model by this reference run the split (the alias the release moves); others leave their traffic alone.'),
    challengerUri: z.string().describe('The challenger: models:/NAME/VERSION.'),
    weight: Share.describe('Share of requests the challenger answers (canary).'),
    shadowShare: Share.describe('Share of requests mirrored to the challenger and compared off the response path (shadow).'),
    stickyHeader: z.string().optional().describe('A header whose value pins a caller to one side.'),
    challengerVersion: z.string(),
  }),
  'PublishedSplit',
  'The traffic split a release wants every serving process of the model to run.',
);

/** A serving process as the server last heard from it. */
export const TrafficAgent = named(
  z.object({
    agentId: z.string(),
    uri: z.string().describe('What it serves the model by.'),
    version: z.string().describe('The version it serves now.'),
    epoch: z.number().describe('The last state epoch it applied.'),
    splitId: z.string().nullable(),
    splitError: z.string().nullable().describe('Why it could not start the published split.'),
    lastSeen: EpochMillis,
  }),
  'TrafficAgent',
  'A `slipway serve` process following this server.',
);

/** GET /traffic/{model}. */
export const TrafficState = named(
  z.object({
    model: z.string(),
    epoch: z.number().describe('Changes on every change of this state; 0 when nothing was ever published for the model.'),
    split: PublishedSplit.nullable(),
    ended: z
      .object({ splitId: z.string(), outcome: z.enum(['promote', 'rollback']), bakeMs: z.number().describe('How long the old champion stays loaded after a promotion.') })
      .nullable()
      .describe('How the last split ended; a process still running that split ends it the same way.'),
    revert: z
      .object({ id: z.string(), uri: z.string(), version: z.string().optional().describe('Revert only when the version kept is this one.') })
      .nullable()
      .describe('The last revert of a promotion, for the processes serving by `uri`; a process reverts when it sees a new id.'),
    agents: z.array(TrafficAgent).describe('Serving processes heard from within the last 10 s.'),
  }),
  'TrafficState',
  'The traffic a release wants for one model, polled by the serving processes that follow the server.',
);
export type TrafficState = z.infer<typeof TrafficState>;

/** POST /traffic/{model}/agents. */
export const TrafficHeartbeatBody = named(
  z
    .object({
      agentId: AgentId,
      uri: z.string().trim().regex(/^models:\/[^/@]+(\/[^/@]+|@[^/@]+)$/, 'must be models:/NAME@ALIAS or models:/NAME/VERSION').max(2000),
      version: z.string().trim().min(1).max(100),
      epoch: z.number().int().min(0).optional().describe('The last state epoch applied.'),
      splitId: SplitId.nullable().optional().describe('The split it runs now.'),
      splitError: z.string().max(4000).nullable().optional().describe('Why it could not start the published split.'),
    })
    .strict(),
  'TrafficHeartbeatBody',
  'A serving process says it is alive, what it serves and which state it applied (every second and after each change).',
);
export type TrafficHeartbeatBody = z.input<typeof TrafficHeartbeatBody>;

const Latency = z.number().min(0).nullable();
const SideStatsSchema = z
  .object({
    version: z.string().max(100),
    requests: z.number().int().min(0),
    errors: z.number().int().min(0),
    latencyP50Ms: Latency,
    latencyP99Ms: Latency,
    scores: z.array(z.number()).max(10_000),
    requestIds: z.array(z.string().max(1000)).max(10_000),
  })
  .strict()
  .refine((s) => s.errors <= s.requests, { message: 'errors must not exceed requests', path: ['errors'] });

/** POST /traffic/{model}/stats. */
export const TrafficStatsBody = named(
  z
    .object({
      agentId: AgentId,
      splitId: SplitId,
      stats: z
        .object({
          champion: SideStatsSchema,
          challenger: SideStatsSchema,
          shadow: z
            .object({ compared: z.number().int().min(0), agreement: Share.nullable(), meanAbsDiff: z.number().min(0).nullable(), maxAbsDiff: z.number().min(0).nullable(), dropped: z.number().int().min(0).optional() })
            .strict()
            .optional(),
          windowMs: z.number().min(0),
        })
        .strict(),
    })
    .strict(),
  'TrafficStatsBody',
  "A serving process's figures of the running split since its previous post; 409 when the split is not the one running.",
);
export type TrafficStatsBody = z.input<typeof TrafficStatsBody>;
