/**
 * buildApp(ctx) composes one Fastify plugin per domain; `listen` happens elsewhere,
 * so tests call `app.inject()` without a port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

/** A domain's routes: registered with the shared context. */
export type DomainPlugin = (app: FastifyInstance, ctx: ServerContext) => Promise<void>;

/** The domain plugins, in registration order. Each domain adds its line here. */
const PLUGINS: Array<() => Promise<{ default: DomainPlugin }>> = [
  () => import('./plugins/native-api.js'),
  () => import('./plugins/mlflow-registry.js'),
];

/** Builds the Slipway HTTP app over an open context. */
export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: ctx.config.bodyLimit, logger: false });
  for (const load of PLUGINS) {
    const plugin = (await load()).default;
    await plugin(app, ctx);
  }
  return app;
}
