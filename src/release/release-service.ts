/**
 * Releases as a persisted state machine: creation with its checks, reads, approvals,
 * aborts, rollbacks and stored policies. Every change writes one row of the release's
 * history and one audit event in the same transaction as the change itself, so the
 * history, the audit trail and the state never disagree. The database refuses a second
 * active release of a model (a unique index), whatever the race.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { appendAuditEvent } from '../audit/audit-trail.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SlipwayError, errors, isSlipwayError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { TrafficController } from '../core/traffic-split.js';
import type { RegistryService } from '../registry/registry-service.js';
import type { ModelVersion } from '../registry/registry-types.js';
import { validateAlias } from '../registry/registry-validation.js';
import type { Database, ReleaseTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import {
  ReleasePolicy,
  TERMINAL_RELEASE_STATES,
  type GateResult,
  type Release,
  type ReleaseEvent,
  type ReleasePolicyRecord,
  type ReleaseState,
  type RollbackResult,
} from '../client/schemas/releases.js';
import { HOLDOUT_PREFIX, LIVE_STRATEGIES, approvalsNeeded, checkGateText, checkStrategy, gateNames, holdoutColumns, holdoutOf, labelOf, needsHoldout, needsLabel, relativeThresholds } from './release-policy.js';

type Trx = Transaction<Database>;

/** A rollout's progress as stored with the release. */
export type ReleaseRollout = NonNullable<Release['rollout']>;

/** Who asks for a change, for the history and the audit trail. */
export interface ReleaseActor {
  /** The authenticated caller, or the name given with `--by` until access control names callers. */
  actor?: string;
  requestId?: string;
}

/** What starts a release (the wire body, parsed). */
export interface CreateReleaseInput {
  model: string;
  version?: string;
  alias?: string;
  environment: string;
  policy?: ReleasePolicy;
  /** Who asks, when no authenticated caller does. @default the actor, else "anonymous" */
  requestedBy?: string;
}

/** Filters of `list`. */
export interface ListReleasesInput {
  model?: string;
  /** A state, or `active` for any unfinished one. */
  state?: string;
  maxResults?: number;
  pageToken?: string;
}

/** One change of a release, applied by `transition` with its history row and audit event. */
export interface ReleaseChange {
  /** The states the release must be in; anything else is INVALID_STATE (someone else moved it first). */
  from: readonly ReleaseState[];
  to?: ReleaseState;
  reason?: string;
  gates?: GateResult[];
  approvals?: Release['approvals'];
  /** With `approvals`: the list this change was computed from; another writer's approval in between is CONFLICT (retry). */
  approvalsBefore?: Release['approvals'];
  rollout?: ReleaseRollout | null;
}

/** The history row and audit action a change writes. */
export interface ReleaseEventInput {
  /** History type: state, gate, step, analysis, approval, rollback… */
  type: string;
  /** Audit action, e.g. `release.state`. */
  action: string;
  message: string;
  actor?: string;
  requestId?: string;
  details?: Record<string, unknown>;
}

/** What the service tells the runner: a release to drive, one to stop. */
export interface ReleaseScheduler {
  /** Drives the release from its stored state (no-op when it is already being driven). */
  schedule(id: string): void;
  /** Stops driving it and puts live traffic back on the champion (abort). */
  cancel(release: Release): Promise<void>;
}

/** What the service needs. */
export interface ReleaseServiceOptions {
  store: Store;
  registry: RegistryService;
  artifacts?: ArtifactStore;
  /** Live traffic of this server's served models; absent where nothing is served. */
  traffic?: () => TrafficController | undefined;
  /** True in a command-line process on the embedded store (no model is served there), for clearer refusals. */
  embedded?: boolean;
  /**
   * Environments whose releases always wait for one approval by someone other than the requester (four-eyes),
   * whatever the policy says; the server passes them while access control is on, when approvers are real users.
   */
  protectedEnvironments?: readonly string[];
  clock?: Clock;
  logger?: Logger;
}

const TERMINAL = new Set<string>(TERMINAL_RELEASE_STATES);
const STATES = new Set<string>(['pending', 'gates', 'awaiting_approval', 'rolling_out', 'promoted', 'rejected', 'rolled_back', 'aborted']);

