/**
 * `slipway serve MODEL`: a standalone inference server for one model — a
 * registered `models:/NAME@ALIAS` / `models:/NAME/VERSION` or an .onnx file —
 * speaking the Open Inference Protocol and MLflow scoring, with /metrics.
 * A registered model is resolved where every other command finds tracked state
 * (connection.ts): on a server (`--server`, SLIPWAY_SERVER, an http(s)
 * MLFLOW_TRACKING_URI), whose files are downloaded into $SLIPWAY_HOME/model-cache,
 * or in the embedded store, read directly. Following a server, the process also takes part in
 * the server's releases (canary, shadow, blue-green) through a traffic agent (traffic-agent.ts).
 * SIGTERM or SIGINT stops accepting connections, drains in-flight requests and exits.
 */
import cluster from 'node:cluster';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatDuration, parseDuration, type DurationRules } from '../../core/duration.js';
import { SlipwayError } from '../../core/errors.js';
import { EXIT, addHelpEpilogue, formatJson, positiveInt, printWarning, runAction, usageErrorsExit2 } from '../output.js';

interface ServeFlags {
  name?: string;
  workers?: number;
  host?: string;
  port?: number;
  threads?: number;
  spinWait?: boolean;
  concurrency?: number;
  executor?: 'inline' | 'worker';
  maxBatchSize?: number;
  /** --max-queue-delay, in ms. */
  maxQueueDelay?: number;
  /** Deprecated --max-queue-delay-us, in µs. */
  maxQueueDelayUs?: number;
  preferredBatchSizes?: number[];
  maxQueueSize?: number;
  /** --deadline, in ms. */
  deadline?: number;
  /** Deprecated --deadline-ms. */
  deadlineMs?: number;
  nonFinite?: 'reject' | 'allow';
  bodyLimit?: number;
  /** --drain-timeout, in ms. */
  drainTimeout?: number;
  /** Deprecated --drain-timeout-ms. */
  drainTimeoutMs?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  columns?: string[];
  server?: string;
  token?: string;
  backendStoreUri?: string;
  /** --registry-poll, in ms. */
  registryPoll?: number;
  modelControl?: 'none' | 'explicit';
  modelSourceAllowedDirs?: string;
  allowedHosts?: string;
  corsAllowedOrigins?: string;
  config?: string;
  auth?: boolean;
  allowAnonymous?: boolean;
  json?: boolean;
}

/** Where `slipway serve` listens unless --port says otherwise: next to `slipway server` (5000), not on it. */
export const DEFAULT_SERVE_PORT = 8080;

/** How often a served alias is looked up on a server unless --registry-poll says otherwise. */
export const DEFAULT_REMOTE_POLL_MS = 5000;
/** How often the embedded store is read for alias moves made by other processes unless --registry-poll says otherwise. */
export const DEFAULT_LOCAL_POLL_MS = 1000;

function nonNegativeInt(name: string): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return n;
  };
}

/** Longest duration a timer-backed flag takes (Node timers overflow past ~24.8 days). */
export const MAX_TIMER_DURATION_MS = 86_400_000;

/**
 * A commander parser for a duration flag (`--deadline 250ms`): milliseconds, or a
 * usage error (exit 2) that names the flag and shows the form, e.g. for a bare number.
 */
