/**
 * How the serving domain finds registered models without importing the registry:
 * the registry implements this interface; the server passes it to serving.
 */

/** A model reference such as `models:/NAME@ALIAS` or `models:/NAME/VERSION`, parsed. */
export interface ModelRef {
  name: string;
  /** Exactly one of alias / version is set. */
  alias?: string;
  version?: string;
}

/** A resolved model version with a local path to its ONNX file. */
export interface ResolvedModel {
  name: string;
  version: string;
  /** Absolute path of the .onnx file on local disk (materialised from the artifact store if needed). */
  onnxPath: string;
  /** Column names of the single 2-D input, when known (signature or training data). */
  columns?: string[];
}

/** Resolves model references and tells when aliases move. */
export interface ModelSource {
  resolve(ref: ModelRef): Promise<ResolvedModel>;
  /** Lists registered models that have a servable ONNX version. */
  list?(): Promise<ModelRef[]>;
  /** Why registered model `name` has no servable version, as a message for clients; undefined when no such model is registered. */
  unservableReason?(name: string): Promise<string | undefined>;
  /** Calls `listener(name)` whenever an alias or stage of model `name` moves; returns an unsubscribe function. */
  onChange?(listener: (name: string) => void): () => void;
}

/** Parses `models:/NAME@ALIAS` or `models:/NAME/VERSION`; returns undefined for other strings. */
export function parseModelUri(uri: string): ModelRef | undefined {
  const m = /^models:\/([^/@]+)(?:@([^/]+)|\/([^/]+))$/.exec(uri);
  if (!m) return undefined;
  const name = decodeURIComponent(m[1] as string);
  if (m[2] !== undefined) return { name, alias: decodeURIComponent(m[2]) };
  return { name, version: decodeURIComponent(m[3] as string) };
}
