/**
 * How the release domain steers live traffic without importing serving: serving
 * implements this interface (per served model, over the version it serves now,
 * "the champion", and one "challenger"); the server hands it to the release domain.
 */

/** Which side of a split a request or a figure belongs to. */
export type TrafficRole = 'champion' | 'challenger';

/** A split of one served model's live traffic between its champion and a challenger. */
export interface TrafficSplitSpec {
  /** The challenger, as `models:/NAME/VERSION` (or an .onnx path for file-served models). */
  challengerUri: string;
  /** Share of requests answered by the challenger, 0 to 1 (canary). @default 0 */
  weight?: number;
  /** Share of requests copied to the challenger off the response path, whose answers are compared and dropped, 0 to 1 (shadow). @default 0 */
  shadowShare?: number;
  /** A request header whose value pins a caller to one side for the whole split (sticky canary); absent = each request drawn anew. */
  stickyHeader?: string;
}

/** Live figures of one side since the last `takeStats`. */
export interface SideStats {
  version: string;
  /** Requests answered (or, for a shadow challenger, mirrored copies run). */
  requests: number;
  /** Of those, failures that were the server's or the model's fault (5xx, deadline, model errors); client mistakes are not counted. */
  errors: number;
  /** Latency quantiles in ms over the window; null when no request finished. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /**
   * A bounded sample (at most 10,000 per window) of the first output's first column per row:
   * the score or class the model gave, for a distribution comparison (PSI) between the sides.
   */
  scores: number[];
  /** Request ids answered by this side in the window (bounded like `scores`), to join late labels. */
  requestIds: string[];
}

/** What a shadow comparison saw since the last `takeStats`. */
export interface ShadowStats {
  /** Mirrored requests whose two answers were compared. */
  compared: number;
  /** Share of compared rows whose predicted class (or rounded score) was the same, 0 to 1; null when none. */
  agreement: number | null;
  /** Mean absolute difference of the first output between the two sides; null when none. */
  meanAbsDiff: number | null;
  /** Largest absolute difference seen. */
  maxAbsDiff: number | null;
  /** Mirrors not run because the challenger's queue was full (or the split ended first); absent where not counted. */
  dropped?: number;
}

/** The figures of an active split over one analysis window. */
export interface SplitStats {
  champion: SideStats;
  challenger: SideStats;
  shadow?: ShadowStats;
  /** Window length in ms (since the split started or the previous `takeStats`). */
  windowMs: number;
}

/** Steers one server's live traffic; serving implements it. */
export interface TrafficController {
  /**
   * Loads and warms the challenger next to the champion, then starts the split. Resolves once
   * both serve; throws a catalogued error (and changes nothing) when the challenger fails to load
   * or `model` is not served here.
   */
  startSplit(model: string, spec: TrafficSplitSpec): Promise<void>;
  /** Changes the weights of the active split at once (the next request sees them). */
  updateSplit(model: string, change: { weight?: number; shadowShare?: number }): void;
  /**
   * Ends the split. `promote`: the challenger serves every request from now on (the swap is one
   * assignment, nothing dropped), the old champion stays loaded for `bakeMs` so `revert` is instant.
   * `rollback`: every request goes to the champion at once, the challenger drains and is released.
   */
  endSplit(model: string, outcome: 'promote' | 'rollback', opts?: { bakeMs?: number }): Promise<void>;
  /** Returns the figures since the previous call (or the start) and starts a new window; undefined without a split. */
  takeStats(model: string): SplitStats | undefined;
  /** The active split, if any (for status pages and restarts). */
  activeSplit(model: string): (TrafficSplitSpec & { championVersion: string; challengerVersion: string }) | undefined;
  /**
   * Serves the version kept from the last promotion again, at once, when it is still loaded (blue-green bake) and,
   * when `version` is given, is that version; resolves to its version, or undefined when none such is kept.
   */
  revert(model: string, version?: string): Promise<string | undefined>;
  /**
   * Loads a registered model this server would otherwise load on its first request, so a release can steer it
   * at once; resolves when it serves, or when it cannot be served (then `servedUri` stays undefined).
   */
  prepare?(model: string): Promise<void>;
  /** The reference `model` is served by here (`models:/NAME@champion`, `models:/NAME/3` or a file), or undefined when it is not served. */
  servedUri(model: string): string | undefined;
  /** The version `model` is served at here (the champion's, during a split), or undefined when it is not served. */
  servedVersion?(model: string): string | undefined;
}
