/**
 * Where a command's tracked state lives, and the SDK client that reaches it.
 *
 * Like `mlflow` and `kubectl`, every command that reads or changes experiments,
 * runs, models or the audit trail is a client of the Slipway API:
 * - a server named by `--server URL`, `SLIPWAY_SERVER` or an http(s) `MLFLOW_TRACKING_URI`;
 * - else the embedded store (`--backend-store-uri`, `SLIPWAY_BACKEND_STORE_URI`, a
 *   `sqlite:`/`postgresql:` `MLFLOW_TRACKING_URI`, or `$SLIPWAY_HOME/slipway.db`), whose
 *   API is answered inside this process by the same routes a server runs.
 * Either way the command speaks through `SlipwayClient`, so its output, errors and
 * JSON keys are the same, and a token given here reaches the server unchanged.
 */
import { type Command } from 'commander';
import { isSlipwayApiError } from '../client/api-error.js';
import type { SlipwayClient } from '../client/slipway-client.js';
import type { ResolvedConfig } from '../config.js';
import { ERROR_CATALOGUE, SlipwayError, type ErrorCode } from '../core/errors.js';
import type { PluginName } from '../server/app.js';
import { storedCredential } from './credentials.js';
import { printWarning, processStreams, type OutputStreams } from './output.js';

/** The flags that choose where a command's state lives. */
export interface ConnectionFlags {
  server?: string;
  token?: string;
  backendStoreUri?: string;
  artifactsDestination?: string;
  config?: string;
}

/** Adds `--server`, `--token` and `--backend-store-uri` (for a command that already has `--config`). */
export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'a Slipway server, e.g. http://127.0.0.1:5000 (default: $SLIPWAY_SERVER, else an http(s) $MLFLOW_TRACKING_URI, else the embedded store)')
    .option('--token <token>', 'API token sent as a bearer token (default: $SLIPWAY_TOKEN, else $MLFLOW_TRACKING_TOKEN)')
    .option('--backend-store-uri <uri>', 'use this store directly instead of a server: sqlite:///path.db or postgresql://… (default: $SLIPWAY_HOME/slipway.db)');
}

/** Adds `--server`, `--token`, `--backend-store-uri` and `--config` to a command that reads or changes tracked state. */
export function addConnectionOptions(cmd: Command): Command {
  return addTargetOptions(cmd).option('--config <file>', 'config file for the embedded store (default: ./slipway.yaml when present)');
}

/** Where the state of a command lives. */
export type Target =
  | { kind: 'server'; url: string; from: string }
  | { kind: 'embedded'; backendStoreUri?: string; from: string };

function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

function serverTarget(url: string, from: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SlipwayError('INVALID_ARGUMENT', `${from} must be a server URL such as http://127.0.0.1:5000; got '${url}'.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SlipwayError('INVALID_ARGUMENT', `${from} must be an http:// or https:// URL; got '${url}'.`);
  }
  return { kind: 'server', url: parsed.href.replace(/\/+$/, ''), from };
}

/**
 * Chooses the server or store a command uses. A flag beats the environment, so
 * `--backend-store-uri` works even where SLIPWAY_SERVER is set; giving both
 * `--server` and `--backend-store-uri` is a usage error.
 */
export function resolveTarget(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Target {
  if (flags.server !== undefined && flags.backendStoreUri !== undefined) {
    throw new SlipwayError('INVALID_ARGUMENT', 'Give either --server (a Slipway server) or --backend-store-uri (a store used directly), not both.');
  }
  if (flags.server !== undefined) return serverTarget(flags.server, '--server');
  if (flags.backendStoreUri !== undefined) return { kind: 'embedded', backendStoreUri: flags.backendStoreUri, from: '--backend-store-uri' };
  if (env.SLIPWAY_SERVER) return serverTarget(env.SLIPWAY_SERVER, 'SLIPWAY_SERVER');
  const mlflow = env.MLFLOW_TRACKING_URI;
  if (mlflow) {
    if (isHttpUrl(mlflow)) return serverTarget(mlflow, 'MLFLOW_TRACKING_URI');
    if (/^(sqlite|postgres|postgresql):/i.test(mlflow)) return { kind: 'embedded', backendStoreUri: mlflow, from: 'MLFLOW_TRACKING_URI' };
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `MLFLOW_TRACKING_URI '${mlflow}' is neither a server URL (http://…) nor a store Slipway opens (sqlite:///…, postgresql://…). Unset it, or name a server with --server.`,
    );
  }
  return { kind: 'embedded', from: env.SLIPWAY_BACKEND_STORE_URI ? 'SLIPWAY_BACKEND_STORE_URI' : 'the default' };
}

/**
 * The Authorization header the flags or environment ask for: a bearer token, else MLflow's
 * basic-auth variables, else the token `slipway login` stored for `serverUrl`.
 */
export function authorizationFor(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, serverUrl?: string): string | undefined {
  const token = flags.token ?? (env.SLIPWAY_TOKEN || undefined) ?? (env.MLFLOW_TRACKING_TOKEN || undefined);
  if (token) return `Bearer ${token}`;
  const user = env.MLFLOW_TRACKING_USERNAME;
  if (user) return `Basic ${Buffer.from(`${user}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`).toString('base64')}`;
  const stored = serverUrl !== undefined ? storedCredential(serverUrl, env) : undefined;
  if (stored) return `Bearer ${stored.token}`;
  return undefined;
}

