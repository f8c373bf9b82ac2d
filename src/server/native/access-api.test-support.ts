/** Builds a real app with access control on over a fresh store, for the access API tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AccessService } from '../../access/access-service.js';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import type { TestDialect } from '../../../test/support/dialects.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';

/** The bootstrap admin's password in these tests. */
export const ADMIN_PASSWORD = 'admin-password-1';

/** `Authorization: Basic …` for a username and a password or token. */
export function basicAuth(username: string, secret: string): string {
  return `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
}

/** An app with access control on. */
export interface AuthApp {
  app: FastifyInstance;
  ctx: ServerContext;
  access: AccessService;
  close(): Promise<void>;
}

/** An app whose requests are authenticated and authorized by a real AccessService, with `admin` bootstrapped. */
export async function openAuthApp(dialect: TestDialect): Promise<AuthApp> {
  const clock = { now: () => Date.now() };
  const { store, uri, dispose } = await dialect.open({ clock });
  const home = mkdtempSync(join(tmpdir(), 'slipway-access-'));
  const config = resolveConfig({ backendStoreUri: uri, home, auth: true }, {}, home);
  const access = new AccessService({ store, clock });
  await access.ensureAdmin(ADMIN_PASSWORD);
  const ctx: ServerContext = { config, store, artifacts: new LocalArtifactStore(config.artifactsDestination), logger: silentLogger, clock, inferenceObservers: [], onClose: [], access };
  const app = await buildApp(ctx);
  await app.ready();
  return {
    app,
    ctx,
    access,
    async close() {
      await app.close();
      for (const hook of ctx.onClose) await hook();
      await dispose();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
