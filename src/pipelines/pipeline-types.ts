/**
 * The shapes shared by the pipeline engine (`src/pipelines/`) and what records its runs: stages as
 * declared in `slipway.yaml` after `foreach`/`matrix` expansion, the lock file's records, and the
 * observer through which each stage run becomes a tracking run.
 */

/** An output of a stage. */
export interface StageOut {
  /** Path relative to the workspace root, '/'-separated; a file or a folder. */
  path: string;
  /** Stored in the object cache (and so restorable by the run cache and pushable). @default true */
  cache: boolean;
  /** Kept before the stage runs instead of being removed. @default false */
  persist: boolean;
  /** Registered as a version of this dataset name after each run that changes it. */
  dataset?: string;
}

/** A stage's model registration, run after the stage succeeds. */
export interface StageRegister {
  /** The registered model's name. */
  name: string;
  /** The model file or folder, one of the stage's outs. */
  path: string;
  /** Aliases moved to the new version. */
  aliases: string[];
}

/** One stage after expansion (`train@small` for a `foreach` item). */
export interface Stage {
  /** The stage's name; expanded stages are `NAME@KEY`. */
  name: string;
  /** The command, run by the shell from `wdir`. */
  cmd: string;
  /** The folder the command runs in, relative to the workspace root. @default '' (the root) */
  wdir: string;
  /** Files or folders the stage reads, relative to the workspace root. */
  deps: string[];
  /** Params files and the keys read from each (dotted paths such as `train.lr`); a key list of ['*'] means the whole file. */
  params: Array<{ file: string; keys: string[] }>;
  outs: StageOut[];
  /** JSON or YAML files of metrics the stage writes (also outs, not cached unless said). */
  metrics: StageOut[];
  /** CSV/JSON/TSV files of plots the stage writes (also outs). */
  plots: StageOut[];
  /** Environment variables set for the command. */
  env: Record<string, string>;
  register?: StageRegister;
  /** Runs on every repro, whatever changed (a stage that reads something no dep names, such as a database). @default false */
  alwaysChanged?: boolean;
  /** Where the stage was declared, for messages: `slipway.yaml:12:3`. */
  declaredAt: string;
}

/** The parsed pipeline. */
export interface Pipeline {
  /** Absolute path of the workspace root. */
  root: string;
  /** The config file, relative to the root. */
  file: string;
  /** The default params file. @default 'params.yaml' */
  paramsFile: string;
  stages: Stage[];
}

/** A dep or out as the lock file records it. */
export interface LockedPath {
  path: string;
  sha256: string;
  size: number;
  /** Files in a folder (absent for a file). */
  files?: number;
  kind: 'file' | 'folder';
}

/** What a stage last ran on and produced: one entry of `slipway.lock`. */
export interface StageLock {
  cmd: string;
  deps: LockedPath[];
  /** Params file -> key -> value read at run time. */
  params: Record<string, Record<string, unknown>>;
  outs: LockedPath[];
  /** The tracking run that recorded this stage run, when one did. */
  runId?: string;
}

/** Why a stage runs (or does not). */
export type StageDecision =
  | { run: false; reason: 'unchanged' }
  | { run: false; reason: 'restored'; runCacheKey: string }
  | { run: true; reason: 'new' | 'command-changed' | 'deps-changed' | 'params-changed' | 'outs-changed' | 'forced'; detail: string };

/** What one stage run produced, handed to observers. */
export interface StageResult {
  stage: Stage;
  decision: StageDecision;
  status: 'ran' | 'restored' | 'skipped' | 'failed';
  lock?: StageLock;
  startTime: number;
  endTime: number;
  exitCode?: number;
  error?: string;
  /** The last lines of the command's output, for a failed stage. */
  outputTail?: string;
}

/**
 * Hooks through which a pipeline run is recorded (as tracking runs, dataset versions and model
 * versions). `stageStarted` may return a run id, which the command sees as `SLIPWAY_RUN_ID` (and
 * `MLFLOW_RUN_ID`) so a training script can log into the same run.
 */
export interface StageObserver {
  stageStarted(stage: Stage, decision: StageDecision): Promise<{ runId?: string } | void>;
  stageFinished(result: StageResult): Promise<{ runId?: string } | void>;
}
