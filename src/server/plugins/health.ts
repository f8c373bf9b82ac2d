/**
 * Liveness and readiness: `GET /health` answers `OK` as MLflow's server does (load
 * balancers and the MLflow tooling probe it); `GET /api/v1/health` reports status
 * as JSON and checks that the metadata store answers.
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

const health: DomainPlugin = async (app, ctx) => {
  const started = ctx.clock.now();

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
    const ok = store === 'ok';
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'unavailable',
      version: packageVersion(),
      store: { backend: ctx.store.dialect, status: store },
      artifacts: ctx.artifacts ? 'configured' : 'none',
      uptime_seconds: Math.round((ctx.clock.now() - started) / 1000),
    });
  });
};

export default health;