/** Whether a release state is final. */
export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

function parseJson<T>(text: string | null, fallback: T): T {
  return text === null ? fallback : (JSON.parse(text) as T);
}

function toRelease(row: ReleaseTable): Release {
  const rollout = parseJson<ReleaseRollout | null>(row.rollout, null);
  return {
    id: row.id,
    model: row.model_name,
    version: row.version,
    environment: row.environment,
    ...(row.champion_version !== null ? { championVersion: row.champion_version } : {}),
    state: row.state as ReleaseState,
    reason: row.reason,
    requestedBy: row.requested_by,
    policy: ReleasePolicy.parse(JSON.parse(row.policy)),
    gates: parseJson<GateResult[]>(row.gates, []),
    approvals: parseJson<Release['approvals']>(row.approvals, []),
    ...(rollout ? { rollout } : {}),
    createdTime: Number(row.created_time),
    updatedTime: Number(row.updated_time),
    ...(row.ended_time !== null ? { endedTime: Number(row.ended_time) } : {}),
  };
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function encodeToken(created: number, id: string): string {
  return Buffer.from(JSON.stringify([created, id])).toString('base64url');
}

function decodeToken(token: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // Answered below like any other token this server did not give out.
  }
  throw errors.invalid(`Invalid page token '${token}': pass nextPageToken from the previous page.`, { field: 'pageToken' });
}

function releaseNotFound(id: string): SlipwayError {
  return errors.notFound(`Release '${id}' does not exist.`, { id });
}

/** The release domain's persisted state machine. */
export class ReleaseService {
  readonly store: Store;
  readonly registry: RegistryService;
  readonly artifacts: ArtifactStore | undefined;
  private readonly traffic: () => TrafficController | undefined;
  private readonly embedded: boolean;
  private readonly protectedEnvironments: ReadonlySet<string>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private scheduler: ReleaseScheduler | undefined;

  constructor(opts: ReleaseServiceOptions) {
    this.store = opts.store;
    this.registry = opts.registry;
    this.artifacts = opts.artifacts;
    this.traffic = opts.traffic ?? (() => undefined);
    this.embedded = opts.embedded ?? false;
    this.protectedEnvironments = new Set(opts.protectedEnvironments ?? []);
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
  }

  /** Hands new, approved and aborted releases to a runner; without one, releases stay where they are put. */
  attachScheduler(scheduler: ReleaseScheduler | undefined): void {
    this.scheduler = scheduler;
  }

  // ---- creation ----

