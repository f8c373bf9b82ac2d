/** What every server plugin receives: the resolved config and the open domains. */
import type { ResolvedConfig } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { InferenceObserver } from '../core/inference-record.js';
import type { ModelSource } from '../core/model-source.js';
import type { TrafficController } from '../core/traffic-split.js';
import type { Transaction } from 'kysely';
import type { JobRunner } from '../core/job-leases.js';
import type { Database } from '../store/schema.js';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import type { Store } from '../store/store.js';
import type { TrackingService } from '../tracking/tracking-service.js';
import type { RegistryService } from '../registry/registry-service.js';
import type { FastRoutes } from './http-server.js';
import type { AccessEnforcer } from './access-gate.js';
import type { ServerCluster } from './cluster/server-cluster.js';

export interface ServerContext {
  config: ResolvedConfig;
  store: Store;
  logger: Logger;
  clock: Clock;
  /** The tracking service, built once and shared by the MLflow and native routes. */
  tracking?: TrackingService;
  /** The model registry, opened once and shared by the MLflow and native routes. */
  registry?: RegistryService;
  /** Resolves `models:/…` references for serving; set once the registry is open. */
  modelSource?: ModelSource;
  /** Steers live traffic of served models (canary, shadow, blue-green); set by the serving plugin. */
  traffic?: TrafficController;
  /** The artifact store (local folder by default). */
  artifacts?: ArtifactStore;
  /** Live-monitoring observers that serving reports each prediction to. */
  inferenceObservers: InferenceObserver[];
  /** Routes answered from node:http ahead of Fastify (the inference hot path); absent when access logs are on. */
  fastRoutes?: FastRoutes;
  /** Longest HTTP drain on shutdown, in ms; left unset, the HTTP server's default (10 s). */
  drainTimeoutMs?: number;
  /**
   * True where the app answers a command-line process in-process rather than `slipway server`: plugins
   * leave server duties (picking up unfinished releases after a start) to the server.
   */
  embedded?: boolean;
  /** Access control; unset while it is off (every request is then the anonymous admin). */
  access?: AccessEnforcer;
  /** The models ready to serve (what `POST /invocations` answers from); set by the serving plugin. */
  servedModelNames?: () => readonly string[];
  /**
   * Background jobs that run in one server process at a time among the replicas sharing the store
   * (monitoring finalisation, alerts, retention, releases); unset in-process (commands, tests).
   */
  jobs?: JobRunner<Transaction<Database>>;
  /** This process's cluster when it is one of the workers of `slipway server --workers N`; unset when it serves alone. */
  cluster?: ServerCluster;
  /** Hooks run on graceful shutdown, in order (drain serving, flush monitoring…). */
  onClose: Array<() => Promise<void>>;
}
