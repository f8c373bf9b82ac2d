/**
 * Access control on every route. Not a domain plugin: its hooks go on the root app
 * before any plugin registers, so they run for every route of every plugin (an
 * encapsulated plugin's hooks would reach only its own routes). With access control
 * off nothing is installed and every request is the anonymous admin, as before.
 *
 * Order per request: the node:http layer sets the security headers and, for the V2
 * infer fast route, authenticates and authorizes synchronously when the credentials
 * are cached (`accessGate`); Fastify's `onRequest` authenticates (401 before any body
 * is read), `preHandler` authorizes the route's requirements with the parsed body
 * (403), and `preSerialization` trims search answers to what the caller may read and
 * gives the creator of an experiment or model MANAGE on it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSlipwayError } from '../../core/errors.js';
import { ANONYMOUS, type AccessDenied, type Principal } from '../../access/access-types.js';
import type { AuthorizationLookups, ReadableObjects } from '../../access/access-service.js';

export type { AccessEnforcer } from '../access-gate.js';
import type { ServerContext } from '../context.js';
import type { AccessEnforcer } from '../access-gate.js';
import { PRINCIPAL, clientKeyOf, isDenied, refusalHeaders, refusalBody, FORBIDDEN_MESSAGE, UNAUTHENTICATED_MESSAGE, type Marked } from '../access-gate.js';
import { isPublicRoute, requirementsOf, type RequestParts, type RequirementLookups } from '../access-requirements.js';
import { trackingOf } from '../native/services.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who makes the request; the anonymous admin while access control is off. */
    principal?: Principal;
  }
}

function refuse(request: FastifyRequest, reply: FastifyReply, status: 401 | 403, message: string, retryAfterSeconds?: number): FastifyReply {
  const headers = refusalHeaders(status, !request.raw.complete, retryAfterSeconds, request.headers['x-requested-with'] !== 'XMLHttpRequest');
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).send(refusalBody(request.url, status, message));
}

// The MLflow and monitoring routes read `request.actor` for their audit events; mutationOf reads the principal.
function setPrincipal(request: FastifyRequest, principal: Principal): void {
  request.principal = principal;
  if (principal.via !== 'anonymous') (request as FastifyRequest & { actor?: string }).actor = principal.username;
}

/** How many runs' experiment ids the access checks remember. */
const RUN_EXPERIMENT_ENTRIES = 10_000;

