/**
 * POST /v2/models/{name}/explain (and …/versions/{v}/explain): per-feature attributions of the
 * rows of a V2 infer body, against a background drawn from the version's reference profile;
 * for text models, per-token attributions by occlusion against the empty text.
 * Registered by the serving plugin next to the inference routes, in a scope of its own that
 * answers errors as the V2 routes do (`{"error": "..."}`).
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isSlipwayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { ExplainService, type ExplainLimits } from '../../explain/index.js';
import { findReference } from '../../monitoring/reference/reference-repository.js';
import type { ModelManager } from '../../serving/model-manager.js';
import { parseJson, stringifyJson } from '../../serving/v2-protocol.js';
import type { Store } from '../../store/store.js';

/** What the explain routes need. */
export interface ExplainRoutesInit {
  manager: ModelManager;
  store: Store;
  logger: Logger;
  /** Loads a registered model that is not served yet, as its first infer request would. */
  loadOnDemand?: (name: string) => Promise<void>;
  limits?: Partial<ExplainLimits>;
}

interface Params {
  model: string;
  version?: string;
}

/** Registers the explain routes; returns the service so the caller can close its sessions on shutdown. */
export async function registerExplainRoutes(app: FastifyInstance, init: ExplainRoutesInit): Promise<ExplainService> {
  const { manager } = init;
  // Other requests that reached this server since the last look: under load there are always some,
  // even at the instants when no batch happens to be queued (1-row requests are answered in microseconds).
  let others = 0;
  let seen = 0;
  app.server?.on('request', (req: IncomingMessage) => {
    if (!req.url?.endsWith('/explain')) others++;
  });
  const othersArrived = () => {
    const arrived = others !== seen;
    seen = others;
    return arrived;
  };
  const service = new ExplainService({
    options: manager.options,
    reference: async (model, version) => (await findReference(init.store, model, version))?.profile,
    // Plain inference is busy when other requests arrived since the last chunk, or a served model's batcher holds one now.
    busy: () =>
      othersArrived() ||
      manager.index().some((s) => {
        const m = manager.current(s.name);
        return m !== undefined && m.queueDepth + m.inFlight > 0;
      }),
    ...(init.limits ? { limits: init.limits } : {}),
  });
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: manager.options.bodyLimit }, (_req, body, done) => done(null, body));
    scope.setReplySerializer((payload) => stringifyJson(payload));
    scope.setErrorHandler((err: unknown, req, reply) => {
      if (isSlipwayError(err)) {
        const retry = err.details?.retryAfterSeconds;
        if (typeof retry === 'number') reply.header('retry-after', String(retry));
        return reply.code(err.status).send({ error: err.message });
      }
      const e = err as { statusCode?: number; code?: string; message?: string };
      if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
        const message =
          e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? `The request body is larger than the limit of ${manager.options.bodyLimit} bytes.`
            : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
              ? `Unsupported content type '${req.headers['content-type'] ?? '(none)'}'; send application/json.`
              : (e.message ?? 'Bad request.');
        return reply.code(e.statusCode).send({ error: message });
      }
      init.logger.error({ err, url: req.url }, 'explain: unexpected error');
      return reply.code(500).send({ error: 'Internal error; the server log has details.' });
    });

    const explain = async (req: FastifyRequest<{ Params: Params }>) => {
      const { model: name, version } = req.params;
      if (!manager.has(name) && init.loadOnDemand) await init.loadOnDemand(name);
      const model = await manager.acquire(name, version);
      const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
      const body = raw ? parseJson(raw) : undefined;
      // A text model's texts must have been valid UTF-8: JSON decoding would hide bad bytes as U+FFFD.
      return service.explain(model, body, { bodyIsUtf8: raw === undefined || isUtf8(raw) });
    };
    scope.post('/v2/models/:model/explain', explain);
    scope.post('/v2/models/:model/versions/:version/explain', explain);
  });
  return service;
}
