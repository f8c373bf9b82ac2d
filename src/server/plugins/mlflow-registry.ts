/**
 * MLflow's ModelRegistryService over REST (registered-models/* and model-versions/*)
 * under /api/2.0/mlflow and /ajax-api/2.0/mlflow, as the official client calls it:
 * GET fields in the query string, POST/PATCH/DELETE fields in a JSON body, responses
 * shaped as MLflow's protos. Errors are thrown as SlipwayError; the server's error
 * handler writes them as MLflow `{"error_code", "message"}` bodies.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SlipwayError, errors } from '../../core/errors.js';
import { RegistryModelSource, type RegistryChangeFeed } from '../../registry/registry-model-source.js';
import { toMlflowModelVersion, toMlflowRegisteredModel } from '../../registry/registry-mlflow-wire.js';
import { RegistryService } from '../../registry/registry-service.js';
import type { MutationContext } from '../../registry/registry-types.js';
import type { DomainPlugin } from '../app.js';
import type { ServerContext } from '../context.js';
import { REGISTRY_CHANNEL } from '../../store/change-feed.js';
import type { PostgresChangeListener } from '../../store/postgres/postgres-change-listener.js';
import type { ServerCluster } from '../cluster/server-cluster.js';

/** The prefixes the MLflow client and MLflow's web UI use. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

/** How often serving hears of alias and stage moves made by another process (the CLI), in ms. */
const ALIAS_POLL_MS = 2000;

type Fields = Record<string, unknown>;

/** The request's fields: the query string for GET, the JSON body otherwise. */
function fieldsOf(request: FastifyRequest): Fields {
  const raw = request.method === 'GET' ? request.query : request.body;
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new SlipwayError('MALFORMED_REQUEST', 'The request body must be a JSON object.');
  return raw as Fields;
}

