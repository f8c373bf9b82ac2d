/**
 * Releases on the server: the release routes under /api/v1, a background runner that
 * drives releases through their gates and rollouts over serving's live traffic, and
 * what gates need from a face — holdouts materialised from the artifact store and a
 * private loopback server for load tests. Unfinished releases are picked up on start
 * (by `slipway server` only: an embedded command-line process drives just the releases it
 * creates); shutdown stops the runners before serving closes, leaving states for the next
 * start. Alert rules' actions (rollback, command) run here through `alertActionOf`, and an
 * automatic rollback is announced to the webhooks of the model's alert rules.
 */
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { SlipwayError } from '../../core/errors.js';
import type { ModelSource, ResolvedModel } from '../../core/model-source.js';
import { RegistryModelSource } from '../../registry/registry-model-source.js';
import { runGate } from '../../release/gates/index.js';
import type { PrivateServer } from '../../release/gates/gate.js';
import { HOLDOUT_PREFIX } from '../../release/release-policy.js';
import type { Release } from '../../client/schemas/releases.js';
import type { AlertActionHook } from '../../monitoring/alerts/alert-engine.js';
import { listAlertRules } from '../../monitoring/alerts/alert-rules.js';
import { createWebhookPolicy, deliverWebhook, type ReleaseRolledBackPayload } from '../../monitoring/alerts/webhook-notifier.js';
import { runAlertAction } from '../../release/alert-actions.js';
import { ReleaseRunner } from '../../release/release-runner.js';
import { ReleaseService } from '../../release/release-service.js';
import type { DomainPlugin } from '../app.js';
import type { ServerContext } from '../context.js';
import { getMetricsRegistry } from '../metrics-registry.js';
import { NATIVE_PREFIX } from './native-api.js';
import { registerNativeRoutes } from '../native/native-route.js';
import { releaseRoutes, trafficRoutes } from '../native/release-routes.js';
import { TrafficHub } from '../../release/traffic-hub.js';
import { TrafficBoard } from '../../release/traffic-board.js';
import { LocalTrafficFollower } from '../../release/traffic-follower.js';
import { registryOf } from '../native/services.js';

let rollbacks: Counter | undefined;

/** `slipway_release_rollbacks_total{model}`: rollouts that rolled back on their own after a breach. */
function rollbackCounter(): Counter {
  rollbacks ??= new Counter({ name: 'slipway_release_rollbacks_total', help: 'Rollouts rolled back automatically after a live-analysis breach.', labelNames: ['model'], registers: [getMetricsRegistry()] });
  return rollbacks;
}

/** A holdout's local path; refs outside the holdout folder are refused, so a release cannot read other artifacts through a gate. */
async function holdoutPath(ctx: ServerContext, ref: string): Promise<string> {
  if (!ref.startsWith(HOLDOUT_PREFIX) || ref.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new SlipwayError('PATH_NOT_ALLOWED', `Holdout '${ref}' must be a file under ${HOLDOUT_PREFIX} in the artifact store.`, { holdout: ref });
  }
  const artifacts = ctx.artifacts;
  if (!artifacts || !(await artifacts.stat(ref))) throw new SlipwayError('NOT_FOUND', `Holdout '${ref}' is not in the artifact store.`, { holdout: ref });
  // Readers pick the format by file extension, which a content-addressed blob lacks: materialise
  // the holdout's folder, where the file keeps its name (hard links, reused while unchanged).
  const slash = ref.lastIndexOf('/');
  if (!artifacts.localFolder) return artifacts.localPath(ref);
  return join(await artifacts.localFolder(ref.slice(0, slash)), ref.slice(slash + 1));
}

