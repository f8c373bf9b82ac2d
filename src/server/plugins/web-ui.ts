/**
 * The web UI: `GET /` answers the single-page app's shell and `GET /assets/*` its bundles.
 *
 * Written here rather than with a static-file plugin: the UI is a fixed set of files known
 * when the server starts (a few hundred KB), so they are read once into memory with their
 * brotli and gzip siblings from the build. No path from a request ever reaches the disk, an
 * answer costs a map lookup, and the bundles' names carry their content hash, so they are
 * cached for a year while the shell is revalidated on every load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DomainPlugin } from '../app.js';

/** The UI's page policy: its own scripts, styles and images only; data from this server; never framed. */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // Charts and the table position elements with inline styles; reports previewed in a sandboxed frame carry their own.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  // Reports are inline documents in sandboxed frames, which frame-src does not govern; nothing else is framed (a blob: or
  // same-origin frame would hold a document with this page's origin).
  "frame-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** One file of the build, with the compressed forms the build wrote beside it. */
interface UiFile {
  body: Buffer;
  br?: Buffer;
  gzip?: Buffer;
  type: string;
  etag: string;
}

/** The folder of the UI built with the package (`dist/web`, beside `dist/server`). */
export function builtInUiDir(): string {
  return fileURLToPath(new URL('../../web/', import.meta.url));
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Reads every file of a UI build into memory, keyed by its URL path (`/index.html`, `/assets/index-3f2a.js`). */
export function loadUiBuild(dir: string): Map<string, UiFile> | undefined {
  const index = readIfPresent(join(dir, 'index.html'));
  if (!index) return undefined;
  const files = new Map<string, UiFile>();
  const add = (urlPath: string, path: string): void => {
    const ext = extname(path);
    if (ext === '.br' || ext === '.gz') return;
    const body = readFileSync(path);
    const file: UiFile = { body, type: TYPES[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    const br = readIfPresent(`${path}.br`);
    const gzip = readIfPresent(`${path}.gz`);
    if (br) file.br = br;
    if (gzip) file.gzip = gzip;
    files.set(urlPath, file);
  };
  add('/index.html', join(dir, 'index.html'));
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'index.html' || name === 'assets') continue;
    if (statSync(path).isFile()) add(`/${name}`, path);
  }
  const assets = join(dir, 'assets');
  for (const name of safeList(assets)) {
    const path = join(assets, name);
    if (statSync(path).isFile()) add(`/assets/${name}`, path);
  }
  return files;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The encodings a client accepts, by the `Accept-Encoding` tokens that matter here (q=0 refuses). */
function accepts(header: string | undefined, coding: 'br' | 'gzip'): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name?.trim().toLowerCase() !== coding) continue;
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p));
  }
  return false;
}

function send(request: FastifyRequest, reply: FastifyReply, file: UiFile, cacheControl: string): FastifyReply {
  reply.header('cache-control', cacheControl).header('etag', file.etag).header('vary', 'accept-encoding').type(file.type);
  if (file.type.startsWith('text/html')) reply.header('content-security-policy', UI_CONTENT_SECURITY_POLICY);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  const encoding = request.headers['accept-encoding'];
  if (file.br && accepts(encoding, 'br')) return reply.header('content-encoding', 'br').send(file.br);
  if (file.gzip && accepts(encoding, 'gzip')) return reply.header('content-encoding', 'gzip').send(file.gzip);
  return reply.send(file.body);
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

const webUi: DomainPlugin = async (app, ctx) => {
  if (!ctx.config.ui.enabled) return;
  const dir = ctx.config.ui.dir ?? builtInUiDir();
  const files = loadUiBuild(dir);
  if (!files) {
    ctx.logger.warn({ dir }, 'the web UI is not built: GET / answers 404 (run `npm run build:web`)');
    app.get('/', async (_request, reply) =>
      reply.code(404).type('text/plain; charset=utf-8').send(`The Slipway web UI is not built in this installation (no index.html in ${dir}). Build it with \`npm run build:web\`; the APIs under /api/v1 work without it.\n`),
    );
    return;
  }
  const index = files.get('/index.html') as UiFile;
  app.get('/', async (request, reply) => send(request, reply, index, REVALIDATE));
  app.get('/favicon.svg', async (request, reply) => {
    const file = files.get('/favicon.svg');
    if (!file) return reply.code(404).type('text/plain; charset=utf-8').send('No favicon in this UI build.\n');
    return send(request, reply, file, 'public, max-age=86400');
  });
  app.get('/assets/*', async (request, reply) => {
    const path = request.url.split('?')[0] as string;
    const file = files.get(path);
    if (!file) return reply.code(404).type('text/plain; charset=utf-8').send(`No UI asset ${path}: reload the page, the UI may have been upgraded.\n`);
    return send(request, reply, file, IMMUTABLE);
  });
};

export default webUi;
