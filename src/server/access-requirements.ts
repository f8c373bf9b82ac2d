/**
 * What each route of the server needs, as the access domain's `Requirement`s. One table
 * keyed by method and Fastify route path; the MLflow REST and ajax prefixes share their
 * entries. The object a route acts on is read where MLflow's own auth app reads it: the
 * query of a GET, the JSON body otherwise (either, for the few routes that take both).
 * A route missing from the table needs an admin, so a route added without a line here
 * fails closed (the every-route sweep test lists any).
 */
import type { Requirement } from '../access/access-types.js';
import { parseModelUri } from '../core/model-source.js';
import { SELF_CHECKED_ACCESS_ROUTES } from './native/access-route-paths.js';

/** What a requirement rule reads from a request. */
export interface RequestParts {
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
  body: unknown;
}

/** Names the server resolves itself before asking the access domain (run → experiment, release → model). */
export interface RequirementLookups {
  /** The experiment an experiment name names; undefined when there is none. */
  experimentIdByName(name: string): Promise<string | undefined>;
  /** The model and environment of a release; undefined when there is none. */
  releaseTarget(id: string): Promise<{ model: string; environment: string } | undefined>;
  /** The models `POST /invocations` may answer from (the ready ones). */
  servedModelNames(): readonly string[];
}

type Level = 'READ' | 'EDIT' | 'MANAGE';
/** One rule: the requirements (all must hold) of a request to one route. */
export type RequirementRule = (parts: RequestParts, lookups: RequirementLookups) => Requirement[] | Promise<Requirement[]>;

const PUBLIC: Requirement = { kind: 'public' };
const AUTHENTICATED: Requirement = { kind: 'authenticated' };
const ADMIN: Requirement = { kind: 'admin' };

const publicRoute: RequirementRule = () => [PUBLIC];
const anyUser: RequirementRule = () => [AUTHENTICATED];
const adminOnly: RequirementRule = () => [ADMIN];

