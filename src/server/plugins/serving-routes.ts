/**
 * The inference HTTP face, shared by `slipway server` and `slipway serve`: Open
 * Inference Protocol (V2) routes, MLflow scoring routes and GET /metrics, in one
 * encapsulated scope with its own body parsers and error handler, so V2 errors are
 * `{"error": "..."}` and MLflow errors `{"error_code", "message"}` whatever the
 * rest of the app does. Plain JSON V2 infer requests also have a fast route that
 * answers them from node:http directly (see ../http-server.ts); both share `inferV2`
 * and the error mapping, so they answer alike.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { SlipwayError, isSlipwayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { InferenceService } from '../../serving/inference-service.js';
import type { ModelManager } from '../../serving/model-manager.js';
import { csvText, decodeMlflowCsv, decodeMlflowJson, encodePredictions } from '../../serving/mlflow-protocol.js';
import { decodeV2Body, decodeV2Request, encodeV2Response, jsonData, parseJson, splitBinaryBody, stringifyJson, v2ResponseText, type V2Request, type V2Response } from '../../serving/v2-protocol.js';
import type { InferenceOutcome } from '../../serving/inference-service.js';
import type { FastRoutes } from '../http-server.js';
import { requestIdFor } from '../request-id.js';

const VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** What the routes need. */
export interface ServingRoutesInit {
  manager: ModelManager;
  service: InferenceService;
  registry: Registry;
  logger: Logger;
  /** Loads a model that is registered but not yet served, on its first request (the main server). */
  loadOnDemand?: (name: string) => Promise<void>;
  /** True while shutting down: readiness turns false. */
  isClosing?: () => boolean;
  /** True while the models the server was started with are still being listed or loaded: readiness waits. */
  isStarting?: () => boolean;
  /** `explicit` lets the repository API load and unload models (Triton's --model-control-mode=explicit); `none` refuses it. */
  modelControl: 'none' | 'explicit';
  /** Records a repository change (a model loaded or unloaded through the API) in the audit trail. */
  audit?: (req: FastifyRequest, event: { action: 'serving.load' | 'serving.unload'; model: string; change: Record<string, unknown> }) => Promise<void>;
  /** The request id when no V2 `id` is given (default: a sane x-request-id header, else a new UUID). */
  requestId?: (req: FastifyRequest) => string;
  /** Where to register the V2 JSON infer fast route; without it every request goes through Fastify. */
  fastRoutes?: FastRoutes;
  /** The text of GET /metrics when it is not this registry's alone (a cluster's workers summed). */
  metricsText?: () => Promise<string>;
  /** Whether the other processes that answer on this port are ready too (a cluster's workers). */
  othersReady?: () => Promise<boolean>;
}

type Protocol = 'v2' | 'mlflow' | 'plain';

declare module 'fastify' {
  interface FastifyContextConfig {
    protocol?: Protocol;
  }
}

interface ModelParams {
  model: string;
  version?: string;
}

