/** `slipway server`: run the tracking, registry and artifact server until SIGTERM or SIGINT. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import { EXIT, addHelpEpilogue, errorLine, positiveInt, printError, printWarning, processStreams, runAction, usageErrorsExit2 } from '../output.js';
import cluster from 'node:cluster';
import { SlipwayError } from '../../core/errors.js';
import { MAX_TIMER_DURATION_MS, SILENT, durationFlag, inClusterWorker, workerCount } from './serve.js';

interface ServerFlags {
  host?: string;
  port?: number;
  backendStoreUri?: string;
  artifactsDestination?: string;
  defaultArtifactRoot?: string;
  serveArtifacts?: boolean;
  config?: string;
  logLevel?: string;
  bodyLimit?: number;
  /** --request-timeout, in ms. */
  requestTimeout?: number;
  modelControl?: string;
  modelSourceAllowedDirs?: string;
  allowedHosts?: string;
  corsAllowedOrigins?: string;
  auth?: boolean;
  allowAnonymous?: boolean;
  authDefaultPermission?: string;
  protectedEnvironments?: string;
  /** --shutdown-timeout, in ms. */
  shutdownTimeout: number;
  workers?: number;
}

/** How long a graceful shutdown may take before the process exits anyway, in ms. @default 10 s */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

function portNumber(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > 65535) throw new InvalidArgumentError('--port must be an integer between 0 and 65535 (0 picks a free port).');
  return n;
}

function modelControl(raw: string): string {
  if (raw !== 'none' && raw !== 'explicit') throw new InvalidArgumentError('--model-control must be one of none, explicit.');
  return raw;
}

/** Registers `slipway server`. */
export function register(program: Command): void {
  const cmd = program
    .command('server')
    .description('Run the Slipway server (MLflow-compatible tracking, registry and artifacts, native API, serving, and the web UI at /)')
    .option('--host <host>', 'interface to listen on (default: 127.0.0.1, env SLIPWAY_HOST)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: 5000, env SLIPWAY_PORT)', portNumber)
    .option('--backend-store-uri <uri>', 'metadata store: sqlite:///path.db or postgresql://… (default: $SLIPWAY_HOME/slipway.db)')
    .option('--artifacts-destination <path>', 'artifact folder, or s3://bucket/prefix with endpoint, region and credentials from the AWS environment (default: $SLIPWAY_HOME/artifacts, env SLIPWAY_ARTIFACTS_DESTINATION)')
    .option('--default-artifact-root <uri>', 'where new experiments keep artifacts: mlflow-artifacts: (through this server) or file:///folder that clients write to directly (default: mlflow-artifacts:, env SLIPWAY_DEFAULT_ARTIFACT_ROOT)')
    .option('--serve-artifacts', 'serve the MLflow artifact proxy routes /api/2.0/mlflow-artifacts/… (default, env SLIPWAY_SERVE_ARTIFACTS)')
    .option('--no-serve-artifacts', 'do not serve them: clients write to the --default-artifact-root folder directly')
    .option('--config <file>', 'config file (default: ./slipway.yaml when present)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info, env SLIPWAY_LOG_LEVEL)')
    .option('--body-limit <bytes>', 'largest accepted JSON request body (default: 16 MiB, env SLIPWAY_BODY_LIMIT)', positiveInt('--body-limit'))
    .option('--request-timeout <duration>', 'longest time a client may take to send one request, e.g. 30s or 5m; 0 turns it off (default: 5m, env SLIPWAY_REQUEST_TIMEOUT)', durationFlag('--request-timeout', { allowZero: true, min: 1, max: MAX_TIMER_DURATION_MS, suggest: ['s', 'ms'] }))
    .option('--model-control <mode>', 'none (the repository load/unload API is refused) or explicit (it loads and unloads models) (default: none, env SLIPWAY_MODEL_CONTROL)', modelControl)
    .option('--model-source-allowed-dirs <list>', 'comma-separated folders besides the artifact store that models may be loaded from (env SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS)')
    .option('--allowed-hosts <list>', 'comma-separated Host names the server answers besides loopback names, IP addresses and --host; *.domain and name:port allowed (env SLIPWAY_ALLOWED_HOSTS)')
    .option('--cors-allowed-origins <list>', 'comma-separated origins whose browser requests may change state besides the server\'s own (env SLIPWAY_CORS_ALLOWED_ORIGINS)')
    .option('--auth', 'access control: every request needs a user (HTTP Basic) or a token (Bearer) with the permission for it; the first start creates the admin user (password from SLIPWAY_ADMIN_PASSWORD, else printed once) (env SLIPWAY_AUTH)')
    .option('--auth-default-permission <permission>', 'permission of users on objects without a grant: READ, EDIT, MANAGE or NO_PERMISSIONS (default: READ, env SLIPWAY_AUTH_DEFAULT_PERMISSION)')
    .option('--protected-environments <list>', 'with --auth, the environments whose releases need an approval by someone other than the requester, comma-separated (default: champion,production, env SLIPWAY_PROTECTED_ENVIRONMENTS)')
    .option('--workers <n>', 'processes answering on the port (tracking, registry, UI and serving), each with its own event loop (default: the number of CPUs, env SLIPWAY_SERVER_WORKERS)', positiveInt('--workers'))
    .option('--allow-anonymous', 'listen beyond loopback without access control anyway (refused otherwise) (env SLIPWAY_ALLOW_ANONYMOUS)')
    .addOption(
      new Option('--shutdown-timeout <duration>', 'longest graceful shutdown before exiting anyway, e.g. 15s')
        .argParser(durationFlag('--shutdown-timeout', { min: 1, max: MAX_TIMER_DURATION_MS, suggest: ['s', 'ms'] }))
        .default(DEFAULT_SHUTDOWN_TIMEOUT_MS, formatDuration(DEFAULT_SHUTDOWN_TIMEOUT_MS)),
    )
    .action(runAction((flags: ServerFlags) => (inClusterWorker() ? serverAsWorker(flags) : runServer(flags)), inClusterWorker() ? SILENT : undefined));
  usageErrorsExit2(cmd);
  addHelpEpilogue(cmd, {
    examples: [
      'slipway server  # http://127.0.0.1:5000, store and artifacts under ./.slipway',
      'slipway server --host 0.0.0.0 --port 5001 --auth --backend-store-uri postgresql://slipway@db/slipway',
      'SLIPWAY_ADMIN_PASSWORD=… slipway server --auth  # users need a password or a token; the admin is admin',
      'slipway server --request-timeout 5m --shutdown-timeout 15s',
      'slipway server --default-artifact-root file:///srv/mlruns --no-serve-artifacts  # clients write artifacts to /srv/mlruns',
      'slipway server --workers 8 --backend-store-uri postgresql://slipway@db/slipway  # 8 processes on one port',
      'MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py',
    ],
    exitCodes: { 1: 'the port is taken, the store cannot be opened, or shutdown failed', 2: 'bad usage, a setting that cannot be used (a folder, a log level), or a non-loopback --host without --auth or --allow-anonymous' },
    docs: ['cli.md', 'configuration.md'],
  });
}