  /**
   * Checks and writes a new release in `pending` and hands it to the runner. Nothing is written
   * when a check fails: unknown model or version, a version that is not READY with an ONNX file,
   * candidate equal to champion, another active release (CONFLICT), thresholds relative to a champion
   * that does not exist, a holdout missing or absent, a live strategy for a model not served here.
   */
  async create(input: CreateReleaseInput, who: ReleaseActor = {}): Promise<Release> {
    const { model, environment } = input;
    if (input.version === undefined && input.alias === undefined) throw new SlipwayError('MISSING_ARGUMENT', "Give the candidate as 'version' or 'alias'.", { field: 'version' });
    if (input.version !== undefined && input.alias !== undefined) throw errors.invalid("Give the candidate as 'version' or 'alias', not both.", { field: 'alias' });
    await this.registry.getRegisteredModel(model);
    const candidate = input.alias !== undefined ? await this.registry.getVersionByAlias(model, input.alias) : await this.registry.getModelVersion(model, input.version as string);
    this.checkServable(candidate);
    const champion = await this.championOf(model, environment);
    if (champion && champion.version === candidate.version) {
      throw errors.state(`Version ${candidate.version} of ${model} is already at '${environment}'; release another version.`, { model, version: candidate.version, environment });
    }
    await this.assertNoActive(model);
    const asked = input.policy ?? (await this.storedPolicy(model, environment)) ?? ReleasePolicy.parse({});
    await this.checkPolicy(asked, model, environment, champion?.version);
    // Four-eyes: a protected environment waits for one approval by someone else even when the policy asks none.
    const fourEyes = this.protectedEnvironments.has(environment) && approvalsNeeded(asked) < 1;
    const policy: ReleasePolicy = fourEyes ? { ...asked, gates: [...asked.gates, { kind: 'approval', name: 'four-eyes', count: 1 }] } : asked;

    const now = this.clock.now();
    const requestedBy = who.actor ?? input.requestedBy ?? 'anonymous';
    const names = gateNames(policy.gates);
    const gates: GateResult[] = policy.gates.map((g, i) => ({ name: names[i] as string, kind: g.kind, verdict: 'pending', reason: '', figures: {} }));
    const id = randomUUID().replaceAll('-', '');
    const row: ReleaseTable = {
      id,
      model_name: model,
      version: candidate.version,
      environment,
      champion_version: champion?.version ?? null,
      state: 'pending',
      reason: 'Waiting to start.',
      requested_by: requestedBy,
      policy: JSON.stringify(policy),
      gates: JSON.stringify(gates),
      approvals: '[]',
      rollout: null,
      active: 1,
      created_time: now,
      updated_time: now,
      ended_time: null,
    };
    try {
      await this.store.db.transaction().execute(async (trx) => {
        await trx.insertInto('releases').values(row).execute();
        const message = `Release of ${model} version ${candidate.version} to '${environment}'${champion ? ` (champion: version ${champion.version})` : ' (first release)'} requested by ${requestedBy}.${fourEyes ? ` '${environment}' is a protected environment: one approval by someone other than ${requestedBy} is required.` : ''}`;
        await this.record(trx, id, { type: 'state', action: 'release.created', message, actor: requestedBy, ...(who.requestId ? { requestId: who.requestId } : {}), details: { policy } }, undefined, 'pending', now);
      });
    } catch (err) {
      // Two creations raced past the check above: the database let one through.
      if (isUniqueViolation(err)) await this.assertNoActive(model);
      throw err;
    }
    this.scheduler?.schedule(id);
    return this.get(id);
  }

  private checkServable(v: ModelVersion): void {
    const label = `${v.name} version ${v.version}`;
    if (v.status !== 'READY') throw errors.state(`${label} is ${v.status}, not READY; only a READY version can be released.`, { model: v.name, version: v.version });
    if (!v.signature) throw errors.state(`${label} has no ONNX file this server can read, so it cannot be released.`, { model: v.name, version: v.version });
  }

  private async championOf(model: string, environment: string): Promise<ModelVersion | undefined> {
    const row = await this.store.db.selectFrom('registered_model_aliases').select('version').where('name', '=', model).where('alias', '=', environment).executeTakeFirst();
    if (!row) {
      // The environment must be a name an alias can take; a malformed one is refused here, before anything is written.
      validateAlias(environment);
      return undefined;
    }
    return this.registry.getModelVersion(model, String(row.version));
  }

  private async assertNoActive(model: string): Promise<void> {
    const active = await this.store.db.selectFrom('releases').select(['id', 'version', 'state']).where('model_name', '=', model).where('active', '=', 1).executeTakeFirst();
    if (active) {
      throw new SlipwayError('CONFLICT', `Model ${model} already has an active release: ${active.id} (version ${active.version}, ${active.state}). Wait for it to finish or abort it first.`, {
        model,
        activeRelease: active.id,
        version: active.version,
        state: active.state,
      });
    }
  }