/** Registers the inference routes on `app` inside their own encapsulated scope. */
export async function registerServingRoutes(app: FastifyInstance, init: ServingRoutesInit): Promise<void> {
  const { manager, service } = init;
  const options = manager.options;
  const policy = options.nonFinite;

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    const raw = (_req: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void) => done(null, body);
    scope.addContentTypeParser(['application/json', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: options.bodyLimit }, raw);
    // CSV arrives as bytes so that bytes which are not UTF-8 are a 400 naming their line and column, not U+FFFD.
    scope.addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (_req: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void) => {
      try {
        done(null, typeof body === 'string' ? body : csvText(body));
      } catch (err) {
        done(err as Error);
      }
    });
    scope.setErrorHandler((err: unknown, req, reply) => sendError(err, req, reply, init.logger, options.bodyLimit));
    // INT64/UINT64 outputs beyond ±2^53 are written digit for digit, not rounded to a double.
    scope.setReplySerializer((payload) => stringifyJson(payload));

    const v2 = { config: { protocol: 'v2' as Protocol } };
    const mlflow = { config: { protocol: 'mlflow' as Protocol } };

    const model = async (name: string, version?: string) => {
      if (!manager.has(name) && init.loadOnDemand) await init.loadOnDemand(name);
      return manager.acquire(name, version);
    };

    // --- Open Inference Protocol ---
    scope.get('/v2/health/live', v2, async () => ({ live: true }));
    scope.get('/v2/health/ready', v2, async (_req, reply) => {
      // Only the models the server was started with count: an ad-hoc load that fails must not take a replica out of its load balancer.
      const ready = !init.isClosing?.() && !init.isStarting?.() && manager.requiredReady() && (init.othersReady ? await init.othersReady() : true);
      return reply.code(ready ? 200 : 503).send({ ready });
    });
    scope.get('/v2', v2, async () => ({ name: 'slipway', version: VERSION, extensions: ['binary_tensor_data', 'model_repository'] }));

    const metadata = async (req: FastifyRequest<{ Params: ModelParams }>) => {
      const m = await model(req.params.model, req.params.version);
      return {
        name: m.name,
        versions: [m.version],
        platform: 'onnx_onnxv1',
        inputs: m.signature.inputs,
        outputs: m.signature.outputs,
        // Outputs onnxruntime-node cannot return (sequences, maps) are named, so a client knows why they are missing.
        ...(m.columns || m.signature.nonTensorOutputs
          ? { parameters: { ...(m.columns ? { columns: m.columns } : {}), ...(m.signature.nonTensorOutputs ? { non_tensor_outputs: m.signature.nonTensorOutputs } : {}) } }
          : {}),
      };
    };
    scope.get('/v2/models/:model', v2, metadata);
    scope.get('/v2/models/:model/versions/:version', v2, metadata);

    const ready = async (req: FastifyRequest<{ Params: ModelParams }>) => {
      const m = await model(req.params.model, req.params.version);
      return { name: m.name, version: m.version, ready: true };
    };
    scope.get('/v2/models/:model/ready', v2, ready);
    scope.get('/v2/models/:model/versions/:version/ready', v2, ready);

    /** One V2 infer: decodes `body` (a JSON document, or a JSON header plus binary tensors) and runs it. */
    const inferV2 = (name: string, version: string | undefined, headers: IncomingHttpHeaders, body: () => Buffer, fallbackId: string): Promise<{ requestId: string; out: InferenceOutcome<V2Request> }> => {
      const headerLength = headers['inference-header-content-length'];
      const run = () =>
        service
          .infer({
            model: name,
            ...(version !== undefined ? { version } : {}),
            protocol: 'v2',
            requestId: fallbackId,
            ...deadlineOf(headers),
            ...routingOf(service, name, headers),
            // Parsing happens only once the model has room, so shed requests cost next to nothing.
            decode: (m) => {
              if (typeof headerLength === 'string') {
                const { header, binary } = splitBinaryBody(body(), headerLength);
                return decodeV2Request(header, m.signature, policy, binary);
              }
              return decodeV2Body(body(), m.signature, policy);
            },
          })
          .then((out) => {
            // The V2 `id` is free text; only a short printable one can travel as a header (the body always carries it).
            const id = out.decoded.id;
            const requestId = id !== undefined && id.length <= 200 && /^[\x20-\x7e]+$/.test(id) ? id : fallbackId;
            return { requestId, out };
          });
      // Promise callbacks rather than async/await: one promise and one microtask less per request.
      try {
        return !manager.has(name) && init.loadOnDemand ? init.loadOnDemand(name).then(run) : run();
      } catch (err) {
        // A malformed deadline header.
        return Promise.reject(err as Error);
      }
    };

    const infer = async (req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
      const fallbackId = init.requestId ? init.requestId(req) : requestIdFor(req.raw);
      const { requestId, out } = await inferV2(req.params.model, req.params.version, req.headers, () => bodyBuffer(req), fallbackId);
      const response = encodeV2Response(out.model, out.decoded, out.outputs);
      reply.header('x-request-id', requestId);
      if (!response.binary) return reply.send(response.json);
      const { head, payload } = binaryPayload(response);
      return reply.header('inference-header-content-length', head).type('application/octet-stream').send(payload);
    };
    // The same infer, answered from node:http for JSON requests and binary tensor requests with a
    // known body length within the limit and a simple path; anything else falls through to the route above.
    init.fastRoutes?.add((req, res) => {
      if (req.method !== 'POST' || init.isClosing?.()) return false;
      const target = inferTarget(req.url as string);
      const headers = req.headers;
      if (!target || !isInferContentType(headers['content-type'])) return false;
      const length = headers['content-length'];
      if (length === undefined || !/^\d{1,10}$/.test(length) || Number(length) > options.bodyLimit) return false;
      const fallbackId = requestIdFor(req);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      // An aborted upload has nobody left to answer.
      req.on('error', () => {});
      req.on('end', () => {
        const body = () => (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
        inferV2(target.model, target.version, headers, body, fallbackId).then(
          ({ requestId, out }) => {
            const sent: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId };
            if (init.isClosing?.()) sent.connection = 'close';
            const text = v2ResponseText(out.model, out.decoded, out.outputs);
            if (text !== undefined) return writeRaw(res, 200, sent, text);
            const response = encodeV2Response(out.model, out.decoded, out.outputs);
            if (!response.binary) return writeRaw(res, 200, sent, stringifyJson(response.json));
            const { head, payload } = binaryPayload(response);
            sent['content-type'] = 'application/octet-stream';
            sent['inference-header-content-length'] = head;
            writeRaw(res, 200, sent, payload);
          },
          (err: unknown) => {
            const a = errorAnswer(err, headers['content-type'], req.url as string, init.logger, options.bodyLimit);
            const sent: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'x-request-id': fallbackId };
            if (a.retryAfterSeconds !== undefined) sent['retry-after'] = String(a.retryAfterSeconds);
            if (init.isClosing?.()) sent.connection = 'close';
            writeRaw(res, a.status, sent, JSON.stringify({ error: a.message }));
          },
        ).catch((err: unknown) => {
          // Only a failure while writing the answer lands here; the connection cannot be trusted after it.
          init.logger.error({ err, url: req.url }, 'serving: writing a response failed');
          if (!res.headersSent) writeRaw(res, 500, { 'content-type': 'application/json; charset=utf-8' }, '{"error":"Internal error; the server log has details."}');
          else res.destroy();
        });
      });
      return true;
    });
    scope.post('/v2/models/:model/infer', v2, infer);
    scope.post('/v2/models/:model/versions/:version/infer', v2, infer);

    // --- Model repository extension ---
    scope.post('/v2/repository/index', v2, async (req) => {
      const body = optionalJson(req);
      const onlyReady = body.ready === true;
      return manager
        .index()
        .filter((m) => !onlyReady || m.state === 'READY')
        .map((m) => ({ name: m.name, ...(m.version !== undefined ? { version: m.version } : {}), state: m.state, reason: m.reason }));
    });
    // 403 rather than 404: the route exists and the refusal is final until the operator restarts with the flag; Triton
    // clients raise the body's "error" text for any non-2xx answer, and a 503 would invite pointless retries.
    const requireModelControl = () => {
      if (init.modelControl !== 'explicit') {
        throw new SlipwayError(
          'MODEL_CONTROL_DISABLED',
          'Loading and unloading models through the repository API is off on this server; start it with --model-control explicit (SLIPWAY_MODEL_CONTROL=explicit, server.modelControl in slipway.yaml) to allow it.',
        );
      }
    };
    scope.post('/v2/repository/models/:model/load', v2, async (req: FastifyRequest<{ Params: ModelParams }>) => {
      requireModelControl();
      const params = optionalJson(req).parameters;
      if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) throw new SlipwayError('INVALID_ARGUMENT', '"parameters" must be an object.');
      const p = (params ?? {}) as Record<string, unknown>;
      for (const k of ['uri', 'version'] as const) {
        if (p[k] !== undefined && typeof p[k] !== 'string') throw new SlipwayError('INVALID_ARGUMENT', `parameters.${k} must be a string.`);
      }
      // Only registry references and .onnx files: anything else would make the server probe arbitrary paths (or its own folder).
      if (typeof p.uri === 'string' && !p.uri.startsWith('models:/') && (!/\.onnx$/i.test(p.uri) || p.uri.includes('://'))) {
        throw new SlipwayError('INVALID_ARGUMENT', `parameters.uri must be models:/NAME@ALIAS, models:/NAME/VERSION or the path of an .onnx file, got '${p.uri}'.`);
      }
      const name = req.params.model;
      const uri = (p.uri as string | undefined) ?? (p.version !== undefined ? `models:/${encodeURIComponent(name)}/${encodeURIComponent(p.version as string)}` : undefined);
      const status = await manager.load(name, uri);
      if (status.reason !== '') throw new SlipwayError(status.errorCode === 'MODEL_SOURCE_NOT_ALLOWED' ? status.errorCode : 'INVALID_ARGUMENT', `Model '${name}': ${status.reason}`);
      await init.audit?.(req, { action: 'serving.load', model: name, change: { version: status.version, uri: status.uri } });
      return { name, version: status.version, state: status.state };
    });
    scope.post('/v2/repository/models/:model/unload', v2, async (req: FastifyRequest<{ Params: ModelParams }>) => {
      requireModelControl();
      await manager.unload(req.params.model);
      await init.audit?.(req, { action: 'serving.unload', model: req.params.model, change: {} });
      return {};
    });

    // --- MLflow scoring protocol ---
    const invocations = async (name: string, req: FastifyRequest) => {
      const body = req.body;
      const requestId = init.requestId ? init.requestId(req) : requestIdFor(req.raw);
      if (!manager.has(name) && init.loadOnDemand) await init.loadOnDemand(name);
      const out = await service.infer({
        model: name,
        protocol: 'mlflow',
        requestId,
        ...deadlineOf(req.headers),
        ...routingOf(service, name, req.headers),
        decode: (m) => {
          const view = { signature: m.signature, columns: m.columns };
          if (typeof body === 'string') return decodeMlflowCsv(body, view, policy);
          return decodeMlflowJson(parseJson(bodyBuffer(req)), view, policy);
        },
      });
      return { predictions: encodePredictions(out.model.signature, out.outputs, jsonData) };
    };
    scope.post('/invocations', mlflow, async (req) => {
      const names = manager.readyNames();
      if (names.length !== 1) {
        // Nothing loading either: no model is configured here, which waiting will not change.
        if (names.length === 0 && manager.index().length === 0) {
          throw new SlipwayError(
            'NOT_FOUND',
            'No model is served here. Register one (slipway models register FILE --name NAME --alias champion) and POST to /models/<name>/invocations, or run slipway serve MODEL for a server whose /invocations scores it.',
          );
        }
        throw names.length === 0
          ? new SlipwayError('MODEL_NOT_READY', 'No model is ready to serve.')
          : new SlipwayError('INVALID_ARGUMENT', `${names.length} models are served here; POST to /models/<name>/invocations (one of ${names.join(', ')}).`);
      }
      return invocations(names[0] as string, req);
    });
    scope.post('/models/:model/invocations', mlflow, async (req: FastifyRequest<{ Params: ModelParams }>) => invocations(req.params.model, req));
    const plainOk = { config: { protocol: 'mlflow' as Protocol } };
    const addGet = (url: string, handler: () => unknown) => {
      // The tracking server may already answer these paths on the main server.
      if (!app.hasRoute({ method: 'GET', url })) scope.get(url, plainOk, async (_req, reply) => reply.type('text/plain').send(handler()));
    };
    addGet('/ping', () => '\n');
    addGet('/health', () => '\n');
    addGet('/version', () => VERSION);

    // --- Prometheus ---
    scope.get('/metrics', { config: { protocol: 'plain' as Protocol } }, async (_req, reply) => {
      if (!init.metricsText) return reply.type(init.registry.contentType).send(await init.registry.metrics());
      // The sum over workers waits for each of them: one that is starting or stuck makes this a 503 to retry, not a 500.
      let text: string;
      try {
        text = await init.metricsText();
      } catch (err) {
        throw new SlipwayError('UNAVAILABLE', `The metrics of every worker could not be gathered: ${(err as Error).message}; retry.`, { retryAfterSeconds: 1 });
      }
      return reply.type(init.registry.contentType).send(text);
    });
  });
}