function optionalString(f: Fields, field: string): string | undefined {
  const v = f[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw errors.invalid(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: it must be a string.`, { field });
  return v;
}

function requiredString(f: Fields, field: string): string {
  const v = optionalString(f, field);
  if (v === undefined || v === '') throw errors.missing(field);
  return v;
}

// A version arrives as "3" in JSON and query strings; a bare number is accepted too.
function requiredVersion(f: Fields): string {
  const v = f.version;
  if (typeof v === 'number') return String(v);
  return requiredString(f, 'version');
}

/** Repeated query keys arrive as arrays, a single one as a string. */
function stringList(f: Fields, field: string): string[] | undefined {
  const v = f[field];
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'string')) throw errors.invalid(`Parameter '${field}' must be a list of strings.`, { field });
  return list as string[];
}

function tagsOf(f: Fields): Record<string, string> | undefined {
  const v = f.tags;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw errors.invalid("Parameter 'tags' must be a list of {key, value} objects.", { field: 'tags' });
  const out: Record<string, string> = {};
  for (const t of v as unknown[]) {
    if (typeof t !== 'object' || t === null) throw errors.invalid("Parameter 'tags' must be a list of {key, value} objects.", { field: 'tags' });
    const { key, value } = t as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || key === '') throw errors.invalid('Every tag needs a non-empty string key.', { field: 'tags' });
    if (value !== undefined && value !== null && typeof value !== 'string') throw errors.invalid(`Tag '${key}' must have a string value.`, { field: 'tags' });
    out[key] = (value as string | undefined) ?? '';
  }
  return out;
}

function maxResultsOf(f: Fields): number | undefined {
  const v = f.max_results;
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  throw errors.invalid(`Invalid value '${String(v)}' for parameter 'max_results': it must be an integer.`, { field: 'max_results' });
}

/** The filter, paging and order fields every registry search takes. */
function searchQueryOf(f: Fields): { filter: string | undefined; maxResults: number | undefined; orderBy: string[] | undefined; pageToken: string | undefined } {
  return { filter: optionalString(f, 'filter'), maxResults: maxResultsOf(f), orderBy: stringList(f, 'order_by'), pageToken: optionalString(f, 'page_token') };
}

/** A search response as protobuf JSON writes it: empty lists and tokens are left out. */
function pageBody(key: string, items: unknown[], nextPageToken: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (items.length > 0) out[key] = items;
  if (nextPageToken) out.next_page_token = nextPageToken;
  return out;
}

function mutationOf(request: FastifyRequest): MutationContext {
  const actor = (request as FastifyRequest & { actor?: unknown }).actor;
  return typeof actor === 'string' ? { actor, requestId: request.id } : { requestId: request.id };
}

type Handler = (f: Fields, request: FastifyRequest) => Promise<Record<string, unknown>>;

function routesOf(registry: RegistryService, server: ServerContext): Array<{ method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; handler: Handler }> {
  const model = async (name: string) => ({ registered_model: toMlflowRegisteredModel(await registry.getRegisteredModel(name)) });
  return [
    {
      method: 'POST',
      path: '/registered-models/create',
      handler: async (f, r) => ({
        registered_model: toMlflowRegisteredModel(
          await registry.createRegisteredModel({ name: requiredString(f, 'name'), description: optionalString(f, 'description'), tags: tagsOf(f) }, mutationOf(r)),
        ),
      }),
    },
    {
      method: 'POST',
      path: '/registered-models/rename',
      handler: async (f, r) => ({
        registered_model: toMlflowRegisteredModel(await registry.renameRegisteredModel(requiredString(f, 'name'), requiredString(f, 'new_name'), mutationOf(r))),
      }),
    },
    {
      method: 'PATCH',
      path: '/registered-models/update',
      handler: async (f, r) => ({
        registered_model: toMlflowRegisteredModel(await registry.updateRegisteredModel(requiredString(f, 'name'), { description: optionalString(f, 'description') }, mutationOf(r))),
      }),
    },
    {
      method: 'DELETE',
      path: '/registered-models/delete',
      handler: async (f, r) => (await registry.deleteRegisteredModel(requiredString(f, 'name'), mutationOf(r)), {}),
    },
    { method: 'GET', path: '/registered-models/get', handler: async (f) => model(requiredString(f, 'name')) },
    {
      method: 'GET',
      path: '/registered-models/search',
      handler: async (f) => {
        const page = await registry.searchRegisteredModels(searchQueryOf(f));
        return pageBody('registered_models', page.items.map(toMlflowRegisteredModel), page.nextPageToken);
      },
    },
    ...(['POST', 'GET'] as const).map((method) => ({
      method,
      path: '/registered-models/get-latest-versions',
      handler: (async (f) => {
        const versions = await registry.getLatestVersions(requiredString(f, 'name'), stringList(f, 'stages'));
        return versions.length > 0 ? { model_versions: versions.map(toMlflowModelVersion) } : {};
      }) as Handler,
    })),
    {
      method: 'POST',
      path: '/registered-models/set-tag',
      handler: async (f, r) => (await registry.setRegisteredModelTag(requiredString(f, 'name'), requiredString(f, 'key'), optionalString(f, 'value') ?? '', mutationOf(r)), {}),
    },
    {
      method: 'DELETE',
      path: '/registered-models/delete-tag',
      handler: async (f, r) => (await registry.deleteRegisteredModelTag(requiredString(f, 'name'), requiredString(f, 'key'), mutationOf(r)), {}),
    },
    {
      method: 'POST',
      path: '/registered-models/alias',
      handler: async (f, r) => (await registry.setAlias(requiredString(f, 'name'), requiredString(f, 'alias'), requiredVersion(f), mutationOf(r)), {}),
    },
    {
      method: 'DELETE',
      path: '/registered-models/alias',
      handler: async (f, r) => (await registry.deleteAlias(requiredString(f, 'name'), requiredString(f, 'alias'), mutationOf(r)), {}),
    },
    {
      method: 'GET',
      path: '/registered-models/alias',
      handler: async (f) => ({ model_version: toMlflowModelVersion(await registry.getVersionByAlias(requiredString(f, 'name'), requiredString(f, 'alias'))) }),
    },
    {
      method: 'POST',
      path: '/model-versions/create',
      handler: async (f, r) => {
        const ctx = mutationOf(r);
        const name = requiredString(f, 'name');
        const source = requiredString(f, 'source');
        const runId = optionalString(f, 'run_id') || undefined;
        // MLflow's server checks a local source against the run before anything else (its _validate_source). Runs keep
        // their artifacts in the folder of a file:// default artifact root: there its run rule alone decides.
        const folder = server.config.defaultArtifactRootFolder;
        await registry.checkMlflowSource(source, runId, folder === undefined ? [] : [folder]);
        const version = await registry.createModelVersion(
          {
            name,
            source,
            runId,
            runLink: optionalString(f, 'run_link') || undefined,
            description: optionalString(f, 'description'),
            tags: tagsOf(f),
            userId: ctx.actor,
          },
          ctx,
        );
        return { model_version: toMlflowModelVersion(version) };
      },
    },
    {
      method: 'PATCH',
      path: '/model-versions/update',
      handler: async (f, r) => ({
        model_version: toMlflowModelVersion(
          await registry.updateModelVersion(requiredString(f, 'name'), requiredVersion(f), { description: optionalString(f, 'description') }, mutationOf(r)),
        ),
      }),
    },
    {
      method: 'POST',
      path: '/model-versions/transition-stage',
      handler: async (f, r) => {
        const archive = f.archive_existing_versions;
        if (archive === undefined || archive === null) throw errors.missing('archive_existing_versions');
        if (typeof archive !== 'boolean') throw errors.invalid("Parameter 'archive_existing_versions' must be a boolean.", { field: 'archive_existing_versions' });
        const v = await registry.transitionStage(requiredString(f, 'name'), requiredVersion(f), requiredString(f, 'stage'), archive, mutationOf(r));
        return { model_version: toMlflowModelVersion(v) };
      },
    },
    {
      method: 'DELETE',
      path: '/model-versions/delete',
      handler: async (f, r) => (await registry.deleteModelVersion(requiredString(f, 'name'), requiredVersion(f), mutationOf(r)), {}),
    },
    {
      method: 'GET',
      path: '/model-versions/get',
      handler: async (f) => ({ model_version: toMlflowModelVersion(await registry.getModelVersion(requiredString(f, 'name'), requiredVersion(f))) }),
    },
    {
      method: 'GET',
      path: '/model-versions/search',
      handler: async (f) => {
        const page = await registry.searchModelVersions(searchQueryOf(f));
        return pageBody('model_versions', page.items.map(toMlflowModelVersion), page.nextPageToken);
      },
    },
    {
      method: 'GET',
      path: '/model-versions/get-download-uri',
      handler: async (f) => ({ artifact_uri: await registry.getDownloadUri(requiredString(f, 'name'), requiredVersion(f)) }),
    },
    {
      method: 'POST',
      path: '/model-versions/set-tag',
      handler: async (f, r) => (await registry.setModelVersionTag(requiredString(f, 'name'), requiredVersion(f), requiredString(f, 'key'), optionalString(f, 'value') ?? '', mutationOf(r)), {}),
    },
    {
      method: 'DELETE',
      path: '/model-versions/delete-tag',
      handler: async (f, r) => (await registry.deleteModelVersionTag(requiredString(f, 'name'), requiredVersion(f), requiredString(f, 'key'), mutationOf(r)), {}),
    },
  ];
}

/** The cluster topic on which a worker tells the others which model's registry entries it changed. */
const REGISTRY_TOPIC = 'registry.change';

/** Registry changes made by the other workers of this server, as a change feed. */
function clusterRegistryFeed(cluster: ServerCluster): RegistryChangeFeed {
  return { subscribe: (listener) => cluster.subscribe(REGISTRY_TOPIC, (name) => listener(typeof name === 'string' ? name : undefined)) };
}

/** The registry the server shares across plugins, opened on first need. */
export function sharedRegistry(ctx: ServerContext): RegistryService {
  ctx.registry ??= new RegistryService({ store: ctx.store, artifacts: ctx.artifacts, modelSourceAllowedDirs: ctx.config.modelSourceAllowedDirs, clock: ctx.clock, logger: ctx.logger });
  return ctx.registry;
}

const mlflowRegistry: DomainPlugin = async (app: FastifyInstance, ctx: ServerContext) => {
  const registry = sharedRegistry(ctx);
  if (!ctx.modelSource) {
    // On PostgreSQL, replicas hear of each other's registry changes at once (LISTEN); polling stays as the fallback.
    let changes: PostgresChangeListener | undefined;
    if (ctx.store.dialect === 'postgres' && ctx.store.pool && !ctx.embedded) {
      const { PostgresChangeListener } = await import('../../store/postgres/postgres-change-listener.js');
      changes = new PostgresChangeListener(ctx.store.pool.options, REGISTRY_CHANNEL, ctx.logger);
    }
    // The workers of one server tell each other of their registry changes (PostgreSQL's notices reach them anyway).
    const cluster = ctx.cluster;
    const clusterFeed = cluster && !changes ? clusterRegistryFeed(cluster) : undefined;
    const unpublish = cluster && !changes ? registry.onChange((name) => cluster.publish(REGISTRY_TOPIC, name)) : undefined;
    const feed = changes ?? clusterFeed;
    const source = new RegistryModelSource(registry, { pollIntervalMs: ALIAS_POLL_MS, ...(feed ? { changes: feed } : {}) });
    ctx.modelSource = source;
    ctx.onClose.push(async () => {
      unpublish?.();
      source.close();
      await changes?.close();
    });
    app.addHook('onClose', async () => changes?.close());
  }
  for (const prefix of MLFLOW_PREFIXES) {
    for (const route of routesOf(registry, ctx)) {
      app.route({
        method: route.method,
        url: `${prefix}${route.path}`,
        handler: async (request) => route.handler(fieldsOf(request), request),
      });
    }
  }
};

export default mlflowRegistry;
