/**
 * Starts a Slipway server from a resolved config: opens the store and the artifact
 * folder, builds the app, listens, and knows how to shut down gracefully (stop
 * accepting, finish in-flight requests, run the close hooks, close the store).
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { openArtifactStore } from '../artifacts/open-artifact-store.js';
import { attachAuditTrail } from '../audit/audit-trail.js';
import type { ResolvedConfig } from '../config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { ensureDirSync } from '../core/ensure-dir.js';
import { JobRunner } from '../core/job-leases.js';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import { redactUri } from '../core/redact-uri.js';
import type { Logger } from '../core/logger.js';
import { openJobLeases } from '../store/job-leases.js';
import { openStore, type Store } from '../store/store.js';
import { buildApp } from './app.js';
import { publishJobLeases } from './job-metrics.js';
import { checkListenAddress, listenProblem } from './listen-address.js';
import type { ServerContext } from './context.js';
import type { ServerCluster } from './cluster/server-cluster.js';
import type { AccessNotice } from '../access/access-service.js';

/** A listening server. */
export interface StartedServer {
  /** The base URL clients use, with the actual port (also when 0 was asked for). */
  url: string;
  port: number;
  app: FastifyInstance;
  ctx: ServerContext;
  /**
   * The one-time password of the first admin when access control created it without SLIPWAY_ADMIN_PASSWORD: the
   * caller prints it once (stderr) and never logs it.
   */
  generatedAdminPassword?: string;
  /** Stops accepting, drains in-flight requests, runs `ctx.onClose` hooks and closes the store. */
  close(): Promise<void>;
}

/** Options for embedding or testing; the CLI passes none. */
export interface StartServerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Longest HTTP drain on shutdown, in ms. @default 10000 */
  drainTimeoutMs?: number;
  /** The first admin's password when access control is on and no admin exists. @default env SLIPWAY_ADMIN_PASSWORD, else a generated one */
  adminPassword?: string;
  /** Set in a worker of `slipway server --workers N`: the cluster it belongs to (the primary checked the port and prepared the store). */
  cluster?: ServerCluster;
}

/** True for names and addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * Refuses to listen beyond loopback without access control: anyone who reaches the port could delete every
 * experiment and move every alias. Both ways out are named.
 */
export function checkAccessPolicy(config: ResolvedConfig): void {
  if (config.auth.enabled || config.auth.allowAnonymous || isLoopbackHost(config.host)) return;
  throw new SlipwayError(
    'INVALID_ARGUMENT',
    `Refusing to listen on ${config.host} without access control: anyone who can reach this address could change or delete every experiment, model and alias. Turn access control on with --auth (SLIPWAY_AUTH=1, auth.enabled in slipway.yaml), or accept anonymous access knowingly with --allow-anonymous (SLIPWAY_ALLOW_ANONYMOUS=1).`,
    { host: config.host },
  );
}

/** The store URI with any password masked, safe to print. */
export { redactUri };

/**
 * Fields that never reach the log, wherever a log call puts them (defence in depth: no code logs them on purpose):
 * credentials in headers, passwords, token secrets and their hashes, one and two levels deep.
 */
export const SECRET_LOG_PATHS = [
  'authorization', 'password', 'secret', 'token', 'tokenHash', 'passwordHash',
  '*.authorization', '*.password', '*.secret', '*.token', '*.tokenHash', '*.passwordHash',
  'headers.authorization', '*.headers.authorization', 'headers.cookie', '*.headers.cookie',
] as const;

/** Creates the pino logger the server writes to stderr (stdout carries only the ready line). */
export function createServerLogger(level: string, base: Record<string, unknown> = {}): Logger {
  try {
    return pino({ level, base: { name: 'slipway', ...base }, redact: { paths: [...SECRET_LOG_PATHS], censor: '[redacted]' } }, pino.destination({ dest: 2, sync: true }));
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `Log level '${level}' is not one of fatal, error, warn, info, debug, trace, silent: ${(err as Error).message}`);
  }
}

