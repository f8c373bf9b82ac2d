/** Wire schemas of the artifact routes: a run's files and the store-level upload used to register a model file. */
import { z } from 'zod';
import { named } from './common.js';
import { RunIdParams } from './runs.js';

/** An artifact path in a URL: the router has decoded it once; the server validates it further (no '..', not absolute, nothing encoded twice). */
const ArtifactPath = z.string().min(1, 'give the artifact path after /artifacts/').describe("A '/'-separated path, e.g. model/model.onnx.");

/** Path parameters of a run's artifact file. */
export const RunArtifactParams = RunIdParams.extend({ path: ArtifactPath });

/** Path parameter of a file in the artifact store. */
export const StoreArtifactParams = z.object({ path: ArtifactPath });

/** Query of GET /runs/{runId}/artifacts. */
export const ListRunArtifactsQuery = z.object({
  path: z.string().optional().describe("The folder to list, relative to the run's artifact root; the root when absent."),
});
/** Query of GET /runs/{runId}/artifacts. */
export type ListRunArtifactsQuery = z.input<typeof ListRunArtifactsQuery>;

/** One entry of a run's artifact folder. */
export const ArtifactFile = named(
  z.object({
    path: z.string().describe("Relative to the run's artifact root, e.g. model/model.onnx."),
    isDir: z.boolean(),
    size: z.number().int().optional().describe('Size in bytes, for files.'),
  }),
  'ArtifactFile',
  "A file or folder among a run's artifacts.",
);
/** One entry of a run's artifact folder. */
export type ArtifactFile = z.infer<typeof ArtifactFile>;

/** The entries of one folder of a run's artifacts. */
export const ArtifactListing = named(
  z.object({
    rootUri: z.string().describe("The run's artifact root (its artifactUri)."),
    files: z.array(ArtifactFile),
  }),
  'ArtifactListing',
  "The immediate children of a folder of a run's artifacts; empty when the folder does not exist.",
);
/** The entries of one folder of a run's artifacts. */
export type ArtifactListing = z.infer<typeof ArtifactListing>;

/** What an upload stored. */
export const StoredArtifact = named(
  z.object({
    path: z.string().describe("Where the file is, relative to the run's artifact root (run uploads) or to the store (store uploads)."),
    size: z.number().int().describe('Bytes stored.'),
    sha256: z.string().describe('sha256 of the stored bytes, hex.'),
  }),
  'StoredArtifact',
  'A stored file: its path, size and digest.',
);
/** What an upload stored. */
export type StoredArtifact = z.infer<typeof StoredArtifact>;

/** What a store-level upload stored, with the URI to register it under. */
export const StoredStoreArtifact = named(
  StoredArtifact.extend({
    uri: z.string().describe('The file as a model source, e.g. mlflow-artifacts:/models/<uuid>/model.onnx: pass it as source to create a model version.'),
  }),
  'StoredStoreArtifact',
  'A file stored in the artifact store and the mlflow-artifacts: URI that names it.',
);
/** What a store-level upload stored, with the URI to register it under. */
export type StoredStoreArtifact = z.infer<typeof StoredStoreArtifact>;

/** Query of GET /runs/{runId}/artifact-url/{path}. */
export const PresignQuery = z.strictObject({
  expires: z.coerce.number().int().min(1).max(604_800).optional().describe('Seconds the URL stays valid, 1 to 604800 (7 days, S3\'s limit). @default 900'),
});

/** A time-limited URL that downloads one artifact file straight from the object store. */
export const PresignedArtifact = named(
  z.object({
    url: z.string().describe('GET this URL (no credentials needed) until it expires; it names the stored content, so it keeps answering the same bytes when the path is overwritten later.'),
    expiresAt: z.string().describe('When the URL stops working, ISO 8601.'),
    size: z.number().int().describe('Bytes of the file.'),
    sha256: z.string().describe('sha256 of the file, hex.'),
  }),
  'PresignedArtifact',
  'A presigned download URL for one artifact file.',
);
/** A presigned download URL for one artifact file. */
export type PresignedArtifact = z.infer<typeof PresignedArtifact>;
