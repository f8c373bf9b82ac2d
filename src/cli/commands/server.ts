/** `slipway server`: run the tracking, registry and artifact server until SIGTERM or SIGINT. */
import { InvalidArgumentError, type Command } from 'commander';
import { EXIT, addHelpEpilogue, positiveInt, printError, processStreams, runAction, usageErrorsExit2 } from '../output.js';

interface ServerFlags {
  host?: string;
  port?: number;
  backendStoreUri?: string;
  artifactsDestination?: string;
  config?: string;
  logLevel?: string;
  bodyLimit?: number;
  requestTimeout?: number;
  modelControl?: string;
  modelSourceAllowedDirs?: string;
  allowedHosts?: string;
  corsAllowedOrigins?: string;
  shutdownTimeout: number;
}

/** How long a graceful shutdown may take before the process exits anyway. @default 10 s */
const DEFAULT_SHUTDOWN_TIMEOUT_S = 10;

function portNumber(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > 65535) throw new InvalidArgumentError('--port must be an integer between 0 and 65535 (0 picks a free port).');
  return n;
}

function seconds(flag: string, zeroAllowed = false): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroAllowed)) {
      throw new InvalidArgumentError(`${flag} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of seconds${zeroAllowed ? ' (0 turns it off)' : ''}.`);
    }
    return n;
  };
}

function modelControl(raw: string): string {
  if (raw !== 'none' && raw !== 'explicit') throw new InvalidArgumentError('--model-control must be one of none, explicit.');
  return raw;
}

/** Registers `slipway server`. */
export function register(program: Command): void {
  const cmd = program
    .command('server')
    .description('Run the Slipway server (MLflow-compatible tracking, registry and artifacts, native API)')
    .option('--host <host>', 'interface to listen on (default: 127.0.0.1, env SLIPWAY_HOST)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: 5000, env SLIPWAY_PORT)', portNumber)
    .option('--backend-store-uri <uri>', 'metadata store: sqlite:///path.db or postgresql://… (default: $SLIPWAY_HOME/slipway.db)')
    .option('--artifacts-destination <path>', 'artifact folder (default: $SLIPWAY_HOME/artifacts)')
    .option('--config <file>', 'config file (default: ./slipway.yaml when present)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info, env SLIPWAY_LOG_LEVEL)')
    .option('--body-limit <bytes>', 'largest accepted JSON request body (default: 16 MiB, env SLIPWAY_BODY_LIMIT)', positiveInt('--body-limit'))
    .option('--request-timeout <seconds>', 'longest time a client may take to send one request; 0 turns it off (default: 300, env SLIPWAY_REQUEST_TIMEOUT_MS in ms)', seconds('--request-timeout', true))
    .option('--model-control <mode>', 'none (the repository load/unload API is refused) or explicit (it loads and unloads models) (default: none, env SLIPWAY_MODEL_CONTROL)', modelControl)
    .option('--model-source-allowed-dirs <list>', 'comma-separated folders besides the artifact store that models may be loaded from (env SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS)')
    .option('--allowed-hosts <list>', 'comma-separated Host names the server answers besides loopback names, IP addresses and --host; *.domain and name:port allowed (env SLIPWAY_ALLOWED_HOSTS)')
    .option('--cors-allowed-origins <list>', 'comma-separated origins whose browser requests may change state besides the server\'s own (env SLIPWAY_CORS_ALLOWED_ORIGINS)')
    .option('--shutdown-timeout <seconds>', 'longest graceful shutdown before exiting anyway', seconds('--shutdown-timeout'), DEFAULT_SHUTDOWN_TIMEOUT_S)
    .action(
      runAction(async (flags: ServerFlags) => {
        const { resolveConfig } = await import('../../config.js');
        const { startServer, redactUri } = await import('../../server/start-server.js');
        const config = resolveConfig({
          host: flags.host,
          port: flags.port,
          backendStoreUri: flags.backendStoreUri,
          artifactsDestination: flags.artifactsDestination,
          logLevel: flags.logLevel,
          bodyLimit: flags.bodyLimit,
          requestTimeoutMs: flags.requestTimeout === undefined ? undefined : Math.round(flags.requestTimeout * 1000),
          modelControl: flags.modelControl,
          modelSourceAllowedDirs: flags.modelSourceAllowedDirs,
          allowedHosts: flags.allowedHosts,
          corsAllowedOrigins: flags.corsAllowedOrigins,
          config: flags.config,
        });
        // The HTTP drain leaves a fifth of the shutdown time (at least 1 s) to the close hooks and the store.
        const shutdownMs = flags.shutdownTimeout * 1000;
        const server = await startServer(config, { drainTimeoutMs: Math.max(0, shutdownMs - Math.max(1000, shutdownMs / 5)) });
        processStreams.out(`Slipway server ready at ${server.url} (store ${redactUri(config.backendStoreUri)}, artifacts ${config.artifactsDestination})\n`);
        server.ctx.logger.info({ url: server.url, store: server.ctx.store.dialect }, 'server ready');

        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            // A second signal means "now": skip the drain.
            process.exit(EXIT.FAILED);
          }
          stopping = true;
          server.ctx.logger.info({ signal }, 'shutting down');
          const timer = setTimeout(() => {
            processStreams.err(`error: shutdown did not finish within ${flags.shutdownTimeout} s; exiting.\n`);
            process.exit(EXIT.FAILED);
          }, flags.shutdownTimeout * 1000);
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
        return EXIT.OK;
      }),
    );
  usageErrorsExit2(cmd);
  addHelpEpilogue(cmd, {
    examples: [
      'slipway server  # http://127.0.0.1:5000, store and artifacts under ./.slipway',
      'slipway server --host 0.0.0.0 --port 5001 --backend-store-uri postgresql://slipway@db/slipway',
      'MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py',
    ],
    exitCodes: { 1: 'the port is taken, the store cannot be opened, or shutdown failed', 2: 'bad usage, or a setting that cannot be used (a folder, a log level)' },
    docs: ['cli.md', 'configuration.md'],
  });
}