/** The cluster lock the workers of one server write their SQLite file under. */
const SQLITE_WRITE_TURN = 'sqlite.write';

async function openMetadataStore(config: ResolvedConfig, clock: Clock, cluster?: ServerCluster): Promise<Store> {
  const uri = config.backendStoreUri;
  // The workers of one server take turns writing a SQLite file through their primary rather than polling its lock.
  const sqliteWriteTurn = cluster
    ? async (waitMs: number) => {
        const release = await cluster.lock(SQLITE_WRITE_TURN, { waitMs });
        if (!release) throw new Error('the SQLite write turn was not given');
        return release;
      }
    : undefined;
  try {
    return await openStore(uri, { clock, statementTimeoutMs: config.statementTimeoutMs, defaultArtifactRoot: config.defaultArtifactRoot, ...(sqliteWriteTurn ? { sqliteWriteTurn } : {}) });
  } catch (err) {
    if (isSlipwayError(err) && err.code === 'INVALID_ARGUMENT') throw err;
    const why = redactUri((err as Error).message ?? String(err));
    throw new SlipwayError('UNAVAILABLE', `Cannot open the metadata store ${redactUri(uri)}: ${why}`, { uri: redactUri(uri) });
  }
}

/** A folder Slipway cannot create or use, as the user's setting to correct (other errors unchanged). */
function folderProblem(err: NodeJS.ErrnoException, path: string, what: string): Error {
  const why: Record<string, string> = {
    EEXIST: 'a file is in the way',
    ENOTDIR: 'a file is in the way',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOENT: 'folders cannot be created there',
  };
  const reason = err.code ? why[err.code] : undefined;
  return reason ? new SlipwayError('INVALID_ARGUMENT', `Cannot use '${path}' as ${what}: ${reason}.`) : err;
}

/** Makes sure the artifact store can be used: the folder exists and takes writes, or the bucket answers; the error names the setting. */
async function checkArtifactStore(config: ResolvedConfig, artifacts: ServerContext['artifacts'], logger: Logger): Promise<void> {
  try {
    if (!config.s3Artifacts) ensureDirSync(config.artifactsDestination);
    // An existing folder may still refuse writes (read-only mount, permissions), and a bucket may be missing, unreachable
    // or closed to these credentials: say so now (naming the setting), not at the first upload.
    await artifacts?.checkWritable?.().catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      // A full disk may be freed while the server runs; health reports it meanwhile.
      if (code === 'ENOSPC' || code === 'EDQUOT') logger.warn({ err }, 'the artifact folder has no space left');
      else throw err;
    });
  } catch (err) {
    throw folderProblem(err as NodeJS.ErrnoException, config.artifactsDestination, 'the artifact folder');
  }
}

function isAccessNotice(v: unknown): v is AccessNotice {
  const n = v as AccessNotice;
  return typeof n === 'object' && n !== null && typeof n.key === 'string' && ['user', 'token', 'permissions', 'failure'].includes(n.kind);
}

/**
 * What the primary of `slipway server --workers N` does once, before it starts the workers: checks the
 * access policy and the port, creates and migrates the store, checks the artifact store, creates the
 * audit keys and the first admin. Each of these would otherwise race between workers starting at the
 * same moment (and a generated admin password would be printed by each). Resolves with that password.
 */
export async function prepareServer(config: ResolvedConfig, opts: Pick<StartServerOptions, 'adminPassword' | 'logger'> = {}): Promise<{ generatedAdminPassword?: string }> {
  const logger = opts.logger ?? createServerLogger(config.logLevel);
  checkAccessPolicy(config);
  await checkListenAddress(config.host, config.port);
  const store = await openMetadataStore(config, systemClock);
  // Attached while the first admin is made, so that event is signed like every other.
  let auditTrail: ReturnType<typeof attachAuditTrail> | undefined;
  try {
    await checkArtifactStore(config, await openArtifactStore(config.artifactsDestination, config.s3Artifacts), logger);
    auditTrail = attachAuditTrail(store, { ...config.audit, logger });
    if (!config.auth.enabled) return {};
    const { AccessService } = await import('../access/access-service.js');
    const access = new AccessService({ store, defaultPermission: config.auth.defaultPermission, logger });
    const { generatedPassword } = await access.ensureAdmin(opts.adminPassword ?? (process.env.SLIPWAY_ADMIN_PASSWORD || undefined));
    return generatedPassword !== undefined ? { generatedAdminPassword: generatedPassword } : {};
  } finally {
    await auditTrail?.close();
    await store.close();
  }
}

