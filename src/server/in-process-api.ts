/**
 * The Slipway API answered inside the calling process, without a socket: the
 * command line uses it on the embedded store, so a command runs the same routes,
 * validation, errors and audit events whether it talks to a server or not, and
 * speaks to both through the same SDK (`slipway/client`).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { openArtifactStore } from '../artifacts/open-artifact-store.js';
import { attachAuditTrail } from '../audit/audit-trail.js';
import type { ResolvedConfig } from '../config.js';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openStore } from '../store/store.js';
import { buildApp, type PluginName } from './app.js';
import type { ServerContext } from './context.js';
import { webStreamOf } from '../core/web-stream.js';

/** An open in-process API. */
export interface InProcessApi {
  /** A `fetch` that answers `http://in-process/...` URLs from the app; give it to `SlipwayClient`. */
  fetch: typeof fetch;
  /** The base URL to give `SlipwayClient` with this fetch. */
  url: string;
  /** Runs the close hooks (the last audit checkpoint) and closes the store. */
  close(): Promise<void>;
}

/** What to open. */
export interface InProcessApiOptions {
  /** The route families the caller needs. @default ['native-api'] */
  plugins?: readonly PluginName[];
  logger: Logger;
}

const BASE_URL = 'http://in-process';

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

async function payloadOf(body: RequestInit['body']): Promise<string | Buffer | Readable | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  if (body instanceof ReadableStream) return Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  return String(body);
}

/** Answers a fetch call with `app.inject`, streaming the answer's body. */
function injectingFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: `${url.pathname}${url.search}`,
      headers: headersOf(init),
      payload: await payloadOf(init?.body),
      payloadAsStream: true,
    });
    const headers = new Headers();
    for (const [key, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(key, String(v));
    }
    const noBody = res.statusCode === 204 || res.statusCode === 304 || init?.method === 'HEAD';
    const body = noBody ? null : webStreamOf(res.stream());
    return new Response(body, { status: res.statusCode, headers });
  };
}

/** Opens the store and artifact folder the config names and answers API requests from them in this process. */
export async function openInProcessApi(config: ResolvedConfig, opts: InProcessApiOptions): Promise<InProcessApi> {
  const store = await openStore(config.backendStoreUri, { statementTimeoutMs: config.statementTimeoutMs, defaultArtifactRoot: config.defaultArtifactRoot });
  const ctx: ServerContext = {
    config,
    store,
    logger: opts.logger,
    clock: systemClock,
    artifacts: await openArtifactStore(config.artifactsDestination, config.s3Artifacts),
    inferenceObservers: [],
    onClose: [],
    // A server may be driving the store's unfinished releases; this process drives only those it creates.
    embedded: true,
  };
  let app: FastifyInstance | undefined;
  try {
    // Changes made here are signed and checkpointed like a server's; reading writes nothing.
    const auditTrail = attachAuditTrail(store, { ...config.audit, clock: systemClock, logger: opts.logger });
    ctx.onClose.push(() => auditTrail.close());
    app = await buildApp(ctx, { plugins: opts.plugins ?? ['native-api'] });
    await app.ready();
  } catch (err) {
    await app?.close().catch(() => {});
    for (const hook of ctx.onClose) await Promise.resolve().then(hook).catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  const ready = app;
  let closing: Promise<void> | undefined;
  return {
    fetch: injectingFetch(ready),
    url: BASE_URL,
    close() {
      closing ??= (async () => {
        try {
          await ready.close();
          for (const hook of ctx.onClose) await hook();
        } finally {
          await store.close();
        }
      })();
      return closing;
    },
  };
}
