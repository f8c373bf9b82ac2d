/** Builds a real Slipway app over a fresh store of the given backend, for native API tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { resolveConfig, type UserConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import type { Clock } from '../../core/clock.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';
import { afterAll, beforeAll } from 'vitest';
import { DIALECTS, type TestDialect } from '../../../test/support/dialects.js';

/** An app over a fresh store and artifact folder; `close` shuts both down and removes them. */
export interface TestApp {
  app: FastifyInstance;
  ctx: ServerContext;
  close(): Promise<void>;
}

/** Opens a fresh store on `dialect` and builds the full app over it (with `settings` as if given as flags). */
export async function openTestApp(dialect: TestDialect, clock: Clock = { now: () => Date.now() }, settings: UserConfig = {}): Promise<TestApp> {
  const { store, uri, dispose } = await dialect.open({ clock });
  const home = mkdtempSync(join(tmpdir(), 'slipway-api-'));
  const config = resolveConfig({ ...settings, backendStoreUri: uri, home }, {}, home);
  const artifacts = new LocalArtifactStore(config.artifactsDestination);
  const ctx: ServerContext = { config, store, artifacts, logger: silentLogger, clock, inferenceObservers: [], onClose: [] };
  const app = await buildApp(ctx);
  await app.ready();
  return {
    app,
    ctx,
    async close() {
      await app.close();
      for (const hook of ctx.onClose) await hook();
      await dispose();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Opens a test app before the enclosing describe block's tests and closes it after them;
 * `app`, `ctx` and `close` read the app opened then (on the first dialect by default).
 */
export function useTestApp(dialect: TestDialect = DIALECTS[0] as TestDialect): TestApp {
  let opened: TestApp | undefined;
  beforeAll(async () => {
    opened = await openTestApp(dialect);
  });
  afterAll(async () => opened?.close());
  const get = (): TestApp => {
    if (!opened) throw new Error('The test app is opened in beforeAll; use it inside a test.');
    return opened;
  };
  return {
    get app() {
      return get().app;
    },
    get ctx() {
      return get().ctx;
    },
    close: () => get().close(),
  };
}