function bodyBuffer(req: FastifyRequest): Buffer {
  const b = req.body;
  if (Buffer.isBuffer(b)) return b;
  if (typeof b === 'string') return Buffer.from(b);
  throw new SlipwayError('MALFORMED_REQUEST', 'The request has no body; send application/json.');
}

function optionalJson(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || (Buffer.isBuffer(b) && b.length === 0)) return {};
  const doc = parseJson(bodyBuffer(req));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SlipwayError('MALFORMED_REQUEST', 'The request body must be a JSON object.');
  return doc as Record<string, unknown>;
}

function deadlineOf(headers: IncomingHttpHeaders): { deadlineMs?: number } {
  for (const name of ['x-slipway-deadline-ms', 'timeout'] as const) {
    const h = headers[name];
    if (h === undefined) continue;
    const n = Number(h);
    if (typeof h !== 'string' || !/^\d+(\.\d+)?$/.test(h.trim()) || !(n > 0) || n > 3_600_000) {
      throw new SlipwayError('INVALID_ARGUMENT', `Header ${name} must be a deadline in milliseconds between 1 and 3600000, got '${String(h)}'.`);
    }
    return { deadlineMs: Math.ceil(n) };
  }
  return {};
}

/** The sticky routing key of a request: the value of the header the model's active split pins callers by. */
function routingOf(service: InferenceService, model: string, headers: IncomingHttpHeaders): { routingKey?: string } {
  const header = service.routingHeader(model);
  if (header === undefined) return {};
  const value = headers[header];
  return typeof value === 'string' ? { routingKey: value } : {};
}