/** Serves the candidate (and the champion) on 127.0.0.1 with a port of its own, each model in its own runtime session. */
async function startPrivateServer(ctx: ServerContext, models: { candidate: ResolvedModel; champion?: ResolvedModel }): Promise<PrivateServer> {
  const [{ default: Fastify }, { ModelManager }, { InferenceService }, { ServingMetrics }, { resolveServingOptions }, { ModelFileAllowList }, { registerServingRoutes }] = await Promise.all([
    import('fastify'),
    import('../../serving/model-manager.js'),
    import('../../serving/inference-service.js'),
    import('../../serving/serving-metrics.js'),
    import('../../serving/serving-options.js'),
    import('../../artifacts/model-file-allow-list.js'),
    import('./serving-routes.js'),
  ]);
  // A registry of its own: the load test's figures must not mix with the main server's.
  const metrics = ServingMetrics.for(new Registry());
  const options = resolveServingOptions({ ...ctx.config.serving, bodyLimit: ctx.config.bodyLimit });
  const files = [models.candidate.onnxPath, ...(models.champion ? [models.champion.onnxPath] : [])];
  const manager = new ModelManager({ options, metrics, logger: ctx.logger, modelFiles: new ModelFileAllowList({ dirs: [], files }) });
  const service = new InferenceService({ manager, metrics, observers: [], clock: ctx.clock, logger: ctx.logger });
  const names = { candidate: 'candidate', ...(models.champion ? { champion: 'champion' } : {}) };
  const app = Fastify({ logger: false, bodyLimit: ctx.config.bodyLimit, routerOptions: { maxParamLength: 8192 } });
  try {
    for (const [name, m] of [['candidate', models.candidate], ['champion', models.champion]] as const) {
      if (!m) continue;
      const status = await manager.load(name, m.onnxPath, m.columns, { required: true });
      if (status.state !== 'READY') throw new SlipwayError('INVALID_STATE', `The ${name} (${m.name} version ${m.version}) failed to load: ${status.reason}`, { role: name });
    }
    await registerServingRoutes(app, { manager, service, registry: new Registry(), logger: ctx.logger, modelControl: 'none' });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return {
      url,
      models: names,
      async close() {
        await app.close();
        await manager.close();
      },
    };
  } catch (err) {
    await app.close().catch(() => {});
    await manager.close();
    throw err;
  }
}

/** How long a rollback notification may take per webhook. */
const ROLLBACK_WEBHOOK_TIMEOUT_MS = 5000;

const alertActions = new WeakMap<ServerContext, AlertActionHook>();

/**
 * The hook that runs alert rules' actions on this app's releases (the monitoring plugin hands it to its
 * alert engine); undefined where the releases plugin is not registered.
 */
export function alertActionOf(ctx: ServerContext): AlertActionHook | undefined {
  return alertActions.get(ctx);
}

/** Sends a `release_rolled_back` notification to every distinct webhook of the model's alert rules; never throws. */
async function announceRollback(ctx: ServerContext, release: Release, evidence: Record<string, unknown>): Promise<void> {
  const rules = await listAlertRules(ctx.store, release.model);
  const urls = [...new Set(rules.map((r) => r.webhookUrl).filter((u): u is string => u !== null))];
  if (urls.length === 0) return;
  const payload: ReleaseRolledBackPayload = {
    kind: 'release_rolled_back',
    dedupKey: `release:${release.id}:rolled_back`,
    release: { id: release.id, model: release.model, environment: release.environment, version: release.version, championVersion: release.championVersion ?? null },
    reason: release.reason,
    evidence,
    time: release.endedTime ?? ctx.clock.now(),
  };
  const policy = createWebhookPolicy(ctx.config.outboundAllowedHosts);
  await Promise.all(
    urls.map(async (url) => {
      const result = await deliverWebhook(url, payload, ROLLBACK_WEBHOOK_TIMEOUT_MS, { policy });
      if (!result.ok) ctx.logger.warn({ release: release.id, error: result.error }, 'release: rollback webhook delivery failed');
    }),
  );
}

/** The lease of driving releases among replicas. */
const RELEASES_JOB = 'releases';
/** How often the holder looks for releases started through other replicas or left by a holder that died. */
const RELEASES_JOB_INTERVAL_MS = 2000;

