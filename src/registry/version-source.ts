/**
 * Where a model version's artifacts live, from the source a client registers:
 * `runs:/<run_id>/<path>` (through the run's artifact_uri; a run this server does not
 * know leaves the source as it is), `mlflow-artifacts:/<path>`, `models:/<name>/<version>`
 * or `models:/<name>@<alias>` (the other version's location), a plain logical artifact
 * path, or any other URI (kept as given, not inspected).
 */
import { fileURLToPath } from 'node:url';
import { errors } from '../core/errors.js';
import { parseModelUri, type ModelRef } from '../core/model-source.js';
import { normalizeArtifactPath } from '../artifacts/artifact-path.js';

/** The scheme under which the artifact store's logical paths are addressed. */
export const ARTIFACTS_SCHEME = 'mlflow-artifacts:';

/** A source resolved to a storage location. */
export interface ResolvedSource {
  storageLocation: string;
  /** The run named by a `runs:/` source. */
  runId?: string;
}

/** Lookups the resolution needs. */
export interface SourceLookups {
  /** The run's artifact_uri; undefined for a run this server does not know. */
  runArtifactUri(runId: string): Promise<string | undefined>;
  /** The storage location of a registered version; throws when unknown. */
  versionLocation(ref: ModelRef): Promise<string>;
}

/** The logical artifact-store path of a `mlflow-artifacts:` location, or undefined for other locations. */
export function artifactPathOf(location: string): string | undefined {
  if (!location.startsWith(ARTIFACTS_SCHEME)) return undefined;
  // mlflow-artifacts:/p, mlflow-artifacts:///p and mlflow-artifacts://host:port/p all name logical path p;
  // repeated slashes inside it are one (MLflow accepts mlflow-artifacts:/models/foo///bar).
  let rest = location.slice(ARTIFACTS_SCHEME.length);
  if (rest.startsWith('//')) rest = rest.replace(/^\/\/[^/]*/, '');
  rest = rest.replace(/^\/+/, '').replace(/\/{2,}/g, '/');
  return normalizeArtifactPath(rest, { allowRoot: true });
}

/** The local file-system path of a `file:` URI or an absolute path, or undefined for other locations. */
export function localPathOf(location: string): string | undefined {
  if (location.startsWith('/')) return location;
  if (!location.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(location);
  } catch {
    // file://host/… names another machine: nothing here to read.
    return undefined;
  }
}

function joinLocation(base: string, path: string): string {
  const clean = path.replace(/^\/+|\/+$/g, '');
  return clean === '' ? base : `${base.replace(/\/+$/, '')}/${clean}`;
}

/** Resolves a registered source to its storage location. */
export async function resolveSource(source: string, lookups: SourceLookups): Promise<ResolvedSource> {
  if (source.startsWith('runs:')) {
    const m = /^runs:\/+([^/]+)(?:\/(.*))?$/.exec(source);
    if (!m) throw errors.invalid(`Invalid source '${source}': expected runs:/<run_id>/<artifact path>.`, { field: 'source' });
    const runId = m[1] as string;
    const path = (m[2] ?? '').replace(/\/{2,}/g, '/');
    if (path !== '') normalizeArtifactPath(path.replace(/\/+$/, ''));
    const base = await lookups.runArtifactUri(runId);
    // As MLflow, a run unknown here does not stop the registration: the source is kept as the
    // location, unread, so the version has no signature and serving says why it cannot serve it.
    if (base === undefined) return { storageLocation: source, runId };
    const storageLocation = joinLocation(base, path);
    if (storageLocation.startsWith(ARTIFACTS_SCHEME)) artifactPathOf(storageLocation);
    return { storageLocation, runId };
  }
  if (source.startsWith('models:')) {
    const ref = parseModelUri(source);
    if (!ref) throw errors.invalid(`Invalid source '${source}': expected models:/<name>/<version> or models:/<name>@<alias>.`, { field: 'source' });
    return { storageLocation: await lookups.versionLocation(ref) };
  }
  if (source.startsWith(ARTIFACTS_SCHEME)) {
    const path = artifactPathOf(source) as string;
    return { storageLocation: `${ARTIFACTS_SCHEME}/${path}` };
  }
  // Any other URI scheme (s3://, file://, dbfs:/ …) or an absolute local path is recorded as given; the registry
  // reads a local one only inside the folders serving may read (see ModelFileAllowList).
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(source) || source.startsWith('/')) return { storageLocation: source };
  return { storageLocation: `${ARTIFACTS_SCHEME}/${normalizeArtifactPath(source.replace(/\/+$/, ''))}` };
}