/**
 * An API error as the catalogued error it names, so a command exits as it would
 * on the store directly: 2 for the user's mistake, 1 for the rest. Other errors unchanged.
 */
export function asSlipwayError(err: unknown): unknown {
  if (!isSlipwayApiError(err)) return err;
  const byStatus: ErrorCode = err.status === 404 ? 'NOT_FOUND' : err.status >= 400 && err.status < 500 ? 'INVALID_ARGUMENT' : 'UNAVAILABLE';
  const code = Object.hasOwn(ERROR_CATALOGUE, err.code) ? (err.code as ErrorCode) : byStatus;
  return new SlipwayError(code, err.message, err.details);
}

function rethrowAsSlipwayError(err: unknown): never {
  throw asSlipwayError(err);
}

/** How a command uses its target. */
export interface ConnectionUse {
  /** The command only reads: an embedded SQLite store that does not exist yet is an error, never created. */
  readOnly?: boolean;
  /** Route families the embedded store answers besides the native API. */
  plugins?: readonly PluginName[];
  /** Where the "using the embedded store" note goes. @default stderr */
  io?: OutputStreams;
}

/** An open client and what it reaches. */
export interface Connection {
  client: SlipwayClient;
  target: Target;
  /** The server URL, or the embedded store's URI with any password masked. */
  where: string;
}

/** Refuses a SQLite store file that does not exist, saying how to start or name one (a read must not create it). */
export async function requireExistingStore(uri: string): Promise<void> {
  if (!uri.startsWith('sqlite:')) return;
  const [{ sqliteFileFromUri }, { existsSync }, { resolve }] = await Promise.all([import('../store/sqlite/sqlite-dialect.js'), import('node:fs'), import('node:path')]);
  const raw = sqliteFileFromUri(uri);
  if (raw === ':memory:') return;
  const file = resolve(raw);
  if (existsSync(file)) return;
  throw new SlipwayError(
    'NOT_FOUND',
    `No Slipway store at ${file}. Start one here with 'slipway server', name a server with --server or SLIPWAY_SERVER, or name an existing store with --backend-store-uri, SLIPWAY_BACKEND_STORE_URI or SLIPWAY_HOME.`,
    { store: file },
  );
}

/** A SQLite store as its file's path, any other as its URI with the password masked. */
async function storeLabel(uri: string, redact: (uri: string) => string): Promise<string> {
  if (!uri.startsWith('sqlite:')) return redact(uri);
  const [{ sqliteFileFromUri }, { resolve }] = await Promise.all([import('../store/sqlite/sqlite-dialect.js'), import('node:path')]);
  const file = sqliteFileFromUri(uri);
  return file === ':memory:' ? uri : resolve(file);
}

async function embeddedConfig(flags: ConnectionFlags, target: Extract<Target, { kind: 'embedded' }>): Promise<ResolvedConfig> {
  const { resolveConfig } = await import('../config.js');
  return resolveConfig({ backendStoreUri: target.backendStoreUri, artifactsDestination: flags.artifactsDestination, config: flags.config });
}

/**
 * Opens the client the flags and environment name, runs `fn` with it and closes
 * what it opened, so a failing command never leaves a store open.
 */
export async function withConnection<R>(flags: ConnectionFlags, fn: (client: SlipwayClient, connection: Connection) => Promise<R>, use: ConnectionUse = {}): Promise<R> {
  const target = resolveTarget(flags);
  const { SlipwayClient } = await import('../client/slipway-client.js');
  const authorization = authorizationFor(flags, process.env, target.kind === 'server' ? target.url : undefined);
  const headers = authorization ? { authorization } : undefined;
  if (target.kind === 'server') {
    const { nodeHttpFetch } = await import('./node-http-fetch.js');
    const client = new SlipwayClient({ url: target.url, fetch: nodeHttpFetch, ...(headers ? { headers } : {}) });
    return fn(client, { client, target, where: target.url }).catch(rethrowAsSlipwayError);
  }
  const config = await embeddedConfig(flags, target);
  for (const warning of config.warnings) printWarning(warning, use.io);
  if (use.readOnly) await requireExistingStore(config.backendStoreUri);
  const [{ openInProcessApi }, { redactUri }, { pino }] = await Promise.all([import('../server/in-process-api.js'), import('../core/redact-uri.js'), import('pino')]);
  // Only what would otherwise be lost reaches the terminal: the command reports its own errors.
  const logger = pino({ level: 'error', base: { name: 'slipway' } }, pino.destination({ dest: 2, sync: true }));
  const api = await openInProcessApi(config, { logger, plugins: ['native-api', ...(use.plugins ?? [])] });
  const where = await storeLabel(config.backendStoreUri, redactUri);
  (use.io ?? processStreams).err(`using the embedded store ${where}\n`);
  try {
    const client = new SlipwayClient({ url: api.url, fetch: api.fetch, ...(headers ? { headers } : {}) });
    return await fn(client, { client, target, where }).catch(rethrowAsSlipwayError);
  } finally {
    await api.close();
  }
}
