/**
 * Where artifacts live. Logical paths are relative, '/'-separated and can never
 * escape the store's root. Implemented by the local filesystem store and the S3 store; one contract suite
 * (artifact-store.contract.test.ts) runs against both.
 */
import type { Readable } from 'node:stream';

/** One entry of a directory listing. */
export interface ArtifactEntry {
  /** Path relative to the listed directory's store root (e.g. `1/abc/artifacts/model/model.onnx`). */
  path: string;
  isDir: boolean;
  /** Size in bytes, for files. */
  size?: number;
}

/** What a write stored. */
export interface PutResult {
  path: string;
  sha256: string;
  size: number;
}

/** A file opened for download: size and digest describe the bytes `body` streams. */
export interface OpenedArtifact {
  body: Readable;
  size: number;
  /** The content's digest, where the store knows it without reading the file (content-addressed stores). */
  sha256?: string;
  /** The file's modification time in ms, where there is no digest (a plain folder). */
  modifiedMs?: number;
}

/** Options for garbage collection. */
export interface GarbageCollectionOptions {
  /** Unreferenced blobs and temp files younger than this are kept (an upload may be about to refer to them). @default 3600000 (1 hour) */
  minAgeMs?: number;
}

/** What a garbage collection removed. */
export interface GarbageCollection {
  scannedBlobs: number;
  removedBlobs: number;
  freedBytes: number;
  removedTempFiles: number;
  /** Model folders checked out for serving (hard links) that were unused for the minimum age. */
  removedCheckouts: number;
}

/** What the artifact routes need of a place holding artifacts: the store, or a plain local folder clients write to. */
export type ArtifactFiles = Pick<ArtifactStore, 'put' | 'read' | 'list'>;

/** A content-addressed artifact store. */
export interface ArtifactStore {
  /** Streams `body` to `path` atomically (temp file, fsync, rename); identical content is stored once. */
  put(path: string, body: Readable | Buffer | Uint8Array): Promise<PutResult>;
  /** Streams the file at `path`; throws NOT_FOUND when absent. */
  get(path: string): Promise<Readable>;
  /** Opens the file at `path` once: its bytes with the size and digest of exactly those bytes; throws NOT_FOUND when absent. */
  read(path: string): Promise<OpenedArtifact>;
  /** Size and digest of a file, or undefined when absent (or a directory). */
  stat(path: string): Promise<{ size: number; sha256: string } | undefined>;
  /** Immediate children of a directory (`''` is the root); empty when absent. */
  list(dir: string): Promise<ArtifactEntry[]>;
  /** Deletes a file or a whole directory tree; no error when absent. */
  delete(path: string): Promise<void>;
  /** A local file path holding the content of `path` (for onnxruntime); throws NOT_FOUND when absent. */
  localPath(path: string): Promise<string>;
  /**
   * A local folder holding every file under the folder `dir` at the same relative paths (for
   * onnxruntime, which finds a model's external weights relative to the model file). Identical
   * content gives the same folder; throws NOT_FOUND when `dir` holds no file.
   */
  localFolder?(dir: string): Promise<string>;
  /** Removes stored content that no path refers to any more. */
  collectGarbage?(opts?: GarbageCollectionOptions): Promise<GarbageCollection>;
  /** A time-limited URL that downloads the file at `path` without credentials (object stores); throws NOT_FOUND when absent. */
  presignedUrl?(path: string, expiresInSeconds?: number): Promise<{ url: string; size: number; sha256: string; expiresAt: Date }>;
  /** The local folder holding the files `localPath` and `localFolder` return, where it is not the store itself (a checkout cache). */
  readonly localRoot?: string;
  /** Writes, syncs and removes a tiny file; throws the system's error when the store cannot write. */
  checkWritable?(): Promise<void>;
}