export function durationFlag(name: string, rules: Omit<DurationRules, 'name'> = {}): (raw: string) => number {
  return (raw) => {
    try {
      return parseDuration(raw, { name, ...rules });
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** A flag spelled the old way, with its unit in the name: accepted, left out of --help. */
function deprecatedFlag(flags: string, parse: (raw: string) => number): Option {
  return new Option(flags).argParser(parse).hideHelp();
}

/**
 * The value of a duration flag in ms, from its new spelling or its deprecated one
 * (in that one's unit, with a `warning:` line naming the new spelling).
 */
export function durationFromFlags(current: { flag: string; ms: number | undefined }, old: { flag: string; value: number | undefined; unitMs: number }): number | undefined {
  if (old.value === undefined) return current.ms;
  if (current.ms !== undefined) throw new SlipwayError('INVALID_ARGUMENT', `Give ${current.flag} or ${old.flag}, not both; ${old.flag} is deprecated.`);
  const ms = old.value * old.unitMs;
  printWarning(`${old.flag} is deprecated; use ${current.flag} ${formatDuration(ms)}`);
  return ms;
}

function port(raw: string): number {
  const n = nonNegativeInt('--port')(raw);
  if (n > 65535) throw new InvalidArgumentError('--port must be between 0 and 65535.');
  return n;
}

function intList(raw: string): number[] {
  return raw.split(',').map((s) => positiveInt('--preferred-batch-sizes')(s));
}

function choice<T extends string>(name: string, allowed: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(allowed as readonly string[]).includes(raw)) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}.`);
    return raw as T;
  };
}

/** Registers `slipway serve`. */
export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('Serve one model over HTTP (Open Inference Protocol V2, MLflow /invocations, /metrics)')
    .argument('<model>', 'models:/NAME@ALIAS, models:/NAME/VERSION, or a path to an .onnx file')
    .option('--name <name>', 'name to serve the model under (default: the registered name, or the file name)')
    .option('--host <host>', 'interface to listen on (default: 127.0.0.1)')
    .option('--port <port>', `port to listen on; 0 picks a free one (default: ${DEFAULT_SERVE_PORT}; SLIPWAY_PORT is the server's)`, port)
    .option('--workers <n>', 'processes answering on the port, each with its own event loop and model sessions (default: the number of CPUs, env SLIPWAY_SERVING_WORKERS)', positiveInt('--workers'))
    .option('--threads <n>', 'onnxruntime intra-op threads per session (default: CPUs per worker, at most 4)', positiveInt('--threads'))
    .option('--spin-wait', "let onnxruntime's threads spin between operators (faster on dedicated cores, steals CPU on shared ones)")
    .option('--graph-optimization <level>', 'onnxruntime graph optimisation: disabled, basic, extended, all', choice('--graph-optimization', ['disabled', 'basic', 'extended', 'all'] as const))
    .option('--concurrency <n>', 'batches in flight at once (worker threads with --executor worker)', positiveInt('--concurrency'))
    .option('--executor <kind>', 'inline (on the JavaScript thread) or worker (one session per worker thread)', choice('--executor', ['inline', 'worker'] as const))
    .option('--max-batch-size <rows>', 'largest batch in rows (1 disables batching)', positiveInt('--max-batch-size'))
    .option('--max-queue-delay <duration>', 'how long a batch may wait for more rows, e.g. 500us or 2ms; 0 sends at once (default: 0, env SLIPWAY_SERVING_MAX_QUEUE_DELAY)', durationFlag('--max-queue-delay', { allowZero: true, max: MAX_TIMER_DURATION_MS, suggest: ['us', 'ms'] }))
    .addOption(deprecatedFlag('--max-queue-delay-us <us>', nonNegativeInt('--max-queue-delay-us')))
    .option('--preferred-batch-sizes <list>', 'comma-separated batch sizes sent at once when reached', intList)
    .option('--max-queue-size <n>', 'queued requests beyond which new ones get 503 + Retry-After', positiveInt('--max-queue-size'))
    .option('--deadline <duration>', 'per-request deadline, e.g. 250ms or 30s; header x-slipway-deadline-ms overrides (default: 30s, env SLIPWAY_SERVING_DEADLINE)', durationFlag('--deadline', { min: 1, max: MAX_TIMER_DURATION_MS }))
    .addOption(deprecatedFlag('--deadline-ms <ms>', positiveInt('--deadline-ms')))
    .option('--non-finite <policy>', 'NaN/Infinity in inputs: reject (400) or allow', choice('--non-finite', ['reject', 'allow'] as const))
    .option('--body-limit <bytes>', 'largest request body', positiveInt('--body-limit'))
    .option('--drain-timeout <duration>', 'how long shutdown waits for in-flight requests, e.g. 10s (default: 10s)', durationFlag('--drain-timeout', { allowZero: true, max: MAX_TIMER_DURATION_MS }))
    .addOption(deprecatedFlag('--drain-timeout-ms <ms>', nonNegativeInt('--drain-timeout-ms')))
    .option('--columns <list>', 'input column names of an .onnx file, comma-separated (for MLflow dataframes)', (raw: string) => raw.split(',').map((s) => s.trim()))
    .option('--server <url>', 'resolve models:/ references on this Slipway server, downloading the files into $SLIPWAY_HOME/model-cache (default: $SLIPWAY_SERVER, else an http(s) $MLFLOW_TRACKING_URI, else the embedded store)')
    .option('--token <token>', 'API token sent to --server as a bearer token (default: $SLIPWAY_TOKEN, else $MLFLOW_TRACKING_TOKEN)')
    .option('--backend-store-uri <uri>', 'read models:/ references from this store directly instead of a server (default: $SLIPWAY_HOME/slipway.db)')
    .option('--registry-poll <duration>', 'how often to look where a served alias points, e.g. 5s; 0 turns it off (default: 5s on a server, 1s on the embedded store)', durationFlag('--registry-poll', { allowZero: true, min: 100, max: MAX_TIMER_DURATION_MS }))
    .option('--model-control <mode>', 'none (the repository load/unload API is refused) or explicit (it loads and unloads models) (default: none, env SLIPWAY_MODEL_CONTROL)', choice('--model-control', ['none', 'explicit'] as const))
    .option('--model-source-allowed-dirs <list>', 'comma-separated folders besides the artifact store that models may be loaded from (env SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS)')
    .option('--allowed-hosts <list>', 'comma-separated Host names answered besides loopback names, IP addresses and --host; *.domain and name:port allowed (env SLIPWAY_ALLOWED_HOSTS)')
    .option('--cors-allowed-origins <list>', "comma-separated origins whose browser requests may change state besides the server's own (env SLIPWAY_CORS_ALLOWED_ORIGINS)")
    .option('--auth', 'require credentials for inference: READ on the served model, checked in the embedded store or, with --server, by that server (cached 60 s); health stays open (env SLIPWAY_AUTH)')
    .option('--allow-anonymous', 'listen beyond loopback without --auth, knowingly (env SLIPWAY_ALLOW_ANONYMOUS)')
    .option('--config <file>', 'config file (default: ./slipway.yaml when present)')
    .option('--json', 'print the listening address as JSON')
    .action(runAction(async (model: string, flags: ServeFlags) => (inClusterWorker() ? serveAsWorker(model, flags) : serve(model, flags)), inClusterWorker() ? SILENT : undefined));
  usageErrorsExit2(cmd);
  cmd.addHelpText(
    'after',
    [
      '',
      'Sizing for a machine:',
      '  --workers  one per core (the default) for small models, where HTTP and JSON',
      '             cost more than inference; fewer for large models, each with more',
      '             --threads (keep workers x threads <= cores)',
      '  --threads  cores / workers by default (at most 4); more pays for large layers',
      '  batching   --max-batch-size 32-64 with --max-queue-delay 200us-1ms lets many',
      '             1-row callers share one run',
    ].join('\n'),
  );
  addHelpEpilogue(cmd, {
    examples: [
      'slipway serve model.onnx  # http://127.0.0.1:8080/v2/models/model/infer',
      'slipway serve models:/cancer@champion --port 9000',
      'slipway serve models:/cancer@champion --server https://slipway.example.com --token "$TOKEN"  # follows the alias on a server',
      'SLIPWAY_SERVER=https://slipway.example.com slipway serve models:/cancer/3 --registry-poll 30s',
      'slipway serve models:/cancer/3 --max-batch-size 32 --max-queue-delay 500us --json',
      'slipway serve model.onnx --deadline 250ms --drain-timeout 30s',
      'slipway serve models:/cancer@champion --workers 8 --threads 2  # 8 processes on one port, 2 onnxruntime threads each',
      'slipway serve models:/cancer@champion --auth --host 0.0.0.0  # callers need READ on cancer',
    ],
    exitCodes: {
      1: 'the port is taken, the Slipway server cannot be reached or has no servable version for the reference, or the server failed',
      2: 'bad usage (e.g. --server with --backend-store-uri), a malformed model URI, an unknown alias, or a model that is missing, not ONNX or cannot be loaded',
    },
    docs: ['serving.md', 'cli.md'],
  });
}

/** A worker of `slipway serve --workers N` or `slipway server --workers N` (forked by the command itself): it reports to the primary instead of the terminal. */
export function inClusterWorker(): boolean {
  return cluster.isWorker && process.env.SLIPWAY_CLUSTER_WORKER !== undefined;
}

/** A worker prints nothing: the primary prints the ready line, or the error of the worker that failed. */
export const SILENT = { out: () => {}, err: () => {} };

async function serveAsWorker(model: string, flags: ServeFlags): Promise<number> {
  // A worker's channel to the primary keeps it alive: once it has drained, or failed to start, it exits itself.
  try {
    const code = await serve(model, flags);
    setImmediate(() => process.exit(code));
    return code;
  } catch (err) {
    const [{ reportFailure }, { isSlipwayError }, { exitCodeFor }] = await Promise.all([import('../../server/cluster/worker-link.js'), import('../../core/errors.js'), import('../output.js')]);
    await reportFailure(isSlipwayError(err) ? err.code : 'INTERNAL', err instanceof Error ? err.message : String(err));
    setImmediate(() => process.exit(exitCodeFor(err)));
    throw err;
  }
}

/**
 * How many processes answer: --workers, else the setting, else one per CPU — but one with
 * `--model-control explicit`, whose loads and unloads change the process that takes them.
 */
export function workerCount(requested: number | undefined, configured: number | undefined, cpus: number, explicitControl: boolean, setting: string): number {
  const n = requested ?? configured ?? (explicitControl ? 1 : cpus);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1024) throw new SlipwayError('INVALID_ARGUMENT', `${setting} must be an integer from 1 to 1024, got ${String(n)}.`);
  return n;
}

async function serve(model: string, flags: ServeFlags): Promise<number> {
  // What the primary of several workers needs too; HTTP, onnxruntime and metrics are loaded further down, by the process that serves.
  const [{ resolveConfig }, { basename, extname }, { parseModelUri }, { resolveServingOptions }, { onnxFileProblem }, { checkListenAddress, listenProblem }] = await Promise.all([
    import('../../config.js'),
    import('node:path'),
    import('../../core/model-source.js'),
    import('../../serving/serving-options.js'),
    import('../../serving/onnx-file.js'),
    import('../../server/listen-address.js'),
  ]);
  const ref = parseModelUri(model);
  if (!ref && model.startsWith('models:')) throw new SlipwayError('INVALID_ARGUMENT', `'${model}' is not a model URI: use models:/NAME@ALIAS or models:/NAME/VERSION.`);
  if (!ref && flags.server !== undefined) {
    throw new SlipwayError('INVALID_ARGUMENT', `--server names where models:/ references are resolved; ${model} is a file, served as it is: drop --server, or serve models:/NAME@ALIAS.`);
  }
  // Only a registered model needs the registry: a file is served without any server or store.
  const { resolveTarget, authorizationFor } = await import('../connection.js');
  const target = ref ? resolveTarget(flags) : undefined;
  const config = resolveConfig({
    host: flags.host,
    backendStoreUri: target?.kind === 'embedded' ? target.backendStoreUri : undefined,
    modelControl: flags.modelControl,
    modelSourceAllowedDirs: flags.modelSourceAllowedDirs,
    allowedHosts: flags.allowedHosts,
    corsAllowedOrigins: flags.corsAllowedOrigins,
    auth: flags.auth,
    allowAnonymous: flags.allowAnonymous,
    config: flags.config,
  });
  if (config.auth.enabled && !ref) {
    throw new SlipwayError('INVALID_ARGUMENT', `--auth checks READ on a registered model, and ${model} is a file: serve models:/NAME@ALIAS or models:/NAME/VERSION, or drop --auth.`);
  }
  // As on `slipway server`: anyone who reaches a non-loopback address could use the model.
  const { isLoopbackHost } = await import('../../server/start-server.js');
  if (!config.auth.enabled && !config.auth.allowAnonymous && !isLoopbackHost(config.host)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Refusing to listen on ${config.host} without access control: anyone who can reach this address could run the model. Require credentials with --auth (SLIPWAY_AUTH=1), or accept anonymous access knowingly with --allow-anonymous (SLIPWAY_ALLOW_ANONYMOUS=1).`,
      { host: config.host },
    );
  }
  for (const warning of config.warnings) printWarning(warning);
  const maxQueueDelayMs = durationFromFlags({ flag: '--max-queue-delay', ms: flags.maxQueueDelay }, { flag: '--max-queue-delay-us', value: flags.maxQueueDelayUs, unitMs: 0.001 });
  const deadlineMs = durationFromFlags({ flag: '--deadline', ms: flags.deadline }, { flag: '--deadline-ms', value: flags.deadlineMs, unitMs: 1 });
  const drainTimeoutMs = durationFromFlags({ flag: '--drain-timeout', ms: flags.drainTimeout }, { flag: '--drain-timeout-ms', value: flags.drainTimeoutMs, unitMs: 1 });
  const { cpuBudget } = await import('../../core/cpu-budget.js');
  const cpus = cpuBudget();
  // Run as a worker of another process manager's cluster (pm2 and the like): that manager makes the processes.
  const workers = cluster.isWorker && !inClusterWorker() ? 1 : workerCount(flags.workers, config.servingWorkers, cpus, config.modelControl === 'explicit', 'servingWorkers (SLIPWAY_SERVING_WORKERS)');
  const inWorker = inClusterWorker();
  if (workers > 1 && config.modelControl === 'explicit') {
    throw new SlipwayError('INVALID_ARGUMENT', `--model-control explicit loads and unloads models in the process that takes the request, so ${workers} workers would serve different models: use --workers 1 with it.`, { workers });
  }
  const fromFlags = {
    // Workers share the cores: each session gets its share of them unless told otherwise.
    intraOpThreads: flags.threads ?? (workers > 1 && config.serving.intraOpThreads === undefined ? Math.max(1, Math.min(4, Math.floor(cpus / workers))) : undefined),
    spinWait: flags.spinWait,
    graphOptimizationLevel: flags.graphOptimization,
    concurrency: flags.concurrency,
    executor: flags.executor,
    maxBatchSize: flags.maxBatchSize,
    maxQueueDelayMicros: maxQueueDelayMs === undefined ? undefined : Math.round(maxQueueDelayMs * 1000),
    preferredBatchSizes: flags.preferredBatchSizes,
    maxQueueSize: flags.maxQueueSize,
    deadlineMs: deadlineMs === undefined ? undefined : Math.round(deadlineMs),
    nonFinite: flags.nonFinite,
    bodyLimit: flags.bodyLimit ?? config.bodyLimit,
    drainTimeoutMs: drainTimeoutMs === undefined ? undefined : Math.round(drainTimeoutMs),
  };
  // Flags win over the config file and environment; unset flags leave those in force.
  const options = resolveServingOptions({ ...config.serving, ...Object.fromEntries(Object.entries(fromFlags).filter(([, v]) => v !== undefined)) });
  if (!ref) {
    const problem = await onnxFileProblem(model);
    if (problem) throw new SlipwayError('INVALID_ARGUMENT', `Cannot serve ${model}: ${problem}.`);
  }
  // SLIPWAY_PORT and the config file's port belong to `slipway server`, so the two can run side by side.
  const listenPort = flags.port ?? DEFAULT_SERVE_PORT;
  const pino = (await import('pino')).default({ level: config.logLevel, ...(inWorker ? { base: { pid: process.pid, worker: Number(process.env.SLIPWAY_CLUSTER_WORKER) } } : {}) }, process.stderr);
  // Until the first load has finished, its failure is the one error line this command prints, not a log line too.
  let starting = true;
  const logger: import('../../core/logger.js').Logger = {
    debug: (o, m) => pino.debug(o, m),
    info: (o, m) => pino.info(o, m),
    warn: (o, m) => void (starting ? undefined : pino.warn(o, m)),
    error: (o, m) => pino.error(o, m),
  };
  const name = flags.name ?? (ref ? ref.name : basename(model, extname(model)));

  const cleanups: Array<() => Promise<void> | void> = [];
  let source: import('../../core/model-source.js').ModelSource | undefined;
  // Following a server, this process takes part in its releases (canary, shadow, blue-green) through a traffic agent.
  let startAgent: ((traffic: import('../../serving/index.js').TrafficSplitter, manager: import('../../serving/index.js').ModelManager) => Promise<() => Promise<void>>) | undefined;
  // Folders besides the allow-listed ones that model files are read from.
  // With S3 artifacts, models are read from the local checkout cache.
  let modelDirs = [config.s3Artifacts ? config.s3Artifacts.cacheDir : config.artifactsDestination];
  // Who decides access with --auth: the embedded store's access service, or the followed server.
  let access: import('../../server/serve-access.js').ServeAccess | undefined;
  if (ref && target?.kind === 'server') {
    const [{ SlipwayClient }, { RemoteModelSource }, { join }] = await Promise.all([import('../../client/slipway-client.js'), import('../remote-model-source.js'), import('node:path')]);
    const authorization = authorizationFor(flags, process.env, target.url);
    const client = new SlipwayClient({ url: target.url, ...(authorization ? { headers: { authorization } } : {}) });
    const cacheDir = join(config.home, 'model-cache');
    const remote = new RemoteModelSource({
      client,
      url: target.url,
      ...(authorization ? { authorization } : {}),
      cacheDir,
      pollIntervalMs: flags.registryPoll ?? DEFAULT_REMOTE_POLL_MS,
      logger,
    });
    cleanups.unshift(() => remote.close());
    // An unreachable server, or a reference it cannot serve, is one line before any port is taken.
    await remote.version(ref).catch((err: unknown) => {
      remote.close();
      throw err;
    });
    source = remote;
    modelDirs = [cacheDir];
    if (config.auth.enabled) {
      const { RemoteAccessVerifier } = await import('../../server/serve-access.js');
      access = new RemoteAccessVerifier({ url: target.url, model: ref.name });
    }
    const serverRef = ref;
    startAgent = async (traffic, manager) => {
      const { TrafficAgent, TRAFFIC_UNREACHABLE_MS } = await import('../../release/traffic-agent.js');
      // Short requests: a server out of reach must be noticed well within the time a split may run unwatched.
      const agentClient = new SlipwayClient({ url: target.url, timeoutMs: TRAFFIC_UNREACHABLE_MS / 2, ...(authorization ? { headers: { authorization } } : {}) });
      const uri = serverRef.alias !== undefined ? `models:/${serverRef.name}@${serverRef.alias}` : `models:/${serverRef.name}/${serverRef.version ?? ''}`;
      const agent = new TrafficAgent({ link: agentClient.releases, model: serverRef.name, servedAs: name, uri, traffic, version: () => manager.current(name)?.version, logger });
      agent.start();
      return () => agent.close();
    };
  }
  if (workers > 1 && !inWorker) {
    // The primary has checked what it can (a server out of reach is one line); the workers load the model.
    for (const c of cleanups) await c();
    if (ref && target?.kind === 'embedded') {
      // A new store is created and migrated once, here, rather than by every worker at the same moment.
      const { openStore } = await import('../../store/store.js');
      await (await openStore(config.backendStoreUri)).close();
    }
    return superviseWorkers({ workers, host: config.host, port: listenPort, logLevel: config.logLevel, drainTimeoutMs: options.drainTimeoutMs, json: flags.json === true });
  }
  // A taken port is reported before the model loads (or the store opens), not after (by the primary, for workers).
  if (!inWorker)
    await checkListenAddress(config.host, listenPort).catch(async (err: unknown) => {
    for (const c of cleanups) await c();
    throw err;
  });
  if (ref && target?.kind === 'embedded') {
    const [{ openStore }, { openArtifactStore }, { RegistryService, RegistryModelSource }] = await Promise.all([
      import('../../store/store.js'),
      import('../../artifacts/open-artifact-store.js'),
      import('../../registry/index.js'),
    ]);
    const store = await openStore(config.backendStoreUri);
    cleanups.push(() => store.close());
    if (config.auth.enabled) {
      const { AccessService } = await import('../../access/access-service.js');
      access = new AccessService({ store, defaultPermission: config.auth.defaultPermission, logger });
    }
    const registry = new RegistryService({ store, artifacts: await openArtifactStore(config.artifactsDestination, config.s3Artifacts), logger });
    // Alias moves made by other processes (the CLI, another server) are noticed by polling.
    const registrySource = new RegistryModelSource(registry, { pollIntervalMs: flags.registryPoll ?? DEFAULT_LOCAL_POLL_MS });
    cleanups.unshift(() => registrySource.close());
    source = registrySource;
  }

  const [{ default: Fastify }, serving, { registerServingRoutes }, { getMetricsRegistry }, { systemClock }, { ModelFileAllowList }] = await Promise.all([
    import('fastify'),
    import('../../serving/index.js'),
    import('../../server/plugins/serving-routes.js'),
    import('../../server/metrics-registry.js'),
    import('../../core/clock.js'),
    import('../../artifacts/model-file-allow-list.js'),
  ]);
  const registry = getMetricsRegistry();
  const metrics = serving.ServingMetrics.for(registry);
  // The file the operator named on the command line may be served wherever it is; anything else only from the allowed folders.
  const modelFiles = new ModelFileAllowList({ dirs: [...modelDirs, ...config.modelSourceAllowedDirs], files: ref ? [] : [model] });
  // Workers swap a new version of the model together, or not at all; each answers the primary's metrics from its start.
  const link = inWorker ? await import('../../server/cluster/worker-link.js') : undefined;
  link?.joinClusterMetrics(registry);
  // The workers shed on the whole server's queue: each counts the others' waiting requests with its own.
  const queues = link ? (await import('../../server/cluster/queue-share.js')).shareQueues(link) : undefined;
  const manager = new serving.ModelManager({
    options,
    metrics,
    logger,
    modelFiles,
    ...(source ? { source } : {}),
    ...(link ? { swapGate: link.clusterSwapGate, onSwapLoadFailed: link.reportSwapLoadFailed, onServing: link.reportServing } : {}),
    ...(queues ? { queuedElsewhere: (served: string) => queues.queuedElsewhere(served) } : {}),
  });
  const stopReporting = queues?.report(() => manager.queueDepths());
  const traffic = startAgent ? new serving.TrafficSplitter({ manager, metrics, logger }) : undefined;
  const service = new serving.InferenceService({ manager, metrics, observers: [], clock: systemClock, logger, ...(traffic ? { traffic } : {}) });
  const status = await manager.load(name, model, flags.columns, { required: true });
  starting = false;
  if (status.state !== 'READY') {
    await manager.close();
    for (const c of cleanups) await c();
    // A registry or server out of reach is a failure (exit 1); a model that cannot be served is bad input (exit 2).
    const code = status.errorCode === 'UNAVAILABLE' || status.errorCode === 'DEADLINE_EXCEEDED' ? status.errorCode : 'INVALID_ARGUMENT';
    throw new SlipwayError(code, `Cannot serve ${model}: ${status.reason}`);
  }

  let closing = false;
  // A long model name must still route (Fastify's default parameter limit is 100 characters).
  const [{ FastRoutes, httpServerFactory }, { answerClientError }, { createRequestGuard }, accessModules] = await Promise.all([
    import('../../server/http-server.js'),
    import('../../server/http-connections.js'),
    import('../../server/request-guard.js'),
    access ? Promise.all([import('../../server/serve-access.js'), import('../../server/access-gate.js')]) : undefined,
  ]);
  const servedAccess = access && accessModules && ref ? accessModules[0].servedAs(access, name, ref.name) : undefined;
  const fastRoutes = new FastRoutes();
  // The same Host and Origin checks as `slipway server`: a web page must not reach a local model server.
  const guard = createRequestGuard({ listenHost: config.host, allowedHosts: config.allowedHosts, corsAllowedOrigins: config.corsAllowedOrigins });
  const app = Fastify({
    // The HTTP server drains itself: requests that arrive during the drain get a V2-shaped 503, idle connections close once proven idle.
    serverFactory: httpServerFactory(
      { requestTimeoutMs: config.requestTimeoutMs, drainTimeoutMs: options.drainTimeoutMs },
      fastRoutes,
      guard,
      servedAccess && accessModules ? accessModules[1].accessGate(servedAccess) : undefined,
    ),
    bodyLimit: options.bodyLimit,
    logger: false,
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    routerOptions: { maxParamLength: 8192 },
  });
  // While draining, every answer closes its connection, so keep-alive clients cannot hold the server open.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  if (servedAccess && accessModules) accessModules[0].installServeAccess(app, servedAccess, () => manager.readyNames());
  app.setNotFoundHandler(async (req, reply) => reply.code(404).send({ error: `No route ${req.method} ${req.url.split('?')[0]}; see /v2 and /invocations.` }));
  // A worker answers /metrics and readiness for the whole cluster.
  await registerServingRoutes(app, {
    manager,
    service,
    registry,
    logger,
    isClosing: () => closing,
    modelControl: config.modelControl,
    fastRoutes,
    ...(link ? { metricsText: link.clusterMetricsText, othersReady: link.clusterReady } : {}),
  });
  let address: string;
  try {
    address = await app.listen({ host: config.host, port: listenPort });
  } catch (err) {
    await app.close().catch(() => {});
    await manager.close();
    for (const c of cleanups) await c();
    throw listenProblem(err, config.host, listenPort);
  }
  const stopAgent = startAgent && traffic ? await startAgent(traffic, manager) : undefined;
  const info = { name, version: status.version, url: address, v2: `${address}/v2/models/${name}/infer`, invocations: `${address}/invocations` };
  if (link) link.reportReady(info);
  else process.stdout.write(readyLine(info, flags.json === true));

  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      if (closing) return;
      closing = true;
      logger.info({ signal }, 'serve: draining');
      const deadline = setTimeout(() => {
        logger.warn({ timeoutMs: options.drainTimeoutMs }, 'serve: drain timed out');
        process.exit(EXIT.FAILED);
      }, options.drainTimeoutMs + 1000);
      deadline.unref();
      // Stop accepting, let in-flight HTTP requests answer, then drain the batchers and free the sessions.
      // The traffic agent stops first: no release change may start while serving drains.
      stopReporting?.();
      void Promise.resolve(stopAgent?.())
        .then(() => app.close())
        .then(() => manager.close())
        .then(async () => {
          for (const c of cleanups) await c();
        })
        .finally(() => {
          clearTimeout(deadline);
          resolveStop();
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return EXIT.OK;
}

/** What `slipway serve` prints once it serves (one JSON object with --json). */
function readyLine(info: { name?: unknown; version?: unknown; url?: unknown; v2?: unknown; invocations?: unknown; workers?: number }, json: boolean): string {
  if (json) return formatJson(info);
  const workers = info.workers !== undefined ? ` (${info.workers} workers)` : '';
  return `Serving ${String(info.name)} version ${String(info.version)} at ${String(info.url)}${workers}\n  V2:     POST ${String(info.v2)}\n  MLflow: POST ${String(info.invocations)}\n`;
}

/**
 * The primary of `slipway serve --workers N`: checks the port, starts N copies of this command as
 * workers on it, prints the ready line once every one serves, and drains them all on SIGTERM or
 * SIGINT. A worker that fails to start fails the command with its error.
 */
async function superviseWorkers(o: { workers: number; host: string; port: number; logLevel: string; drainTimeoutMs: number; json: boolean }): Promise<number> {
  const [{ checkListenAddress }, { runClusterPrimary }, pinoModule] = await Promise.all([import('../../server/listen-address.js'), import('../../server/cluster/supervisor.js'), import('pino')]);
  await checkListenAddress(o.host, o.port);
  const logger = pinoModule.default({ level: o.logLevel }, process.stderr);
  return runClusterPrimary({
    workers: o.workers,
    logger,
    startTimeoutMs: 15 * 60_000,
    shutdownTimeoutMs: o.drainTimeoutMs + 2000,
    onReady: (running) => process.stdout.write(readyLine({ ...running.info, workers: o.workers }, o.json)),
  });
}