async function resolveServerConfig(flags: ServerFlags) {
  const { resolveConfig } = await import('../../config.js');
  return resolveConfig({
    host: flags.host,
    port: flags.port,
    backendStoreUri: flags.backendStoreUri,
    artifactsDestination: flags.artifactsDestination,
    defaultArtifactRoot: flags.defaultArtifactRoot,
    serveArtifacts: flags.serveArtifacts,
    logLevel: flags.logLevel,
    bodyLimit: flags.bodyLimit,
    requestTimeout: flags.requestTimeout,
    modelControl: flags.modelControl,
    modelSourceAllowedDirs: flags.modelSourceAllowedDirs,
    allowedHosts: flags.allowedHosts,
    corsAllowedOrigins: flags.corsAllowedOrigins,
    auth: flags.auth,
    authDefaultPermission: flags.authDefaultPermission,
    protectedEnvironments: flags.protectedEnvironments,
    allowAnonymous: flags.allowAnonymous,
    config: flags.config,
  });
}

/** Shown once, on the terminal only: it is in no log and cannot be shown again. */
function printGeneratedPassword(password: string | undefined): void {
  if (password === undefined) return;
  processStreams.err(`Access control is on. The first admin is 'admin' with the one-time password:\n\n  ${password}\n\nIt is shown only now; change it with slipway users, or set SLIPWAY_ADMIN_PASSWORD before the first start.\n`);
}

/** The HTTP drain leaves a fifth of the shutdown time (at least 1 s) to the close hooks and the store. */
function drainTimeoutOf(shutdownMs: number): number {
  return Math.max(0, shutdownMs - Math.max(1000, shutdownMs / 5));
}