/** The server-side names the requirement table and the access domain resolve. */
function lookupsOf(ctx: ServerContext): RequirementLookups & AuthorizationLookups {
  // A run never changes experiment, so its experiment id is remembered: every log-batch of a run
  // otherwise paid a store read (the whole run, before) on top of its own writes.
  const experimentOfRun = new Map<string, string>();
  return {
    async experimentOfRun(runId) {
      const known = experimentOfRun.get(runId);
      if (known !== undefined) return known;
        // A store fault propagates (a 5xx), never an unknown run that authorize would let through.
        const row = await ctx.store.db.selectFrom('runs').select('experiment_id').where('run_uuid', '=', runId).executeTakeFirst();
        if (!row) return undefined;
        const id = String(row.experiment_id);
        if (experimentOfRun.size >= RUN_EXPERIMENT_ENTRIES) experimentOfRun.delete(experimentOfRun.keys().next().value as string);
        experimentOfRun.set(runId, id);
        return id;
    },
    async experimentIdByName(name) {
      try {
        return (await trackingOf(ctx).getExperimentByName(name)).experimentId;
      } catch (err) {
        // Only "no such experiment" means the route answers its own 404; a store fault must not let a request through.
        if (isSlipwayError(err) && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
    },
    async releaseTarget(id) {
      const row = await ctx.store.db.selectFrom('releases').select(['model_name', 'environment']).where('id', '=', id).executeTakeFirst();
      return row ? { model: row.model_name, environment: row.environment } : undefined;
    },
    servedModelNames: () => ctx.servedModelNames?.() ?? [],
  };
}

function readableSet(x: ReadableObjects): (id: string) => boolean {
  if (x === 'all') return () => true;
  if (Array.isArray(x)) {
    const set = new Set(x);
    return (id) => set.has(id);
  }
  const except = new Set((x as { except: string[] }).except);
  return (id) => !except.has(id);
}

type Filter = (payload: Record<string, unknown>, principal: Principal, access: AccessEnforcer) => Promise<void>;

const byExperiment =
  (key: string, idOf: (item: Record<string, unknown>) => unknown): Filter =>
  async (payload, principal, access) => {
    const list = payload[key];
    if (!Array.isArray(list)) return;
    const readable = await access.readableExperimentIds(principal);
    if (readable === 'all') return;
    const may = readableSet(readable);
    payload[key] = list.filter((item: Record<string, unknown>) => may(String(idOf(item))));
  };
const byModel =
  (key: string, nameOf: (item: Record<string, unknown>) => unknown): Filter =>
  async (payload, principal, access) => {
    const list = payload[key];
    if (!Array.isArray(list)) return;
    const readable = await access.readableModelNames(principal);
    if (readable === 'all') return;
    const may = readableSet(readable);
    payload[key] = list.filter((item: Record<string, unknown>) => may(String(nameOf(item))));
  };

const runInfo = (r: Record<string, unknown>) => (r.info as Record<string, unknown> | undefined)?.experiment_id;
/** Search and list answers trimmed to what the caller may read (after the page was cut: a page may come back shorter). */
const SEARCH_FILTERS: Record<string, Filter> = {
  'experiments/search': byExperiment('experiments', (e) => e.experiment_id),
  'runs/search': byExperiment('runs', runInfo),
  'registered-models/search': byModel('registered_models', (m) => m.name),
  'model-versions/search': byModel('model_versions', (v) => v.name),
};
const NATIVE_FILTERS: Record<string, Filter> = {
  'GET /api/v1/experiments': byExperiment('experiments', (e) => e.experimentId),
  'POST /api/v1/runs/search': byExperiment('runs', (r) => r.experimentId ?? (r.info as Record<string, unknown> | undefined)?.experimentId),
  'GET /api/v1/models': byModel('models', (m) => m.name),
  'GET /api/v1/releases': byModel('releases', (r) => r.model),
};

function filterOf(method: string, routePath: string): Filter | undefined {
  const native = NATIVE_FILTERS[`${method} ${routePath}`];
  if (native) return native;
  for (const prefix of ['/api/2.0/mlflow/', '/ajax-api/2.0/mlflow/']) {
    if (routePath.startsWith(prefix)) return SEARCH_FILTERS[routePath.slice(prefix.length)];
  }
  return undefined;
}

/** What was created, for grantCreator: an experiment id or a model name from the answer. */
function createdBy(method: string, routePath: string, payload: Record<string, unknown>): { kind: 'experiment' | 'registered_model'; id: string } | undefined {
  if (method !== 'POST') return undefined;
  const suffix = routePath.replace(/^\/(ajax-)?api\/2\.0\/mlflow/, '');
  if (suffix === '/experiments/create' && payload.experiment_id !== undefined) return { kind: 'experiment', id: String(payload.experiment_id) };
  if (suffix === '/registered-models/create') {
    const name = (payload.registered_model as Record<string, unknown> | undefined)?.name;
    return typeof name === 'string' ? { kind: 'registered_model', id: name } : undefined;
  }
  if (routePath === '/api/v1/experiments' && payload.experimentId !== undefined) return { kind: 'experiment', id: String(payload.experimentId) };
  if (routePath === '/api/v1/models' && typeof payload.name === 'string') return { kind: 'registered_model', id: payload.name };
  return undefined;
}

/** A registered model a successful request renamed or deleted: its grants follow the rename, or go with the model. */
function modelChangedBy(request: FastifyRequest): { from: string; to?: string } | undefined {
  const routePath = request.routeOptions.url ?? '';
  if (request.method === 'DELETE' && routePath === '/api/v1/models/:name') return { from: (request.params as { name: string }).name };
  const suffix = routePath.replace(/^\/(ajax-)?api\/2\.0\/mlflow/, '');
  if (suffix !== '/registered-models/rename' && suffix !== '/registered-models/delete') return undefined;
  // MLflow's routes take their fields from the body, or the query string on a body-less call.
  const fields = { ...(request.query as Record<string, unknown> | undefined), ...(request.body !== null && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {}) };
  if (typeof fields.name !== 'string') return undefined;
  if (suffix === '/registered-models/delete') return { from: fields.name };
  return typeof fields.new_name === 'string' ? { from: fields.name, to: fields.new_name } : undefined;
}

/**
 * Installs access control on the root app (before the domain plugins register). With
 * `ctx.access` unset (access control off) it installs nothing.
 */
export function installAccessControl(app: FastifyInstance, ctx: ServerContext): void {
  const access = ctx.access;
  if (!access) return;
  const lookups = lookupsOf(ctx);

  app.addHook('onRequest', async (request, reply) => {
    const marked = (request.raw as Marked)[PRINCIPAL];
    if (marked) {
      setPrincipal(request, marked);
      return;
    }
    let who: Principal | AccessDenied;
    try {
      who = await access.authenticate(request.headers.authorization, clientKeyOf(request.raw));
    } catch (err) {
      ctx.logger.error({ err, reqId: request.id }, 'authentication failed');
      return refuse(request, reply, 401, UNAUTHENTICATED_MESSAGE);
    }
    if (isDenied(who)) {
      // Without credentials a public route still answers; wrong credentials are refused everywhere, so a typo shows at once.
      if (request.headers.authorization === undefined && isPublicRoute(request.method, request.routeOptions.url ?? '')) return;
      return refuse(request, reply, who.status, who.message || UNAUTHENTICATED_MESSAGE, who.retryAfterSeconds);
    }
    setPrincipal(request, who);
  });

  app.addHook('preHandler', async (request, reply) => {
    const parts: RequestParts = {
      params: (request.params ?? {}) as Record<string, string | undefined>,
      query: (request.query ?? {}) as Record<string, unknown>,
      body: request.body,
    };
    const requirements = await requirementsOf(request.method, request.routeOptions.url ?? '', parts, lookups);
    if (requirements.every((r) => r.kind === 'public')) return;
    const principal = request.principal;
    if (!principal) return refuse(request, reply, 401, UNAUTHENTICATED_MESSAGE);
    for (const requirement of requirements) {
      const verdict = await access.authorize(principal, requirement, lookups);
      if (verdict !== true) return refuse(request, reply, isDenied(verdict) ? verdict.status : 403, isDenied(verdict) ? verdict.message : FORBIDDEN_MESSAGE);
    }
  });

  app.addHook('preSerialization', async (request, reply, payload) => {
    const principal = request.principal;
    if (!principal || reply.statusCode >= 300 || payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
    const routePath = request.routeOptions.url ?? '';
    const body = payload as Record<string, unknown>;
    const created = createdBy(request.method, routePath, body);
    // The object exists once its handler answered: a failed grant is logged, never turned into a 500 for it.
    if (created) await access.grantCreator(principal, created.kind, created.id, { requestId: request.id }).catch((err: unknown) => ctx.logger.error({ err, ...created }, 'access: granting the creator MANAGE failed'));
    const filter = filterOf(request.method, routePath);
    if (filter && !principal.isAdmin) await filter(body, principal, access);
    return payload;
  });

  // Before the answer leaves (so the caller's next request sees the move), on every payload, a 204 delete's too: a model's
  // grants must not outlive it or stay behind its old name, where the next model of that name would inherit them.
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode >= 300 || (request.method !== 'DELETE' && request.method !== 'POST')) return payload;
    const change = modelChangedBy(request);
    if (!change) return payload;
    const meta = { requestId: request.id, ...(request.principal && request.principal.via !== 'anonymous' ? { actor: request.principal.username } : {}) };
    try {
      await (change.to !== undefined ? access.renameModel(change.from, change.to, meta) : access.forgetObject('registered_model', change.from, meta));
    } catch (err) {
      ctx.logger.error({ err, model: change.from }, 'access: moving the grants of a renamed or deleted model failed');
    }
    return payload;
  });
}

/** The principal of a request: the authenticated one, or the anonymous admin while access control is off. */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? ANONYMOUS;
}