/** Opens everything the config names and listens on its host and port. */
export async function startServer(config: ResolvedConfig, opts: StartServerOptions = {}): Promise<StartedServer> {
  const logger = opts.logger ?? createServerLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  checkAccessPolicy(config);
  // A taken port is reported before the store opens and any registered model starts loading (by the primary, for workers).
  if (!opts.cluster) await checkListenAddress(config.host, config.port);
  const store = await openMetadataStore(config, clock, opts.cluster);
  const ctx: ServerContext = {
    config,
    store,
    logger,
    clock,
    artifacts: await openArtifactStore(config.artifactsDestination, config.s3Artifacts),
    inferenceObservers: [],
    onClose: [],
    ...(opts.drainTimeoutMs !== undefined ? { drainTimeoutMs: opts.drainTimeoutMs } : {}),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
  };
  let app: FastifyInstance | undefined;
  let generatedAdminPassword: string | undefined;
  try {
    await checkArtifactStore(config, ctx.artifacts, logger);
    // Replicas on one store compete for each background job's lease; closing hands them over at once.
    const leases = await openJobLeases(store, { logger });
    const jobs = new JobRunner({ leases, logger, ttlMs: config.jobLeaseMs });
    ctx.jobs = jobs;
    const unpublish = publishJobLeases(jobs as JobRunner<never>);
    ctx.onClose.push(async () => {
      unpublish();
      await jobs.close();
      await leases.close();
    });
    // Audit events are signed from the first request on; closing writes the last checkpoint.
    const auditTrail = attachAuditTrail(store, { ...config.audit, clock, logger });
    ctx.onClose.push(() => auditTrail.close());
    if (config.auth.enabled) {
      const { AccessService } = await import('../access/access-service.js');
      const access = new AccessService({ store, defaultPermission: config.auth.defaultPermission, clock, logger });
      const bootstrap = await access.ensureAdmin(opts.adminPassword ?? (process.env.SLIPWAY_ADMIN_PASSWORD || undefined));
      generatedAdminPassword = bootstrap.generatedPassword;
      ctx.access = access;
      const cluster = opts.cluster;
      if (cluster) {
        // A revoked token or a changed password stops working in every worker at once; failed sign-ins count toward one limit.
        access.onNotice((notice) => cluster.publish('access', notice));
        cluster.subscribe('access', (payload) => {
          if (isAccessNotice(payload)) access.applyNotice(payload);
        });
      }
    }
    app = await buildApp(ctx);
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    // Work the plugins started (a registered model loading in the background, audit checkpoints) ends before the
    // store closes under it, so a failed start reports its one error and nothing about a model load.
    await app?.close().catch(() => {});
    for (const hook of ctx.onClose) await Promise.resolve().then(hook).catch(() => {});
    await store.close().catch(() => {});
    throw listenProblem(err, config.host, config.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    app,
    ctx,
    ...(generatedAdminPassword !== undefined ? { generatedAdminPassword } : {}),
    close() {
      closing ??= (async () => {
        const failures: unknown[] = [];
        // The HTTP server drains itself (http-connections.ts): idle connections close once proven idle, late requests get 503.
        await app.close().catch((err: unknown) => failures.push(err));
        for (const hook of ctx.onClose) {
          try {
            await hook();
          } catch (err) {
            failures.push(err);
            logger.error({ err }, 'shutdown hook failed');
          }
        }
        await store.close().catch((err: unknown) => failures.push(err));
        if (failures.length > 0) throw new SlipwayError('INTERNAL', `Shutdown finished with ${failures.length} error(s); the log has details.`);
      })();
      return closing;
    },
  };
}
