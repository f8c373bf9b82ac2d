/**
 * The artifact store a destination names: a local folder, or `s3://bucket/prefix` (the S3 client is loaded only then).
 */
import type { ArtifactStore } from './artifact-store.js';
import { LocalArtifactStore } from './local-artifact-store.js';
import type { S3ArtifactSettings } from './s3-location.js';

/** Opens the store for `destination` (an absolute folder), or for `s3` when the destination is an S3 location. */
export async function openArtifactStore(destination: string, s3?: S3ArtifactSettings): Promise<ArtifactStore> {
  if (!s3) return new LocalArtifactStore(destination);
  const { S3ArtifactStore } = await import('./s3-artifact-store.js');
  return new S3ArtifactStore({ location: s3, cacheDir: s3.cacheDir, cacheMaxBytes: s3.cacheMaxBytes });
}
