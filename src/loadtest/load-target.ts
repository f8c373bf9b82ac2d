/**
 * Resolves what a load test hits: a Slipway-served model (`models:/NAME@ALIAS`
 * against a Slipway server), an Open Inference Protocol V2 or MLflow `/invocations`
 * URL, or a raw HTTP request template. For V2 it reads the model's metadata
 * (GET /v2/models/{name}) so payloads match the model's tensors.
 */
import { request } from 'undici';
import { SlipwayError } from '../core/errors.js';
import { parseModelUri } from '../core/model-source.js';
import { redactUri } from '../core/redact-uri.js';
import { specKeyNaming, type OptionNaming } from './option-naming.js';
import { authorizationHeader, refusedByServer, sameOrigin, type ServerAccess } from './server-access.js';

/** The protocols a load test speaks. */
export type LoadProtocol = 'raw' | 'v2' | 'mlflow';

/** Tensor metadata as V2 reports it. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** A resolved target: where requests go and what the model expects. */
export interface LoadTarget {
  url: string;
  origin: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  protocol: LoadProtocol;
  /** The model under test, when known (from `models:/` or the V2 metadata). */
  model?: { name: string; version?: string; alias?: string };
  /** The model's inputs (V2 metadata). */
  inputs?: TensorMetadata[];
}

/** What the caller says about the target. */
export interface TargetSpec {
  target: string;
  server?: string;
  protocol?: LoadProtocol;
  method?: string;
  headers?: Record<string, string>;
  /**
   * `Authorization` header value for `server`: sent when resolving a `models:/` reference, and with
   * the load (and the model metadata read) when the target is on the server's own origin and
   * `headers` has no `authorization` of its own. Never sent to another origin.
   */
  serverAuthorization?: string;
  timeoutMs?: number;
  /** How messages name options. @default spec keys */
  naming?: OptionNaming;
}

function parseUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SlipwayError('INVALID_ARGUMENT', `${what} '${redactUri(raw)}' is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SlipwayError('INVALID_ARGUMENT', `${what} '${redactUri(raw)}' must be an http:// or https:// URL.`);
  return url;
}