async function runServer(flags: ServerFlags): Promise<number> {
  const config = await resolveServerConfig(flags);
  for (const warning of config.warnings) printWarning(warning);
  const { cpuBudget } = await import('../../core/cpu-budget.js');
  // Run as a worker of another process manager's cluster (pm2 and the like): that manager makes the processes.
  const workers = cluster.isWorker ? 1 : workerCount(flags.workers, config.serverWorkers, cpuBudget(), config.modelControl === 'explicit', 'serverWorkers (SLIPWAY_SERVER_WORKERS)');
  if (workers > 1 && config.modelControl === 'explicit') {
    throw new SlipwayError('INVALID_ARGUMENT', `--model-control explicit loads and unloads models in the process that takes the request, so ${workers} workers would serve different models: use --workers 1 with it.`, { workers });
  }
  const { startServer, prepareServer, redactUri } = await import('../../server/start-server.js');
  const shutdownMs = flags.shutdownTimeout;
  const readyLine = (url: string, extra = '') => `Slipway server ready at ${url} (store ${redactUri(config.backendStoreUri)}, artifacts ${config.artifactsDestination}${extra})\n`;
  if (workers > 1) {
    const [{ runClusterPrimary }, { createServerLogger }] = await Promise.all([import('../../server/cluster/supervisor.js'), import('../../server/start-server.js')]);
    const logger = createServerLogger(config.logLevel);
    // The store, the audit keys and the first admin are made once, here, before the workers open them.
    const prepared = await prepareServer(config, { logger });
    printGeneratedPassword(prepared.generatedAdminPassword);
    return runClusterPrimary({
      workers,
      logger,
      startTimeoutMs: 15 * 60_000,
      shutdownTimeoutMs: shutdownMs + 2000,
      onReady: (running) => {
        processStreams.out(readyLine(String(running.info.url), `, ${workers} workers`));
        logger.info({ url: running.info.url, workers }, 'server ready');
      },
    });
  }
  const server = await startServer(config, { drainTimeoutMs: drainTimeoutOf(shutdownMs) });
  printGeneratedPassword(server.generatedAdminPassword);
  processStreams.out(readyLine(server.url));
  server.ctx.logger.info({ url: server.url, store: server.ctx.store.dialect }, 'server ready');
  stopOnSignals(server, shutdownMs);
  return EXIT.OK;
}

/**
 * Drains and closes `server` on SIGTERM or SIGINT, then exits; a second signal exits at once — except
 * in a worker, which hears Ctrl-C (or a signal to the whole process group) and then its primary's
 * SIGTERM for the same stop, and goes on draining.
 */
function stopOnSignals(server: { close(): Promise<void>; ctx: { logger: { info(o: object, m: string): void } } }, shutdownMs: number, worker = false): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (worker) return;
      // A second signal means "now": skip the drain.
      process.exit(EXIT.FAILED);
    }
    stopping = true;
    server.ctx.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      processStreams.err(errorLine(`shutdown did not finish within ${formatDuration(shutdownMs)} (--shutdown-timeout); exiting.`));
      process.exit(EXIT.FAILED);
    }, shutdownMs);
    timer.unref();
    server.close().then(
      () => {
        clearTimeout(timer);
        process.exit(EXIT.OK);
      },
      (err: unknown) => {
        printError(err);
        process.exit(EXIT.FAILED);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * A worker of `slipway server --workers N`: serves on the primary's port and reports to it (ready, or
 * why it could not start) instead of the terminal; SIGTERM from the primary drains it.
 */
async function serverAsWorker(flags: ServerFlags): Promise<number> {
  const link = await import('../../server/cluster/worker-link.js');
  try {
    const config = await resolveServerConfig(flags);
    const [{ startServer, createServerLogger }, { joinServerCluster }, { getMetricsRegistry }] = await Promise.all([
      import('../../server/start-server.js'),
      import('../../server/cluster/server-cluster.js'),
      import('../../server/metrics-registry.js'),
    ]);
    const logger = createServerLogger(config.logLevel, { pid: process.pid, worker: Number(process.env.SLIPWAY_CLUSTER_WORKER) });
    const server = await startServer(config, { logger, drainTimeoutMs: drainTimeoutOf(flags.shutdownTimeout), cluster: joinServerCluster(getMetricsRegistry()) });
    link.reportReady({ url: server.url });
    stopOnSignals(server, flags.shutdownTimeout, true);
    return EXIT.OK;
  } catch (err) {
    const [{ isSlipwayError }, { exitCodeFor }] = await Promise.all([import('../../core/errors.js'), import('../output.js')]);
    await link.reportFailure(isSlipwayError(err) ? err.code : 'INTERNAL', err instanceof Error ? err.message : String(err));
    setImmediate(() => process.exit(exitCodeFor(err)));
    throw err;
  }
}
