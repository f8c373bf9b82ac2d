/**
 * Which remote a data command talks to: `--remote NAME`, else `data.remote`, else the only remote in
 * `slipway.yaml`'s `data.remotes`. A remote is a folder (a path relative to the workspace root, an
 * absolute path or a `file://` URL) opened as a local artifact store, or `s3://bucket/prefix` opened as the S3
 * artifact store (endpoint, region and credentials from the AWS environment).
 */
import { stat, mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SlipwayError } from '../core/errors.js';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { s3LocationOf, type S3Location } from '../artifacts/s3-location.js';
import type { DataConfig } from './data-types.js';
import { WORKSPACE_DIR } from './data-types.js';

/** A remote named in the config, with the folder its URL names. */
export interface ResolvedRemote {
  name: string;
  /** The URL as written in slipway.yaml. */
  url: string;
  /** Absolute path of the remote's folder; for an S3 remote, its URL. */
  folder: string;
  /** The bucket and prefix of an `s3://` remote, with the folder its local checkouts go to. */
  s3?: S3Location & { cacheDir: string };
}

// A remote's name becomes a folder under .slipway/remotes/, so it is kept to plain characters.
const REMOTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

const EXAMPLE_YAML = 'data: { remote: origin, remotes: { origin: { url: ../data-remote } } }';

function invalid(message: string, details?: Record<string, unknown>): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, details);
}

/** Picks the remote a command uses and resolves its URL to a folder or an S3 location; throws INVALID_ARGUMENT (exit 2) naming the problem. */
export function resolveRemote(root: string, config: DataConfig | undefined, requested?: string, env: NodeJS.ProcessEnv = process.env): ResolvedRemote {
  const remotes = config?.remotes ?? {};
  const names = Object.keys(remotes);
  if (names.length === 0) {
    throw invalid(`No data remote is configured; add one to slipway.yaml, e.g. ${EXAMPLE_YAML}`);
  }
  const onlyOne = names.length === 1 ? names[0] : undefined;
  const name = requested ?? config?.remote ?? onlyOne;
  if (name === undefined) {
    throw invalid(`Several data remotes are configured (${names.join(', ')}); name one with --remote or set data.remote in slipway.yaml.`);
  }
  const entry = Object.hasOwn(remotes, name) ? remotes[name] : undefined;
  if (!entry) {
    const where = requested !== undefined ? `--remote ${name}` : `data.remote '${name}'`;
    throw invalid(`${where} names no remote in slipway.yaml's data.remotes (known: ${names.join(', ')}).`, { remote: name });
  }
  if (!REMOTE_NAME.test(name)) {
    throw invalid(`Remote name '${name}' is not allowed: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit).`, { remote: name });
  }
  const url = typeof entry.url === 'string' ? entry.url.trim() : '';
  if (url === '') throw invalid(`Remote '${name}' has no url in slipway.yaml (data.remotes.${name}.url).`, { remote: name });
  if (SCHEME.exec(url)?.[1]?.toLowerCase() === 's3') {
    const location = s3LocationOf(url, env, `data.remotes.${name}.url in slipway.yaml`);
    return { name, url, folder: location.uri, s3: { ...location, cacheDir: join(root, WORKSPACE_DIR, 'remotes', name, 'checkouts') } };
  }
  const folder = folderOf(root, name, url);
  // The store's own folders (objects/, tree/, tmp/) would land among the workspace's files or its cache.
  const inWorkspaceDir = relative(join(root, WORKSPACE_DIR), folder);
  if (folder === resolve(root) || !(inWorkspaceDir.startsWith('..') || isAbsolute(inWorkspaceDir))) {
    throw invalid(`Remote '${name}' (${url}) is the workspace itself or inside ${WORKSPACE_DIR}/; use a folder of its own.`, { remote: name });
  }
  return { name, url, folder };
}

function folderOf(root: string, name: string, url: string): string {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  // One letter followed by ':' is a Windows drive, not a scheme.
  if (scheme !== undefined && scheme.length > 1) {
    if (scheme !== 'file') {
      throw invalid(`Remote '${name}' has the URL ${url}, whose scheme '${scheme}:' is not supported; use a folder path, a file:// URL or s3://bucket/prefix.`, { remote: name });
    }
    try {
      return fileURLToPath(url);
    } catch {
      throw invalid(`Remote '${name}' has the URL ${url}, which is not a local file:// URL (write file:///absolute/path).`, { remote: name });
    }
  }
  return isAbsolute(url) ? resolve(url) : resolve(root, url);
}

/**
 * Opens the remote's folder as an artifact store. For a push the folder is created; for a fetch a
 * missing folder is NOT_FOUND (exit 1), since it means nothing was ever pushed there or the path is wrong.
 */
export async function openRemoteStore(remote: ResolvedRemote, mode: 'push' | 'fetch'): Promise<ArtifactStore> {
  if (remote.s3) {
    const { S3ArtifactStore } = await import('../artifacts/s3-artifact-store.js');
    const store = new S3ArtifactStore({ location: remote.s3, cacheDir: remote.s3.cacheDir });
    // A missing bucket or refused credentials are one clear line before any transfer starts; a push also proves it may write.
    if (mode === 'push') await store.checkWritable();
    return store;
  }
  const info = await stat(remote.folder).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new SlipwayError('INVALID_ARGUMENT', `Remote '${remote.name}' folder ${remote.folder} cannot be used: ${err.code ?? err.message}.`, { remote: remote.name });
  });
  if (info && !info.isDirectory()) {
    throw invalid(`Remote '${remote.name}' (${remote.url}) is the file ${remote.folder}, not a folder.`, { remote: remote.name });
  }
  if (!info) {
    if (mode === 'fetch') {
      throw new SlipwayError('NOT_FOUND', `Remote '${remote.name}' folder ${remote.folder} does not exist: nothing was pushed there yet, or data.remotes.${remote.name}.url in slipway.yaml is wrong.`, { remote: remote.name });
    }
    await mkdir(remote.folder, { recursive: true });
  }
  return new LocalArtifactStore(remote.folder);
}

/** Where the parsed pack indexes of remote `name` are kept: `<root>/.slipway/remotes/<name>/packs`. */
export function remoteIndexCacheDir(root: string, name: string): string {
  return join(root, WORKSPACE_DIR, 'remotes', name, 'packs');
}
