/**
 * What serving reports about each prediction, for live monitoring. Serving calls
 * the observers without awaiting them; an observer must return in microseconds
 * and never throw (sample, copy into a bounded buffer, drop and count when full).
 */

import type { TrafficRole } from './traffic-split.js';

/** What live monitoring needs of a text model's tokenizer to profile its input. */
export interface InferenceTextTokenizer {
  /** Token ids of a text, without special tokens and without truncation. */
  contentIds(text: string): number[];
  /** The id of the unknown token; undefined when the tokenizer has none. */
  readonly unknownId: number | undefined;
}

/** The text input of a request to a text model (the strings the user sent, one per row). */
export interface InferenceTexts {
  /** The text input's name in the signature. */
  input: string;
  values: readonly unknown[];
  tokenizer: InferenceTextTokenizer;
}

/** One served request (possibly several rows). */
export interface InferenceRecord {
  model: string;
  version: string;
  requestId: string;
  /** Epoch ms when the request arrived. */
  time: number;
  latencyMs: number;
  /** Rows in this request. */
  rows: number;
  /** Input column names, in tensor order (from the signature), when the input is tabular. */
  columns?: string[];
  /** Row-major inputs, rows × columns.length, when the input is a single 2-D numeric tensor. */
  inputs?: ArrayLike<number>;
  /** Row-major outputs of the first output tensor (rows × outputWidth). */
  outputs?: ArrayLike<number>;
  outputWidth?: number;
  /** The text input, when the model is served behind its tokenizer. */
  texts?: InferenceTexts;
  /** Which side of an active traffic split answered; absent when the model's traffic is not split. */
  role?: TrafficRole;
}

/** Receives inference records. */
export interface InferenceObserver {
  observe(record: InferenceRecord): void;
}