  private async checkPolicy(policy: ReleasePolicy, model: string, environment: string, championVersion: string | undefined): Promise<void> {
    checkStrategy(policy.strategy);
    const names = gateNames(policy.gates);
    for (const [i, gate] of policy.gates.entries()) {
      const name = names[i] as string;
      checkGateText(gate, name);
      const relative = relativeThresholds(gate);
      if (relative.length > 0 && championVersion === undefined) {
        throw errors.invalid(
          `Gate '${name}' compares with the champion (${relative.map((t) => `'${t}'`).join(', ')}), but this is the first release of ${model} into '${environment}': there is no champion. Use absolute thresholds (e.g. 'accuracy >= 0.9').`,
          { gate: name, thresholds: relative },
        );
      }
      if (!needsHoldout(gate)) continue;
      const ref = holdoutOf(gate, policy);
      if (ref === undefined) throw errors.invalid(`Gate '${name}' (${gate.kind}) needs a holdout: give 'holdout' on the gate or the policy (slipway release --holdout FILE).`, { gate: name });
      await this.checkHoldout(ref, name);
      const label = labelOf(gate, policy);
      if (label === undefined && needsLabel(gate)) {
        throw errors.invalid(`Gate '${name}' (${gate.kind}) needs the label column of its holdout: give 'label' on the gate or the policy (slipway release --label COLUMN).`, { gate: name, field: 'label' });
      }
      if (label !== undefined) await this.checkLabel(ref, label, name);
    }
    if (LIVE_STRATEGIES.has(policy.strategy.kind)) {
      await this.traffic()?.prepare?.(model);
      const served = this.traffic()?.servedUri(model);
      const wanted = `models:/${model}@${environment}`;
      if (served !== wanted) {
        throw errors.invalid(
          `The ${policy.strategy.kind} strategy steers live traffic, so it needs \`slipway server\` serving ${wanted}; ${served ? `this server serves ${model} by ${served}` : this.embedded ? 'this command runs on the embedded store, where no model is served: send the release to the server that serves it' : `this server does not serve ${model}`}. Use the direct strategy, or serve the model by its '${environment}' alias.`,
          { strategy: policy.strategy.kind, served: served ?? null },
        );
      }
    }
  }

  private async checkHoldout(ref: string, gate: string): Promise<void> {
    if (!ref.startsWith(HOLDOUT_PREFIX) || ref.split('/').some((s) => s === '..' || s === '.' || s === '')) {
      throw new SlipwayError('PATH_NOT_ALLOWED', `Holdout '${ref}' of gate '${gate}' must be a file under ${HOLDOUT_PREFIX} in the artifact store (slipway release --holdout uploads it there).`, { gate, holdout: ref });
    }
    const found = this.artifacts ? await this.artifacts.stat(ref) : undefined;
    if (!found) throw errors.notFound(`Holdout '${ref}' of gate '${gate}' is not in the artifact store; upload it first (slipway release --holdout FILE does).`, { gate, holdout: ref });
  }

  /** The label column must be in the holdout; only its header (or Parquet schema) is read. */
  private async checkLabel(ref: string, label: string, gate: string): Promise<void> {
    if (!this.artifacts) return;
    const columns = await holdoutColumns(await this.artifacts.localPath(ref), ref).catch((err: unknown) => {
      throw errors.invalid(`Holdout '${ref}' of gate '${gate}' cannot be read: ${err instanceof Error ? err.message : String(err)}`, { gate, holdout: ref });
    });
    if (columns && !columns.includes(label)) {
      const shown = columns.length > 50 ? `${columns.slice(0, 50).join(', ')}, … (${columns.length} in all)` : columns.join(', ');
      throw errors.invalid(`Gate '${gate}' reads label column '${label}', but holdout '${ref}' has no such column; its columns: ${shown}.`, { gate, holdout: ref, label, columns: columns.slice(0, 200) });
    }
  }

  // ---- reads ----

  /** One release with its history. */
  async get(id: string): Promise<Release> {
    const row = await this.store.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw releaseNotFound(id);
    return { ...toRelease(row), events: await this.events(id) };
  }

  /** One release without its history (what the runner reads between steps). */
  async getState(id: string): Promise<Release> {
    const row = await this.store.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw releaseNotFound(id);
    return toRelease(row);
  }

