/**
 * Liveness and readiness: `GET /health` answers `OK` as MLflow's server does (load
 * balancers and the MLflow tooling probe it); `GET /api/v1/health` reports status
 * as JSON, checks that the metadata store answers and that the artifact store can
 * still write (a full or read-only disk answers 503), and says whether access control is on.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { sqliteWriteLockAvailable } from '../../store/sqlite/sqlite-lock.js';
import type { DomainPlugin } from '../app.js';

let cachedVersion: string | undefined;

/** The package version (src/ and dist/ both sit two levels below package.json). */
function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      cachedVersion = String((JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

/** How long one artifact write probe answers for, so frequent health checks stay cheap. */
const ARTIFACT_PROBE_TTL_MS = 5000;

/** Whether the artifact store can write, as health reports it. */
interface ArtifactWritability {
  status: 'ok' | 'unwritable';
  reason?: string;
}

/**
 * Why the artifact store cannot write, by kind only: the answer is public, and the error's own text names the
 * server's folders or buckets (the server log has it whole).
 */
function unwritableReason(e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return 'no space left on the disk';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EROFS') return 'read-only file system';
  return 'the artifact store cannot write (the server log has the error)';
}

const health: DomainPlugin = async (app, ctx) => {
  const started = ctx.clock.now();
  let probe: { at: number; result: Promise<ArtifactWritability> } | undefined;

  // One probe at a time; concurrent checks share it.
  const artifactWritability = (): Promise<ArtifactWritability> | undefined => {
    const store = ctx.artifacts;
    if (!store?.checkWritable) return undefined;
    const now = ctx.clock.now();
    if (!probe || now - probe.at >= ARTIFACT_PROBE_TTL_MS) {
      probe = {
        at: now,
        result: store.checkWritable().then(
          (): ArtifactWritability => ({ status: 'ok' }),
          (err: unknown): ArtifactWritability => {
            ctx.logger.warn({ err }, 'health check: the artifact store cannot write');
            return { status: 'unwritable', reason: unwritableReason(err as NodeJS.ErrnoException) };
          },
        ),
      };
    }
    return probe.result;
  };

  app.get('/health', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('OK'));

  app.get('/api/v1/health', async (_request, reply) => {
    let store = 'ok';
    try {
      await sql`select 1`.execute(ctx.store.db);
      // Reads still work while another process holds a SQLite file locked; writes would wait and then fail.
      if (ctx.store.sqlite && !(await sqliteWriteLockAvailable(ctx.store.sqlite))) store = 'locked';
    } catch (err) {
      store = 'unavailable';
      ctx.logger.warn({ err }, 'health check: metadata store unavailable');
    }
    const artifactStore = await artifactWritability();
    const ok = store === 'ok' && artifactStore?.status !== 'unwritable';
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'unavailable',
      version: packageVersion(),
      store: { backend: ctx.store.dialect, status: store },
      artifacts: ctx.artifacts ? 'configured' : 'none',
      ...(artifactStore ? { artifact_store: artifactStore } : {}),
      uptime_seconds: Math.round((ctx.clock.now() - started) / 1000),
      // Public, so a client (the web UI's login page) can tell whether it must sign in before it tries.
      auth: ctx.access !== undefined,
    });
  });
};

export default health;
