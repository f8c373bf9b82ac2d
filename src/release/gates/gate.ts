/**
 * What every release gate receives and returns. The release runner builds one
 * context per release (the faces inject what needs a face, such as a private
 * loopback server for load tests) and runs the policy's gates in order.
 */
import type { ArtifactStore } from '../../artifacts/artifact-store.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { ResolvedModel } from '../../core/model-source.js';
import type { RegistryService } from '../../registry/registry-service.js';
import type { Store } from '../../store/store.js';
import type { TrackingService } from '../../tracking/tracking-service.js';

/** The release a gate decides on. */
export interface GateRelease {
  id: string;
  model: string;
  /** The candidate version. */
  version: string;
  environment: string;
  /** The version at the environment's alias when the release started; absent on a first release. */
  championVersion?: string;
  requestedBy: string;
}

/** A model served on a private loopback server for a load test. */
export interface PrivateServer {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  /** The V2 model names served there, by role. */
  models: { candidate: string; champion?: string };
  close(): Promise<void>;
}

/** What a gate may use. */
export interface GateContext {
  release: GateRelease;
  /** The candidate's ONNX file on local disk and its input columns. */
  candidate: ResolvedModel;
  /** The champion's, when the environment's alias points at a version. */
  champion?: ResolvedModel;
  store: Store;
  registry: RegistryService;
  artifacts?: ArtifactStore;
  clock: Clock;
  logger: Logger;
  /** Aborted when the release is aborted or the server shuts down: a gate stops its work and returns. */
  signal: AbortSignal;
  /** A local path for a holdout in the artifact store (`releases/holdouts/…`); throws NOT_FOUND naming the path when it is missing. */
  holdoutPath(ref: string): Promise<string>;
  /** Serves the candidate (and the champion) on a private loopback port, each in its own runtime; absent where no server face runs. */
  startPrivateServer?(models: { candidate: ResolvedModel; champion?: ResolvedModel }): Promise<PrivateServer>;
  /** Where the load-test gate records its runs; default: a tracking service over `store`. */
  tracking?: TrackingService;
  /** Tells the release's progress (a line for people), e.g. "evaluating 569 rows". */
  progress(message: string): void;
}

/** A gate's decision with its evidence. */
export interface GateOutcome {
  verdict: 'pass' | 'fail' | 'error' | 'skipped';
  /** One sentence a person reads in the report: why it passed or failed, naming the figure and its bound. */
  reason: string;
  figures: Record<string, unknown>;
}