/** A failure as the status, message and MLflow error code the client gets. */
interface ErrorAnswer {
  status: number;
  message: string;
  mlflowCode: string;
  retryAfterSeconds?: number;
}

function errorAnswer(err: unknown, contentType: string | undefined, url: string, logger: Logger, bodyLimit: number): ErrorAnswer {
  if (isSlipwayError(err)) {
    const retry = err.details?.retryAfterSeconds;
    return { status: err.status, message: err.message, mlflowCode: err.mlflowCode, ...(typeof retry === 'number' ? { retryAfterSeconds: retry } : {}) };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
  let message: string;
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `The request body is larger than the limit of ${bodyLimit} bytes.`;
  else if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') message = `Unsupported content type '${contentType ?? '(none)'}'; send application/json, text/csv or application/octet-stream.`;
  else if (status < 500) message = e.message ?? 'Bad request.';
  else {
    logger.error({ err, url }, 'serving: unexpected error');
    message = 'Internal error; the server log has details.';
  }
  return { status, message, mlflowCode: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR' };
}

function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, logger: Logger, bodyLimit: number): FastifyReply {
  const a = errorAnswer(err, req.headers['content-type'], req.url, logger, bodyLimit);
  if (a.retryAfterSeconds !== undefined) reply.header('retry-after', String(a.retryAfterSeconds));
  const protocol = req.routeOptions.config?.protocol;
  return reply.code(a.status).send(protocol === 'mlflow' ? { error_code: a.mlflowCode, message: a.message } : { error: a.message });
}

/** The body of a response with binary outputs: JSON header, then the raw tensors. */
function binaryPayload(response: V2Response): { head: number; payload: Buffer } {
  const header = Buffer.from(stringifyJson(response.json));
  return { head: header.length, payload: Buffer.concat([header, ...(response.binary ?? [])]) };
}

// Clients call the same few infer URLs over and over: remember their decoded form.
const targets = new Map<string, { model: string; version?: string } | undefined>();

/** `/v2/models/NAME/infer` or `/v2/models/NAME/versions/VERSION/infer`, decoded; undefined for anything else. */
function inferTarget(url: string): { model: string; version?: string } | undefined {
  if (targets.has(url)) return targets.get(url);
  const target = parseInferTarget(url);
  if (targets.size >= 1024) targets.clear();
  targets.set(url, target);
  return target;
}

function parseInferTarget(url: string): { model: string; version?: string } | undefined {
  if (!url.startsWith('/v2/models/') || !url.endsWith('/infer')) return undefined;
  const parts = url.slice('/v2/models/'.length, -'/infer'.length).split('/');
  if (parts.some((p) => p.length === 0 || p.length > MAX_FAST_PARAM || p.includes('?') || p.includes('#'))) return undefined;
  try {
    if (parts.length === 1) return { model: decodeURIComponent(parts[0] as string) };
    if (parts.length === 3 && parts[1] === 'versions') return { model: decodeURIComponent(parts[0] as string), version: decodeURIComponent(parts[2] as string) };
  } catch {
    // Malformed percent-encoding: Fastify answers it.
  }
  return undefined;
}

// Longer names take the regular route, which applies the router's own length limit.
const MAX_FAST_PARAM = 1024;

/** The media types the infer route parses: JSON, or a JSON header followed by binary tensors. */
function isInferContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  return ct === 'application/json' || ct === 'application/octet-stream' || ct.startsWith('application/json;') || ct.startsWith('application/octet-stream;');
}

/** Writes a complete JSON (or binary V2) response on a raw node:http response. */
function writeRaw(res: ServerResponse, status: number, headers: Record<string, string | number>, payload: string | Buffer): void {
  headers['content-length'] = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  res.writeHead(status, headers);
  // node:http sends the head and a string body in one write, but a Buffer body as a second
  // chunk of a writev; for a small binary answer one latin1 string (byte for byte the same)
  // costs less than the extra chunk.
  if (typeof payload !== 'string' && payload.length <= SMALL_BINARY_ANSWER) res.end(payload.toString('latin1'), 'latin1');
  else res.end(payload);
}

const SMALL_BINARY_ANSWER = 16 * 1024;