const releases: DomainPlugin = async (app, ctx) => {
  const registry = registryOf(ctx);
  let ownSource: RegistryModelSource | undefined;
  const source = (): ModelSource => {
    if (ctx.modelSource) return ctx.modelSource;
    ownSource ??= new RegistryModelSource(registry);
    return ownSource;
  };
  const jobs = ctx.embedded ? undefined : ctx.jobs;
  // Replicas on one PostgreSQL database, and the workers of one server, share the traffic of releases through the store;
  // a single server process keeps it in memory.
  const board = jobs && (ctx.store.dialect === 'postgres' || ctx.cluster) ? new TrafficBoard(ctx.store) : undefined;
  // Traffic hub: rollouts steer this server's serving and the `slipway serve --server` processes that follow it.
  const hub = new TrafficHub({ local: () => ctx.traffic, clock: ctx.clock, logger: ctx.logger, ...(board ? { board } : {}) });
  // On the board, this replica's serving follows the published split like any serving process.
  const follower = board
    ? new LocalTrafficFollower({ link: hub.boardLink(), traffic: () => ctx.traffic, servedNames: () => ctx.servedModelNames?.() ?? [], logger: ctx.logger })
    : undefined;
  // An embedded command-line process serves nothing and no serving process follows it: it has no live traffic.
  const traffic = () => (ctx.embedded && !ctx.traffic ? undefined : hub);
  const service = new ReleaseService({ store: ctx.store, registry, artifacts: ctx.artifacts, traffic, embedded: ctx.embedded === true, ...(ctx.config.auth.enabled ? { protectedEnvironments: ctx.config.auth.protectedEnvironments } : {}), clock: ctx.clock, logger: ctx.logger });
  const runner = new ReleaseRunner({
    service,
    registry,
    store: ctx.store,
    ...(ctx.artifacts ? { artifacts: ctx.artifacts } : {}),
    traffic,
    runGate,
    resolveModel: (name, version) => source().resolve({ name, version }),
    holdoutPath: (ref) => holdoutPath(ctx, ref),
    startPrivateServer: (models) => startPrivateServer(ctx, models),
    onRolledBack: (release, evidence) => {
      rollbackCounter().inc({ model: release.model });
      void announceRollback(ctx, release, evidence).catch((err: unknown) => ctx.logger.warn({ err, release: release.id }, 'release: rollback webhooks failed'));
    },
    clock: ctx.clock,
    logger: ctx.logger,
  });
  if (jobs) {
    // Among replicas, the holder of the releases lease alone drives releases (gates, rollouts, canary analysis);
    // a release started through another replica is picked up by the holder's next pass.
    service.attachScheduler({ schedule: (id) => (jobs.holds(RELEASES_JOB) ? runner.schedule(id) : undefined), cancel: (release) => runner.cancel(release) });
  } else {
    service.attachScheduler(runner);
  }
  registerNativeRoutes(app, NATIVE_PREFIX, releaseRoutes(() => service), ctx);
  // Traffic hub: the routes serving processes poll and report to.
  registerNativeRoutes(app, NATIVE_PREFIX, trafficRoutes(() => hub), ctx);

  const stopping = new AbortController();
  alertActions.set(ctx, async (rule, action, firing) => {
    const outcome = await runAlertAction(service, rule, action, firing, { clock: ctx.clock, logger: ctx.logger, signal: stopping.signal });
    if (!outcome.ok) throw new Error(outcome.message);
  });

  // Recovery waits for the app to be ready, so serving (registered earlier) has set up its traffic controller.
  // Only a server recovers: an embedded command-line process must not take over releases a server drives.
  if (jobs) {
    app.addHook('onReady', async () => {
      follower?.start();
      jobs.add({
        name: RELEASES_JOB,
        intervalMs: RELEASES_JOB_INTERVAL_MS,
        onAcquired: async ({ signal }) => {
          // A lost lease stops the drives at once: the next holder takes them over from the stored state.
          signal.addEventListener('abort', () => void runner.pause(), { once: true });
        },
        run: async () => runner.recover(),
      });
    });
  } else if (!ctx.embedded) {
    app.addHook('onReady', async () => {
      await runner.recover().catch((err: unknown) => ctx.logger.error({ err }, 'release: recovery failed'));
    });
  }
  // First among the close hooks: runners stop before serving drains and releases its models.
  ctx.onClose.unshift(async () => {
    stopping.abort();
    await runner.close();
    // A split this replica drove stays published; without its driver saying so, the others roll it back.
    await follower?.close();
    hub.close();
    ownSource?.close();
  });
  // Closing the app alone (tests, embedders) stops the runners too.
  app.addHook('onClose', async () => {
    await runner.close();
    await follower?.close();
    hub.close();
  });
};

export default releases;