/** A field of the body, then the query (MLflow clients send GET fields in the query, the rest in the body). */
function field(parts: RequestParts, name: string): string | undefined {
  const b = parts.body;
  const fromBody = b !== null && typeof b === 'object' && !Array.isArray(b) && !Buffer.isBuffer(b) ? (b as Record<string, unknown>)[name] : undefined;
  const v = fromBody ?? parts.query[name];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Every value of a list field (`experiment_ids`, `run_ids`): body array, or repeated query values. */
function fields(parts: RequestParts, name: string): string[] {
  const b = parts.body;
  const fromBody = b !== null && typeof b === 'object' && !Array.isArray(b) && !Buffer.isBuffer(b) ? (b as Record<string, unknown>)[name] : undefined;
  const v = fromBody ?? parts.query[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.filter((x): x is string | number => (typeof x === 'string' && x !== '') || typeof x === 'number').map(String);
}

// A request that does not name its object cannot be checked against one: only an admin passes, and the handler then answers its 400.
const experimentBy =
  (name: string, level: Level, fallback?: string): RequirementRule =>
  (parts) => {
    const id = field(parts, name) ?? fallback;
    return [id === undefined ? ADMIN : { kind: 'experiment', experimentId: id, level }];
  };
const runBy =
  (name: string, level: Level, alt?: string): RequirementRule =>
  (parts) => {
    const id = field(parts, name) ?? (alt !== undefined ? field(parts, alt) : undefined);
    return [id === undefined ? ADMIN : { kind: 'run', runId: id, level }];
  };
const modelBy =
  (name: string, level: Level): RequirementRule =>
  (parts) => {
    const n = field(parts, name);
    return [n === undefined ? ADMIN : { kind: 'registered_model', name: n, level }];
  };
const modelParam =
  (param: string, level: Level): RequirementRule =>
  (parts) => {
    const n = parts.params[param];
    return [n === undefined || n === '' ? ADMIN : { kind: 'registered_model', name: n, level }];
  };
const runParam =
  (level: Level): RequirementRule =>
  (parts) => {
    const id = parts.params.runId;
    return [id === undefined || id === '' ? ADMIN : { kind: 'run', runId: id, level }];
  };
const experimentParam =
  (level: Level): RequirementRule =>
  (parts) => {
    const id = parts.params.experimentId;
    return [id === undefined || id === '' ? ADMIN : { kind: 'experiment', experimentId: id, level }];
  };
const eachExperiment =
  (name: string): RequirementRule =>
  (parts) => {
    const ids = fields(parts, name);
    return ids.length === 0 ? [AUTHENTICATED] : ids.map((id) => ({ kind: 'experiment', experimentId: id, level: 'READ' }) as Requirement);
  };
const eachRun =
  (name: string, single?: string): RequirementRule =>
  (parts) => {
    const ids = [...fields(parts, name), ...(single !== undefined ? fields(parts, single) : [])];
    return ids.length === 0 ? [ADMIN] : ids.map((id) => ({ kind: 'run', runId: id, level: 'READ' }) as Requirement);
  };
// The downsampled compare route names its runs in one comma-separated query value.
const eachRunListed =
  (name: string): RequirementRule =>
  (parts) => {
    const ids = fields(parts, name).flatMap((v) => v.split(',')).map((id) => id.trim()).filter((id) => id !== '');
    return ids.length === 0 ? [ADMIN] : ids.map((id) => ({ kind: 'run', runId: id, level: 'READ' }) as Requirement);
  };
const monitoringOf: RequirementRule = (parts) => {
  const n = parts.params.name;
  return [n === undefined || n === '' ? ADMIN : { kind: 'monitoring', name: n }];
};

/** The model a side of a report reads monitoring data of: `{ model: 'models:/NAME…' }` (its reference) or `{ windows: { model } }`. */
function reportSideModel(side: unknown): string | undefined {
  if (side === null || typeof side !== 'object' || Array.isArray(side)) return undefined;
  const s = side as Record<string, unknown>;
  if (typeof s.model === 'string') {
    try {
      return parseModelUri(s.model)?.name;
    } catch {
      return undefined;
    }
  }
  const w = s.windows;
  if (s.model === undefined && w !== null && typeof w === 'object' && !Array.isArray(w)) {
    const name = (w as Record<string, unknown>).model;
    return typeof name === 'string' && name !== '' ? name : undefined;
  }
  return undefined;
}
// A report over a model's stored windows or its reference reads what GET …/windows and …/reference give: the
// monitoring right on each model it names. A side that names none (inline rows, a profile) or names one badly reads
// nothing stored, and the handler answers its 400.
const monitoringReport: RequirementRule = (parts) => {
  const b = parts.body;
  const body = b !== null && typeof b === 'object' && !Array.isArray(b) && !Buffer.isBuffer(b) ? (b as Record<string, unknown>) : {};
  const names = [...new Set([reportSideModel(body.reference), reportSideModel(body.current)].filter((n): n is string => n !== undefined))];
  // `importance: { model }` runs that model version on the report's rows, as POST …/explain does: READ on it,
  // whatever the sides are (inline rows on both sides read nothing stored but still run the model).
  const explained = importanceModel(body.importance);
  return [AUTHENTICATED, ...names.map((name) => ({ kind: 'monitoring', name }) as Requirement), ...(explained !== undefined ? [{ kind: 'registered_model', name: explained, level: 'READ' } as Requirement] : [])];
};

/** The model a report's `importance: { model: 'models:/NAME…' }` names; undefined when absent or malformed (the handler answers its 400). */
function importanceModel(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const uri = (value as Record<string, unknown>).model;
  if (typeof uri !== 'string') return undefined;
  try {
    return parseModelUri(uri)?.name;
  } catch {
    return undefined;
  }
}

const experimentByName: RequirementRule = async (parts, lookups) => {
  const name = field(parts, 'experiment_name') ?? parts.params.name;
  if (name === undefined) return [ADMIN];
  const id = await lookups.experimentIdByName(name);
  // An unknown name: any user may learn that it does not exist (MLflow answers RESOURCE_DOES_NOT_EXIST to anyone who may read).
  return [id === undefined ? AUTHENTICATED : { kind: 'experiment', experimentId: id, level: 'READ' }];
};

/**
 * Artifact proxy paths are `<experiment id>/<run id>/artifacts/…` below the artifact root (MLflow's layout), so the
 * first segment names the experiment. A path outside that layout is an admin's.
 */
const artifactProxy =
  (level: Level): RequirementRule =>
  (parts) => {
    const raw = parts.params['*'] ?? field(parts, 'path') ?? '';
    const first = raw.replace(/^\/+/, '').split('/')[0] ?? '';
    return [/^\d+$/.test(first) ? { kind: 'experiment', experimentId: first, level } : ADMIN];
  };

const releaseApproval: RequirementRule = async (parts, lookups) => {
  const target = parts.params.id ? await lookups.releaseTarget(parts.params.id) : undefined;
  // An unknown release: refused like any other, so ids cannot be probed by someone without rights.
  return [target ? { kind: 'release_approval', name: target.model, environment: target.environment } : ADMIN];
};
const releaseManage: RequirementRule = async (parts, lookups) => {
  const target = parts.params.id ? await lookups.releaseTarget(parts.params.id) : undefined;
  return [target ? { kind: 'registered_model', name: target.model, level: 'MANAGE' } : ADMIN];
};
const releaseRead: RequirementRule = async (parts, lookups) => {
  const target = parts.params.id ? await lookups.releaseTarget(parts.params.id) : undefined;
  return [target ? { kind: 'registered_model', name: target.model, level: 'READ' } : AUTHENTICATED];
};
const invocations: RequirementRule = (_parts, lookups) => {
  const names = lookups.servedModelNames();
  // With no model or several, the handler answers an error that names no model the caller could not read.
  return names.length === 1 ? [{ kind: 'registered_model', name: names[0] as string, level: 'READ' }] : [AUTHENTICATED];
};

// A dataset version that names the run producing it writes that run's lineage: EDIT on the run.
const datasetRegistration: RequirementRule = (parts) => {
  const runId = field(parts, 'runId');
  return [runId === undefined ? AUTHENTICATED : { kind: 'run', runId, level: 'EDIT' }];
};

/** MLflow REST routes, below `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`, as MLflow's auth app guards them. */
const MLFLOW: Record<string, RequirementRule> = {
  'POST /experiments/create': anyUser,
  'GET /experiments/get': experimentBy('experiment_id', 'READ'),
  'GET /experiments/get-by-name': experimentByName,
  'POST /experiments/search': anyUser,
  'GET /experiments/search': anyUser,
  'POST /experiments/search-datasets': eachExperiment('experiment_ids'),
  'POST /experiments/set-experiment-tag': experimentBy('experiment_id', 'EDIT'),
  'POST /experiments/update': experimentBy('experiment_id', 'EDIT'),
  'POST /experiments/delete': experimentBy('experiment_id', 'MANAGE'),
  'POST /experiments/restore': experimentBy('experiment_id', 'MANAGE'),
  // MLflow puts a run without experiment_id in the default experiment, 0.
  'POST /runs/create': experimentBy('experiment_id', 'EDIT', '0'),
  'POST /runs/create-promptlab-run': experimentBy('experiment_id', 'EDIT'),
  'GET /runs/get': runBy('run_id', 'READ', 'run_uuid'),
  'POST /runs/update': runBy('run_id', 'EDIT', 'run_uuid'),
  'POST /runs/delete': runBy('run_id', 'MANAGE'),
  'POST /runs/restore': runBy('run_id', 'MANAGE'),
  'POST /runs/delete-tag': runBy('run_id', 'EDIT'),
  'POST /runs/log-metric': runBy('run_id', 'EDIT', 'run_uuid'),
  'POST /runs/log-model': runBy('run_id', 'EDIT'),
  'POST /runs/log-parameter': runBy('run_id', 'EDIT', 'run_uuid'),
  'POST /runs/log-batch': runBy('run_id', 'EDIT'),
  'POST /runs/log-inputs': runBy('run_id', 'EDIT'),
  'POST /runs/set-tag': runBy('run_id', 'EDIT', 'run_uuid'),
  'POST /runs/search': eachExperiment('experiment_ids'),
  'GET /metrics/get-history': runBy('run_id', 'READ', 'run_uuid'),
  'GET /metrics/get-history-bulk': eachRun('run_id'),
  'GET /metrics/get-history-bulk-interval': eachRun('run_ids', 'run_id'),
  'GET /artifacts/list': runBy('run_id', 'READ', 'run_uuid'),
  'GET /get-artifact': runBy('run_id', 'READ', 'run_uuid'),
  'POST /upload-artifact': runBy('run_uuid', 'EDIT', 'run_id'),
  'POST /registered-models/create': anyUser,
  'POST /registered-models/rename': modelBy('name', 'EDIT'),
  'PATCH /registered-models/update': modelBy('name', 'EDIT'),
  'DELETE /registered-models/delete': modelBy('name', 'MANAGE'),
  'DELETE /registered-models/delete-tag': modelBy('name', 'EDIT'),
  'GET /registered-models/get': modelBy('name', 'READ'),
  'POST /registered-models/get-latest-versions': modelBy('name', 'READ'),
  'GET /registered-models/get-latest-versions': modelBy('name', 'READ'),
  'GET /registered-models/search': anyUser,
  'POST /registered-models/set-tag': modelBy('name', 'EDIT'),
  'POST /registered-models/alias': modelBy('name', 'EDIT'),
  'DELETE /registered-models/alias': modelBy('name', 'MANAGE'),
  'GET /registered-models/alias': modelBy('name', 'READ'),
  'POST /model-versions/create': modelBy('name', 'EDIT'),
  'PATCH /model-versions/update': modelBy('name', 'EDIT'),
  'POST /model-versions/transition-stage': modelBy('name', 'EDIT'),
  'DELETE /model-versions/delete': modelBy('name', 'MANAGE'),
  'DELETE /model-versions/delete-tag': modelBy('name', 'EDIT'),
  'GET /model-versions/get': modelBy('name', 'READ'),
  'GET /model-versions/get-download-uri': modelBy('name', 'READ'),
  'GET /model-versions/get-artifact': modelBy('name', 'READ'),
  'GET /model-versions/search': anyUser,
  'POST /model-versions/set-tag': modelBy('name', 'EDIT'),
};

/** The MLflow artifact proxy, below `/api/2.0` and `/ajax-api/2.0`. */
const ARTIFACT_PROXY: Record<string, RequirementRule> = {
  'GET /mlflow-artifacts/artifacts': artifactProxy('READ'),
  'GET /mlflow-artifacts/artifacts/*': artifactProxy('READ'),
  'PUT /mlflow-artifacts/artifacts/*': artifactProxy('EDIT'),
  'DELETE /mlflow-artifacts/artifacts/*': artifactProxy('MANAGE'),
  'POST /mlflow-artifacts/mpu/:operation/*': artifactProxy('EDIT'),
};

/** Every other route, by its full path. */
const OTHERS: Record<string, RequirementRule> = {
  // Users, tokens and permissions: their handlers check admin, self or MANAGE on the object.
  ...Object.fromEntries(SELF_CHECKED_ACCESS_ROUTES.map((route) => [route, anyUser])),
  // Probes and the API description.
  'GET /health': publicRoute,
  'GET /ping': publicRoute,
  'GET /version': publicRoute,
  'GET /api/v1/health': publicRoute,
  'GET /api/v1/openapi.json': publicRoute,
  // The web UI's shell and bundles: its login page must load before anyone has signed in (they hold no data).
  'GET /': publicRoute,
  'GET /assets/*': publicRoute,
  'GET /favicon.svg': publicRoute,
  'GET /v2/health/live': publicRoute,
  'GET /v2/health/ready': publicRoute,
  // MLflow's artifact download routes without a prefix (the UI's and old clients').
  'GET /get-artifact': runBy('run_id', 'READ', 'run_uuid'),
  'GET //get-artifact': runBy('run_id', 'READ', 'run_uuid'),
  'GET /model-versions/get-artifact': modelBy('name', 'READ'),
  'GET //model-versions/get-artifact': modelBy('name', 'READ'),
  // Native experiments and runs.
  'GET /api/v1/experiments': anyUser,
  'POST /api/v1/experiments': anyUser,
  'GET /api/v1/experiments/by-name/:name': experimentByName,
  'GET /api/v1/experiments/:experimentId': experimentParam('READ'),
  'PATCH /api/v1/experiments/:experimentId': experimentParam('EDIT'),
  'DELETE /api/v1/experiments/:experimentId': experimentParam('MANAGE'),
  'POST /api/v1/experiments/:experimentId/restore': experimentParam('MANAGE'),
  'POST /api/v1/runs': experimentBy('experimentId', 'EDIT', '0'),
  'POST /api/v1/runs/search': eachExperiment('experimentIds'),
  'GET /api/v1/runs/:runId': runParam('READ'),
  'PATCH /api/v1/runs/:runId': runParam('EDIT'),
  'DELETE /api/v1/runs/:runId': runParam('MANAGE'),
  'POST /api/v1/runs/:runId/log': runParam('EDIT'),
  'POST /api/v1/runs/:runId/inputs': runParam('EDIT'),
  'GET /api/v1/runs/:runId/metrics/:key/history': runParam('READ'),
  'GET /api/v1/runs/:runId/metrics/:key/history/downsampled': runParam('READ'),
  'GET /api/v1/runs/metrics/history/downsampled': eachRunListed('runIds'),
  'POST /api/v1/runs/:runId/restore': runParam('MANAGE'),
  'GET /api/v1/runs/:runId/artifacts': runParam('READ'),
  'GET /api/v1/runs/:runId/artifacts/*': runParam('READ'),
  'GET /api/v1/runs/:runId/artifact-url/*': runParam('READ'),
  'PUT /api/v1/runs/:runId/artifacts/*': runParam('EDIT'),
  'GET /api/v1/artifacts/*': artifactProxy('READ'),
  'PUT /api/v1/artifacts/*': artifactProxy('EDIT'),
  // Native registry.
  'GET /api/v1/models': anyUser,
  'POST /api/v1/models': anyUser,
  'GET /api/v1/models/:name': modelParam('name', 'READ'),
  'DELETE /api/v1/models/:name': modelParam('name', 'MANAGE'),
  'GET /api/v1/models/:name/versions': modelParam('name', 'READ'),
  'POST /api/v1/models/:name/versions': modelParam('name', 'EDIT'),
  'GET /api/v1/models/:name/versions/:version': modelParam('name', 'READ'),
  'DELETE /api/v1/models/:name/versions/:version': modelParam('name', 'MANAGE'),
  'POST /api/v1/models/:name/versions/:version/stage': modelParam('name', 'EDIT'),
  'GET /api/v1/models/:name/versions/:version/lineage': modelParam('name', 'READ'),
  'GET /api/v1/models/:name/versions/:version/card': modelParam('name', 'READ'),
  'GET /api/v1/models/:name/aliases/:alias': modelParam('name', 'READ'),
  'PUT /api/v1/models/:name/aliases/:alias': modelParam('name', 'EDIT'),
  'DELETE /api/v1/models/:name/aliases/:alias': modelParam('name', 'MANAGE'),
  // Registered datasets have no per-object grants: any signed-in user reads and registers them (as creating a
  // model); recording one as a run's input is EDIT on the run; deleting a version, which other teams' lineage
  // may name, is an admin's.
  'GET /api/v1/datasets': anyUser,
  'POST /api/v1/datasets/:name/versions': datasetRegistration,
  'GET /api/v1/datasets/:name/versions': anyUser,
  'GET /api/v1/datasets/:name/versions/:version': anyUser,
  'DELETE /api/v1/datasets/:name/versions/:version': adminOnly,
  'GET /api/v1/datasets/:name/versions/:version/lineage': anyUser,
  'POST /api/v1/datasets/:name/versions/:version/inputs': runBy('runId', 'EDIT'),
  // Releases: creating one moves an alias (EDIT), rolling back or aborting is the model owner's (MANAGE).
  'POST /api/v1/releases': modelBy('model', 'EDIT'),
  'GET /api/v1/releases': anyUser,
  'GET /api/v1/releases/:id': releaseRead,
  'POST /api/v1/releases/:id/approve': releaseApproval,
  'POST /api/v1/releases/:id/abort': releaseManage,
  'POST /api/v1/models/:name/rollback': modelParam('name', 'MANAGE'),
  'GET /api/v1/release-policies': anyUser,
  'GET /api/v1/models/:name/release-policies/:environment': modelParam('name', 'READ'),
  'PUT /api/v1/models/:name/release-policies/:environment': modelParam('name', 'MANAGE'),
  'DELETE /api/v1/models/:name/release-policies/:environment': modelParam('name', 'MANAGE'),
  // Serve processes following this server report in with a token of a user who may change the model.
  'GET /api/v1/traffic/:model': modelParam('model', 'READ'),
  // Any signed-in user; the answer holds only the models the caller may read.
  'GET /api/v1/serving/stats': anyUser,
  'POST /api/v1/traffic/:model/agents': modelParam('model', 'EDIT'),
  'POST /api/v1/traffic/:model/stats': modelParam('model', 'EDIT'),
  // Monitoring: reading windows and references is the monitoring right; changing a model's reference is EDIT on it.
  'POST /api/v1/monitoring/profiles': anyUser,
  'GET /api/v1/monitoring/models/:name/references': monitoringOf,
  'PUT /api/v1/monitoring/models/:name/versions/:version/reference': modelParam('name', 'EDIT'),
  'GET /api/v1/monitoring/models/:name/versions/:version/reference': monitoringOf,
  'DELETE /api/v1/monitoring/models/:name/versions/:version/reference': modelParam('name', 'MANAGE'),
  'GET /api/v1/monitoring/models/:name/windows': monitoringOf,
  'GET /api/v1/monitoring/models/:name/windows/:windowStart': monitoringOf,
  // Lists every monitored model, whatever the caller may read of each: the administrator's, as the alert rules are.
  'GET /api/v1/monitoring/models': adminOnly,
  'POST /api/v1/monitoring/models/:name/ground-truth': modelParam('name', 'EDIT'),
  'GET /api/v1/monitoring/models/:name/performance': monitoringOf,
  'POST /api/v1/monitoring/reports': monitoringReport,
  // Alerts send webhooks to URLs and span models: an admin's.
  'POST /api/v1/monitoring/windows/flush': adminOnly,
  'GET /api/v1/monitoring/alerts': adminOnly,
  'POST /api/v1/monitoring/alerts': adminOnly,
  'POST /api/v1/monitoring/alerts/evaluate': adminOnly,
  'DELETE /api/v1/monitoring/alerts/:id': adminOnly,
  'GET /api/v1/monitoring/alerts/:id/events': adminOnly,
  // Load tests send traffic on the server's behalf; the audit trail is an admin's.
  'POST /api/v1/loadtests': adminOnly,
  'GET /api/v1/loadtests': adminOnly,
  'POST /api/v1/loadtests/capacity': adminOnly,
  'GET /api/v1/audit/events': adminOnly,
  'GET /api/v1/audit/head': adminOnly,
  'GET /api/v1/audit/verify': adminOnly,
  // Serving: inference and model metadata need READ on the model; model control is an admin's.
  'POST /invocations': invocations,
  'POST /models/:model/invocations': modelParam('model', 'READ'),
  'GET /metrics': anyUser,
  'GET /v2': anyUser,
  'GET /v2/models/:model': modelParam('model', 'READ'),
  'GET /v2/models/:model/ready': modelParam('model', 'READ'),
  'POST /v2/models/:model/infer': modelParam('model', 'READ'),
  'GET /v2/models/:model/versions/:version': modelParam('model', 'READ'),
  'GET /v2/models/:model/versions/:version/ready': modelParam('model', 'READ'),
  'POST /v2/models/:model/versions/:version/infer': modelParam('model', 'READ'),
  'POST /v2/models/:model/explain': modelParam('model', 'READ'),
  'POST /v2/models/:model/versions/:version/explain': modelParam('model', 'READ'),
  'POST /v2/repository/index': adminOnly,
  'POST /v2/repository/models/:model/load': adminOnly,
  'POST /v2/repository/models/:model/unload': adminOnly,
};

const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
const PROXY_PREFIXES = ['/api/2.0', '/ajax-api/2.0'] as const;

/** The rule of one route, by method and Fastify route path; undefined when the table has no line for it. */
export function ruleOf(method: string, routePath: string): RequirementRule | undefined {
  const own = OTHERS[`${method} ${routePath}`];
  if (own) return own;
  for (const prefix of MLFLOW_PREFIXES) {
    if (routePath.startsWith(`${prefix}/`)) {
      const rule = MLFLOW[`${method} ${routePath.slice(prefix.length)}`];
      if (rule) return rule;
    }
  }
  for (const prefix of PROXY_PREFIXES) {
    if (routePath.startsWith(`${prefix}/`)) {
      const rule = ARTIFACT_PROXY[`${method} ${routePath.slice(prefix.length)}`];
      if (rule) return rule;
    }
  }
  return undefined;
}

/** True for routes anyone may call without credentials (probes, the API description). */
export function isPublicRoute(method: string, routePath: string): boolean {
  return ruleOf(method === 'HEAD' ? 'GET' : method, routePath) === publicRoute;
}

/** The requirements of a request (all must hold); a route without a line in the table needs an admin. */
export async function requirementsOf(method: string, routePath: string, parts: RequestParts, lookups: RequirementLookups): Promise<Requirement[]> {
  const rule = ruleOf(method === 'HEAD' ? 'GET' : method, routePath);
  return rule ? await rule(parts, lookups) : [ADMIN];
}

/** The V2 infer paths the node:http fast route answers, as the model each needs READ on; undefined for other paths. */
export function fastInferModel(url: string): string | undefined {
  if (!url.startsWith('/v2/models/') || !url.endsWith('/infer')) return undefined;
  const slash = url.indexOf('/', '/v2/models/'.length);
  if (slash < 0) return undefined;
  try {
    return decodeURIComponent(url.slice('/v2/models/'.length, slash));
  } catch {
    return undefined;
  }
}