async function getJson(url: string, timeoutMs: number, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  try {
    const res = await request(url, { method: 'GET', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.statusCode, body };
  } catch (err) {
    throw new SlipwayError('UNAVAILABLE', `Cannot reach ${redactUri(url)}: ${redactUri((err as Error).message)}`, { url: redactUri(url) });
  }
}

/**
 * Reads V2 model metadata from the infer URL's model path, with the credentials the load will carry
 * (`access.authorization`); `onServer` says the URL is the Slipway server's, whose refusal names its credentials option.
 */
async function readV2Metadata(inferUrl: URL, timeoutMs: number, access: ServerAccess, onServer: boolean): Promise<{ name?: string; versions?: string[]; inputs: TensorMetadata[] }> {
  const metaUrl = new URL(inferUrl.toString());
  metaUrl.pathname = metaUrl.pathname.replace(/\/infer\/?$/, '');
  const { status, body } = await getJson(metaUrl.toString(), timeoutMs, authorizationHeader(access));
  const refused = onServer ? refusedByServer(status, metaUrl.origin, `GET ${metaUrl.pathname} (model metadata)`, access) : undefined;
  if (refused) throw refused;
  if (status === 404) {
    const why = typeof (body as { error?: unknown } | null)?.error === 'string' ? (body as { error: string }).error : `${metaUrl} answered 404`;
    throw new SlipwayError('NOT_FOUND', `The target does not serve this model: ${why}`, { url: metaUrl.toString() });
  }
  if (status !== 200 || body === null || typeof body !== 'object') {
    throw new SlipwayError('UNAVAILABLE', `Model metadata at ${metaUrl} answered ${status}; the V2 protocol needs it to build tensors.`, { url: metaUrl.toString(), status });
  }
  const doc = body as { name?: unknown; versions?: unknown; inputs?: unknown };
  if (!Array.isArray(doc.inputs) || doc.inputs.length === 0) throw new SlipwayError('DATA_ERROR', `Model metadata at ${metaUrl} lists no inputs.`);
  const inputs = doc.inputs.map((i: { name?: unknown; datatype?: unknown; shape?: unknown }) => ({
    name: String(i.name),
    datatype: String(i.datatype ?? 'FP32'),
    shape: Array.isArray(i.shape) ? i.shape.map(Number) : [-1],
  }));
  return { name: typeof doc.name === 'string' ? doc.name : undefined, versions: Array.isArray(doc.versions) ? doc.versions.map(String) : undefined, inputs };
}

async function aliasVersion(server: URL, name: string, alias: string, timeoutMs: number, access: ServerAccess): Promise<string | undefined> {
  const url = new URL('/api/2.0/mlflow/registered-models/alias', server);
  url.searchParams.set('name', name);
  url.searchParams.set('alias', alias);
  const { status, body } = await getJson(url.toString(), timeoutMs, authorizationHeader(access));
  const refused = refusedByServer(status, server.origin, `resolving models:/${name}@${alias}`, access);
  if (refused) throw refused;
  if (status === 404) throw new SlipwayError('NOT_FOUND', `Model alias models:/${name}@${alias} does not exist on ${server.origin}.`);
  const version = (body as { model_version?: { version?: unknown } } | null)?.model_version?.version;
  return version === undefined ? undefined : String(version);
}

/** Resolves a target spec into a concrete endpoint (and model metadata for V2). */
export async function resolveTarget(spec: TargetSpec): Promise<LoadTarget> {
  const timeoutMs = spec.timeoutMs ?? 10_000;
  const serverAccess: ServerAccess = { authorization: spec.serverAuthorization, naming: spec.naming };
  const userHeaders = lowerKeys(spec.headers ?? {});
  // What the load to `url` is authorized with: the caller's own Authorization header wins; else the
  // server's credentials, only on the server's own origin so they never reach another host.
  const loadAccess = (url: URL): ServerAccess => ({
    authorization: userHeaders.authorization ?? (sameOrigin(url, spec.server) ? spec.serverAuthorization : undefined),
    naming: spec.naming,
  });
  const ref = parseModelUri(spec.target);
  let url: URL;
  let protocol: LoadProtocol;
  let model: LoadTarget['model'];
  let inputs: TensorMetadata[] | undefined;
  if (ref) {
    if (!spec.server) throw new SlipwayError('MISSING_ARGUMENT', `Target ${spec.target} needs the Slipway server URL to resolve against: give ${(spec.naming ?? specKeyNaming).full('server')}.`, { field: 'server' });
    const server = parseUrl(spec.server, 'Server URL');
    protocol = spec.protocol ?? 'v2';
    if (protocol === 'raw') throw new SlipwayError('INVALID_ARGUMENT', `Protocol 'raw' cannot target a model reference; use v2 or mlflow.`);
    const version = ref.version ?? (ref.alias ? await aliasVersion(server, ref.name, ref.alias, timeoutMs, serverAccess) : undefined);
    model = { name: ref.name, ...(version !== undefined ? { version } : {}), ...(ref.alias !== undefined ? { alias: ref.alias } : {}) };
    const name = encodeURIComponent(ref.name);
    // Address the resolved version, so an alias pointing at a version the server does not serve fails loudly instead of testing another one.
    const versioned = version !== undefined ? `/v2/models/${name}/versions/${encodeURIComponent(version)}` : `/v2/models/${name}`;
    url = new URL(protocol === 'v2' ? `${versioned}/infer` : `/models/${name}/invocations`, server);
    // MLflow bodies carry no types: the model's inputs say which columns are text.
    if (protocol === 'mlflow' && version !== undefined) inputs = (await readV2Metadata(new URL(`${versioned}/infer`, server), timeoutMs, loadAccess(server), true)).inputs;
  } else {
    url = parseUrl(spec.target, 'Target');
    protocol = spec.protocol ?? (/\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer\/?$/.test(url.pathname) ? 'v2' : /\/invocations\/?$/.test(url.pathname) ? 'mlflow' : 'raw');
    // A Slipway model's /models/NAME/invocations has V2 metadata beside it, which says which columns are text; other servers have none.
    const named = protocol === 'mlflow' ? /^\/models\/([^/]+)\/invocations\/?$/.exec(url.pathname)?.[1] : undefined;
    if (named !== undefined) inputs = await readV2Metadata(new URL(`/v2/models/${named}/infer`, url), timeoutMs, loadAccess(url), false).then((m) => m.inputs, () => undefined);
  }
  const method = (spec.method ?? (protocol === 'raw' ? 'GET' : 'POST')).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new SlipwayError('INVALID_ARGUMENT', `HTTP method '${spec.method}' is not valid.`);
  const access = loadAccess(url);
  const headers: Record<string, string> = { ...(protocol !== 'raw' ? { 'content-type': 'application/json' } : {}), ...userHeaders, ...authorizationHeader(access) };
  const target: LoadTarget = { url: url.toString(), origin: url.origin, path: url.pathname + url.search, method, headers, protocol, ...(model ? { model } : {}), ...(inputs ? { inputs } : {}) };
  if (protocol === 'v2') {
    const meta = await readV2Metadata(url, timeoutMs, access, sameOrigin(url, spec.server));
    target.inputs = meta.inputs;
    if (!target.model && meta.name) target.model = { name: meta.name, ...(meta.versions?.length === 1 ? { version: meta.versions[0] as string } : {}) };
  }
  return target;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), String(v)]));
}