  /** A release's history, oldest first. */
  async events(id: string): Promise<ReleaseEvent[]> {
    const rows = await this.store.db.selectFrom('release_events').selectAll().where('release_id', '=', id).orderBy('seq').execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      time: Number(r.time),
      type: r.type,
      ...(r.from_state !== null ? { from: r.from_state as ReleaseState } : {}),
      ...(r.to_state !== null ? { to: r.to_state as ReleaseState } : {}),
      ...(r.actor !== null ? { actor: r.actor } : {}),
      message: r.message,
      ...(r.details !== null ? { details: JSON.parse(r.details) as Record<string, unknown> } : {}),
    }));
  }

  /** Releases newest first, by model and state (`active`: any unfinished one). */
  async list(q: ListReleasesInput = {}): Promise<{ releases: Release[]; nextPageToken?: string }> {
    const max = q.maxResults ?? 100;
    if (q.state !== undefined && q.state !== 'active' && !STATES.has(q.state)) {
      throw errors.invalid(`Unknown release state '${q.state}': use one of ${[...STATES].join(', ')} or active.`, { field: 'state' });
    }
    let query = this.store.db.selectFrom('releases').selectAll();
    if (q.model !== undefined) query = query.where('model_name', '=', q.model);
    if (q.state === 'active') query = query.where('active', '=', 1);
    else if (q.state !== undefined) query = query.where('state', '=', q.state);
    if (q.pageToken !== undefined) {
      const [created, id] = decodeToken(q.pageToken);
      query = query.where((eb) => eb.or([eb('created_time', '<', created), eb.and([eb('created_time', '=', created), eb('id', '<', id)])]));
    }
    const rows = await query.orderBy('created_time', 'desc').orderBy('id', 'desc').limit(max + 1).execute();
    const page = rows.slice(0, max).map(toRelease);
    const last = rows.length > max ? rows[max - 1] : undefined;
    return last ? { releases: page, nextPageToken: encodeToken(Number(last.created_time), last.id) } : { releases: page };
  }

  /** Unfinished releases, oldest first (what a restarted server picks up). */
  async listActive(): Promise<Release[]> {
    const rows = await this.store.db.selectFrom('releases').selectAll().where('active', '=', 1).orderBy('created_time').execute();
    return rows.map(toRelease);
  }

  // ---- transitions ----

  /**
   * Applies one change to a release, with its history row and audit event, in one transaction.
   * The release must be in one of `change.from`; otherwise INVALID_STATE naming its state.
   */
  async transition(id: string, change: ReleaseChange, event: ReleaseEventInput): Promise<Release> {
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('releases').select(['state']).where('id', '=', id).executeTakeFirst();
      if (!before) throw releaseNotFound(id);
      const terminal = change.to !== undefined && isTerminal(change.to);
      const res = await trx
        .updateTable('releases')
        .set({
          ...(change.to !== undefined ? { state: change.to } : {}),
          ...(change.reason !== undefined ? { reason: change.reason } : {}),
          ...(change.gates !== undefined ? { gates: JSON.stringify(change.gates) } : {}),
          ...(change.approvals !== undefined ? { approvals: JSON.stringify(change.approvals) } : {}),
          ...(change.rollout !== undefined ? { rollout: change.rollout === null ? null : JSON.stringify(change.rollout) } : {}),
          ...(terminal ? { active: null, ended_time: now } : {}),
          updated_time: now,
        })
        .where('id', '=', id)
        .where('state', 'in', [...change.from])
        .$if(change.approvalsBefore !== undefined, (q) => q.where('approvals', '=', JSON.stringify(change.approvalsBefore)))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0 && change.approvalsBefore !== undefined && change.from.includes(before.state as ReleaseState)) {
        throw new SlipwayError('CONFLICT', `Another approval of release ${id} was recorded at the same time; approve again.`, { id });
      }
      if (Number(res.numUpdatedRows) === 0) {
        throw errors.state(`Release ${id} is ${before.state}; it must be ${change.from.join(' or ')} for this.`, { id, state: before.state });
      }
      await this.record(trx, id, event, change.to !== undefined ? (before.state as ReleaseState) : undefined, change.to, now);
    });
    return this.getState(id);
  }

  private async record(trx: Trx, id: string, e: ReleaseEventInput, from: ReleaseState | undefined, to: ReleaseState | undefined, time: number): Promise<void> {
    const last = await trx.selectFrom('release_events').select((eb) => eb.fn.max('seq').as('seq')).where('release_id', '=', id).executeTakeFirst();
    const seq = Number(last?.seq ?? 0) + 1;
    await trx
      .insertInto('release_events')
      .values({ release_id: id, seq, time, type: e.type, from_state: from ?? null, to_state: to ?? null, actor: e.actor ?? null, message: e.message, details: e.details ? JSON.stringify(e.details) : null })
      .execute();
    await appendAuditEvent(trx, this.store.dialect, {
      ...(e.actor !== undefined ? { actor: e.actor } : {}),
      requestId: e.requestId ?? null,
      action: e.action,
      entityType: 'release',
      entityId: id,
      change: { seq, type: e.type, from, to, message: e.message, details: e.details },
      time,
    });
  }

  // ---- people's actions ----

  /**
   * Records an approval of a release awaiting approval. The approver is a principal name (today the
   * caller's `by`, later an authenticated user whose role is checked here); it must differ from the
   * requester (PERMISSION_DENIED) and may approve once (INVALID_STATE). The last approval needed moves
   * the release on to its rollout.
   */
  async approve(id: string, body: { by?: string; comment?: string }, who: ReleaseActor = {}): Promise<Release> {
    const principal = who.actor ?? body.by;
    if (principal === undefined) throw new SlipwayError('MISSING_ARGUMENT', "Say who approves: 'by' (slipway releases approve ID --by NAME).", { field: 'by' });
    // Two approvals at once: the second to write sees the list changed under it and computes again from the new one.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.approveOnce(id, principal, body, who);
      } catch (err) {
        if (!isSlipwayError(err) || err.code !== 'CONFLICT' || attempt >= 5) throw err;
      }
    }
  }

  private async approveOnce(id: string, principal: string, body: { comment?: string }, who: ReleaseActor): Promise<Release> {
    const release = await this.getState(id);
    if (release.state !== 'awaiting_approval') throw errors.state(`Release ${id} is ${release.state}; only a release awaiting approval can be approved.`, { id, state: release.state });
    if (principal === release.requestedBy) throw new SlipwayError('PERMISSION_DENIED', `${principal} requested release ${id} and cannot approve it; another person must.`, { id, by: principal });
    if (release.approvals.some((a) => a.by === principal)) throw errors.state(`${principal} has already approved release ${id}; it needs approvals from different people.`, { id, by: principal });
    const approvals = [...release.approvals, { by: principal, time: this.clock.now(), ...(body.comment !== undefined ? { comment: body.comment } : {}) }];
    const needed = approvalsNeeded(release.policy);
    const done = approvals.length >= needed;
    const gates = release.gates.map((g) =>
      g.kind === 'approval' ? { ...g, verdict: (done ? 'pass' : 'pending') as GateResult['verdict'], reason: `${approvals.length} of ${needed} approvals (${approvals.map((a) => a.by).join(', ')}).`, figures: { approvals: approvals.length, needed, by: approvals.map((a) => a.by) } } : g,
    );
    const requestId = who.requestId !== undefined ? { requestId: who.requestId } : {};
    let out = await this.transition(
      id,
      { from: ['awaiting_approval'], approvals, approvalsBefore: release.approvals, gates },
      { type: 'approval', action: 'release.approved', actor: principal, ...requestId, message: `Approved by ${principal} (${approvals.length} of ${needed}).`, details: { by: principal, ...(body.comment !== undefined ? { comment: body.comment } : {}) } },
    );
    if (done) {
      out = await this.transition(id, { from: ['awaiting_approval'], to: 'rolling_out', reason: 'Approved; rolling out.' }, { type: 'state', action: 'release.state', actor: principal, ...requestId, message: `All ${needed} approvals given; rolling out.` });
      this.scheduler?.schedule(id);
    }
    return out;
  }

  /** Stops an unfinished release; a rollout in progress puts all traffic back on the champion. INVALID_STATE when it has finished. */
  async abort(id: string, body: { reason?: string; by?: string }, who: ReleaseActor = {}): Promise<Release> {
    const release = await this.getState(id);
    if (isTerminal(release.state)) throw errors.state(`Release ${id} is already ${release.state}; only an unfinished release can be aborted.`, { id, state: release.state });
    const by = who.actor ?? body.by ?? 'anonymous';
    const reason = `Aborted by ${by}${body.reason ? `: ${body.reason}` : '.'}`;
    const out = await this.transition(
      id,
      { from: ['pending', 'gates', 'awaiting_approval', 'rolling_out'], to: 'aborted', reason },
      { type: 'state', action: 'release.aborted', actor: by, ...(who.requestId !== undefined ? { requestId: who.requestId } : {}), message: reason, details: { wasRollingOut: release.state === 'rolling_out' } },
    );
    if (this.scheduler) await this.scheduler.cancel(out);
    else if (release.state === 'rolling_out') await this.revertSplit(release.model);
    return out;
  }

  private async revertSplit(model: string): Promise<void> {
    const traffic = this.traffic();
    if (traffic?.activeSplit(model)) await traffic.endSplit(model, 'rollback');
  }

  /**
   * Moves an environment back to an earlier version: `version`, else the champion the last promoted
   * release into that environment replaced. Instant when a blue-green bake still holds the old version
   * loaded (`traffic.revert`). Recorded in that release's history and in the audit trail.
   */
  async rollback(model: string, body: { environment?: string; version?: string; reason?: string }, who: ReleaseActor = {}): Promise<RollbackResult> {
    const environment = body.environment ?? 'champion';
    await this.registry.getRegisteredModel(model);
    const active = await this.store.db.selectFrom('releases').select(['id', 'version', 'state']).where('model_name', '=', model).where('active', '=', 1).executeTakeFirst();
    if (active) {
      throw new SlipwayError('CONFLICT', `Model ${model} has an active release: ${active.id} (version ${active.version}, ${active.state}); abort it (its traffic goes back to the champion) instead of rolling back.`, {
        model,
        activeRelease: active.id,
      });
    }
    const current = await this.championOf(model, environment);
    const last = await this.store.db
      .selectFrom('releases')
      .selectAll()
      .where('model_name', '=', model)
      .where('environment', '=', environment)
      .where('state', '=', 'promoted')
      .orderBy('ended_time', 'desc')
      .orderBy('created_time', 'desc')
      .limit(1)
      .executeTakeFirst();
    const target = body.version ?? last?.champion_version ?? undefined;
    if (target === undefined) {
      throw errors.state(`No earlier version of ${model} at '${environment}' is known (no promoted release replaced one); give the version to roll back to.`, { model, environment });
    }
    const version = await this.registry.getModelVersion(model, target);
    this.checkServable(version);
    if (current && current.version === version.version) throw errors.state(`${model} '${environment}' already points at version ${version.version}.`, { model, environment, version: version.version });

    const traffic = this.traffic();
    let instant = false;
    if (traffic && traffic.servedUri(model) === `models:/${model}@${environment}`) {
      const reverted = await traffic.revert(model, version.version);
      instant = reverted === version.version;
    }
    const by = who.actor ?? 'anonymous';
    await this.registry.setAlias(model, environment, version.version, { actor: by, ...(who.requestId !== undefined ? { requestId: who.requestId } : {}) });
    const now = this.clock.now();
    const message = `${model} '${environment}' rolled back from version ${current?.version ?? '(none)'} to ${version.version} by ${by}${body.reason ? `: ${body.reason}` : '.'}`;
    const details = { environment, version: version.version, previousVersion: current?.version ?? null, instant, ...(body.reason ? { reason: body.reason } : {}) };
    await this.store.db.transaction().execute(async (trx) => {
      if (last) {
        await this.record(trx, last.id, { type: 'rollback', action: 'release.rollback', actor: by, ...(who.requestId !== undefined ? { requestId: who.requestId } : {}), message, details }, undefined, undefined, now);
      } else {
        await appendAuditEvent(trx, this.store.dialect, { actor: by, requestId: who.requestId ?? null, action: 'release.rollback', entityType: 'registered_model', entityId: model, change: details, time: now });
      }
    });
    this.logger.info({ model, environment, version: version.version, instant }, 'release: rolled back');
    return {
      model,
      environment,
      version: version.version,
      ...(current ? { previousVersion: current.version } : {}),
      instant,
      ...(last ? { releaseId: last.id } : {}),
    };
  }

  /**
   * Records something done to a model outside a release (an alert's action): as an event of the last
   * promoted release of the model (into `environment` when given), so it shows in that release's history,
   * and in the audit trail; with no promoted release, in the audit trail alone, on the registered model.
   * Returns the release it was recorded on, if any.
   */
  async recordModelEvent(model: string, environment: string | undefined, event: ReleaseEventInput): Promise<string | undefined> {
    let q = this.store.db.selectFrom('releases').select('id').where('model_name', '=', model).where('state', '=', 'promoted');
    if (environment !== undefined) q = q.where('environment', '=', environment);
    const last = await q.orderBy('ended_time', 'desc').orderBy('created_time', 'desc').limit(1).executeTakeFirst();
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      if (last) await this.record(trx, last.id, event, undefined, undefined, now);
      else {
        await appendAuditEvent(trx, this.store.dialect, {
          ...(event.actor !== undefined ? { actor: event.actor } : {}),
          requestId: event.requestId ?? null,
          action: event.action,
          entityType: 'registered_model',
          entityId: model,
          change: { type: event.type, message: event.message, details: event.details },
          time: now,
        });
      }
    });
    return last?.id;
  }

  /** The version an environment's alias points at, if any. */
  async currentVersion(model: string, environment: string): Promise<string | undefined> {
    const row = await this.store.db.selectFrom('registered_model_aliases').select('version').where('name', '=', model).where('alias', '=', environment).executeTakeFirst();
    return row ? String(row.version) : undefined;
  }

  /** The unfinished release of a model, if any. */
  async activeOf(model: string): Promise<Release | undefined> {
    const row = await this.store.db.selectFrom('releases').selectAll().where('model_name', '=', model).where('active', '=', 1).executeTakeFirst();
    return row ? toRelease(row) : undefined;
  }

  // ---- policies ----

  private async storedPolicy(model: string, environment: string): Promise<ReleasePolicy | undefined> {
    const row = await this.store.db.selectFrom('release_policies').select('policy').where('model_name', '=', model).where('environment', '=', environment).executeTakeFirst();
    return row ? ReleasePolicy.parse(JSON.parse(row.policy)) : undefined;
  }

  /** The policy stored for a model and environment; NOT_FOUND when none is. */
  async getPolicy(model: string, environment: string): Promise<ReleasePolicyRecord> {
    const row = await this.store.db.selectFrom('release_policies').selectAll().where('model_name', '=', model).where('environment', '=', environment).executeTakeFirst();
    if (!row) throw errors.notFound(`No release policy is stored for ${model} '${environment}'.`, { model, environment });
    return { model, environment, policy: ReleasePolicy.parse(JSON.parse(row.policy)), updatedTime: Number(row.updated_time) };
  }

  /** Stores (or replaces) the policy of a model and environment, audited. The model must exist; its durations and steps are checked. */
  async putPolicy(model: string, environment: string, policy: ReleasePolicy, who: ReleaseActor = {}): Promise<ReleasePolicyRecord> {
    await this.registry.getRegisteredModel(model);
    validateAlias(environment);
    checkStrategy(policy.strategy);
    const now = this.clock.now();
    const text = JSON.stringify(policy);
    await this.store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('release_policies')
        .values({ model_name: model, environment, policy: text, updated_time: now })
        .onConflict((oc) => oc.columns(['model_name', 'environment']).doUpdateSet({ policy: text, updated_time: now }))
        .execute();
      await appendAuditEvent(trx, this.store.dialect, { actor: who.actor ?? 'anonymous', requestId: who.requestId ?? null, action: 'release.policy_set', entityType: 'release_policy', entityId: `${model}@${environment}`, change: policy, time: now });
    });
    return { model, environment, policy, updatedTime: now };
  }

  /** Removes a stored policy, audited; NOT_FOUND when none is stored. */
  async deletePolicy(model: string, environment: string, who: ReleaseActor = {}): Promise<void> {
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('release_policies').where('model_name', '=', model).where('environment', '=', environment).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw errors.notFound(`No release policy is stored for ${model} '${environment}'.`, { model, environment });
      await appendAuditEvent(trx, this.store.dialect, { actor: who.actor ?? 'anonymous', requestId: who.requestId ?? null, action: 'release.policy_deleted', entityType: 'release_policy', entityId: `${model}@${environment}`, change: {}, time: now });
    });
  }

  /** Stored policies, of one model or all, by model and environment. */
  async listPolicies(model?: string): Promise<ReleasePolicyRecord[]> {
    let q = this.store.db.selectFrom('release_policies').selectAll();
    if (model !== undefined) q = q.where('model_name', '=', model);
    const rows = await q.orderBy('model_name').orderBy('environment').execute();
    return rows.map((r) => ({ model: r.model_name, environment: r.environment, policy: ReleasePolicy.parse(JSON.parse(r.policy)), updatedTime: Number(r.updated_time) }));
  }
}
