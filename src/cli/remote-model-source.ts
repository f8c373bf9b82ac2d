/**
 * Registered models of a remote Slipway server as serving's `ModelSource`, for
 * `slipway serve models:/NAME@ALIAS --server URL`: a reference is resolved with the
 * SDK, the version's files are downloaded once into a local cache folder
 * (`$SLIPWAY_HOME/model-cache/<name>/<version>/`) and served from there, and the
 * aliases served are polled so serving swaps in the version an alias moves to.
 *
 * The CLI composes it; domain code never imports it (it speaks HTTP to a server).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { artifactPathSegments } from '../artifacts/artifact-path.js';
import { errorFromResponse } from '../client/api-error.js';
import { asSlipwayError } from './connection.js';
import type { ModelVersion } from '../client/schemas/models.js';
import type { SlipwayClient } from '../client/slipway-client.js';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ModelRef, ModelSource, ResolvedModel } from '../core/model-source.js';
import { COLUMNS_TAG, columnsFromDatasetSchema, columnsFromPerFeatureInputs, columnsFromTag } from '../registry/model-columns.js';

/** How the remote source reaches its server and where it keeps its copies. */
export interface RemoteModelSourceOptions {
  /** An SDK client of the server (with any authorization header already set). */
  client: SlipwayClient;
  /** The server's base URL, for messages and the artifact listing. */
  url: string;
  /** The Authorization header the client sends, for the one request made without the SDK. */
  authorization?: string;
  /** Folder the versions' files are downloaded into, one folder per `<name>/<version>`. */
  cacheDir: string;
  /** How often to look where the served aliases point, in ms; 0 turns it off. */
  pollIntervalMs: number;
  logger: Logger;
  /** A fetch implementation for the listing request. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** One file of a version's folder, relative to that folder. */
interface CachedFile {
  path: string;
  size: number;
}

/** What `<version>.json` beside a complete cached copy records. */
interface CacheManifest {
  name: string;
  version: string;
  /** The ONNX file, relative to the version's folder. */
  onnx: string;
  files: CachedFile[];
}

/** An alias being served, and the version it was last resolved to. */
interface WatchedAlias {
  name: string;
  alias: string;
  /** The version last resolved (or found unservable); undefined until the first resolve. */
  version: string | undefined;
  /** Whether the last look failed, so an outage is logged once, not at every poll. */
  failing: boolean;
}

/** How deep below a model's folder files are fetched (as the registry looks for an ONNX file). */
const MAX_DEPTH = 3;
/** The most files fetched for one version, so a huge folder cannot fill the disk by accident. */
const MAX_FILES = 2000;
/** The longest folder name the cache gives a model (file systems take 255 bytes). */
const MAX_NAME_BYTES = 200;

/** A model name as one safe folder name: percent-encoded, never `.`/`..`, long names shortened with a digest. */
function folderName(name: string): string {
  let safe = encodeURIComponent(name);
  if (/^\.+$/.test(safe)) safe = safe.replace(/\./g, '%2E');
  if (Buffer.byteLength(safe) <= MAX_NAME_BYTES) return safe;
  return `${safe.slice(0, 120)}-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

/** A transient failure: the server or the network, worth trying again at the next poll. */
function transient(err: unknown): boolean {
  return isSlipwayError(err) && (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED');
}

/** Resolves `models:/…` references on a remote server and serves local copies of their files. */
export class RemoteModelSource implements ModelSource {
  private readonly listeners = new Set<(name: string) => void>();
  private readonly watched = new Map<string, WatchedAlias>();
  private readonly fetchImpl: typeof fetch;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly opts: RemoteModelSourceOptions) {
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    if (opts.pollIntervalMs > 0) {
      this.timer = setInterval(() => void this.poll(), opts.pollIntervalMs);
      // Polling must never keep a process alive on its own.
      this.timer.unref();
    }
  }

  /**
   * The registered version `ref` names, checked to be servable from here: READY, with an
   * ONNX file kept in the server's artifact store. Throws a catalogued error otherwise
   * (UNAVAILABLE when the server cannot be reached), so `serve` can stop before it listens.
   */
  async version(ref: ModelRef): Promise<ModelVersion> {
    const v = await this.api(() => (ref.alias !== undefined ? this.opts.client.models.getByAlias(ref.name, ref.alias) : this.opts.client.models.getVersion(ref.name, ref.version ?? '')));
    const label = `${v.name}/${v.version}`;
    if (v.status !== 'READY') {
      const code = v.status === 'PENDING_REGISTRATION' ? 'MODEL_NOT_READY' : 'INVALID_STATE';
      throw new SlipwayError(code, `Model version ${label} on ${this.opts.url} is ${v.status}${v.statusMessage ? `: ${v.statusMessage}` : ''}.`, { name: v.name, version: v.version });
    }
    if (!v.signature) {
      throw new SlipwayError('INVALID_STATE', `Model version ${label} on ${this.opts.url} has no ONNX file, so it cannot be served; register an .onnx file (see "Converting models to ONNX" in docs/serving.md).`, {
        name: v.name,
        version: v.version,
      });
    }
    if (v.signature.path.startsWith('/')) {
      throw new SlipwayError(
        'INVALID_STATE',
        `Model version ${label} was registered from a file on the server's machine (${v.signature.path}), which the server does not send; ` +
          `register the file into its artifact store (slipway models register FILE --server ${this.opts.url}) to serve it from here.`,
        { name: v.name, version: v.version },
      );
    }
    return v;
  }

  /** Resolves `ref` to a local copy of its version's ONNX file (downloaded once) and its input columns. */
  async resolve(ref: ModelRef): Promise<ResolvedModel> {
    const watched = ref.alias !== undefined ? this.watch(ref.name, ref.alias) : undefined;
    let v: ModelVersion;
    try {
      v = await this.version(ref);
    } catch (err) {
      // A version that cannot be served stays so until the alias moves: it is not tried again at every
      // poll. One still registering, or a server out of reach, is tried again at the next poll.
      const version = isSlipwayError(err) ? err.details?.version : undefined;
      if (watched && typeof version === 'string' && !transient(err) && (err as SlipwayError).code !== 'MODEL_NOT_READY') watched.version = version;
      throw err;
    }
    try {
      const onnxPath = await this.localCopy(v);
      const resolved: ResolvedModel = { name: v.name, version: v.version, onnxPath };
      const columns = await this.columnsOf(v);
      if (columns) resolved.columns = columns;
      if (watched) watched.version = v.version;
      return resolved;
    } catch (err) {
      if (watched && !transient(err)) watched.version = v.version;
      throw err;
    }
  }

  /** Calls `listener(name)` when an alias being served now points at another version. */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Stops polling. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Looks where each served alias points and announces the models whose alias moved. */
  async poll(): Promise<void> {
    // A slow server must not stack one look on another.
    if (this.polling) return;
    this.polling = true;
    try {
      for (const w of this.watched.values()) {
        if (w.version === undefined) continue;
        let current: string;
        try {
          current = (await this.api(() => this.opts.client.models.getByAlias(w.name, w.alias))).version;
        } catch (err) {
          if (!w.failing) {
            this.opts.logger.warn(
              { model: w.name, alias: w.alias, server: this.opts.url, serving: w.version, reason: (err as Error).message },
              `serve: cannot look up models:/${w.name}@${w.alias}; version ${w.version} keeps serving`,
            );
          }
          w.failing = true;
          continue;
        }
        if (w.failing) this.opts.logger.info({ model: w.name, alias: w.alias, server: this.opts.url }, `serve: models:/${w.name}@${w.alias} can be looked up again`);
        w.failing = false;
        if (current !== w.version) {
          this.opts.logger.info({ model: w.name, alias: w.alias, from: w.version, to: current }, `serve: models:/${w.name}@${w.alias} moved to version ${current}`);
          this.emit(w.name);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private watch(name: string, alias: string): WatchedAlias {
    const key = `${name}\u0000${alias}`;
    let w = this.watched.get(key);
    if (!w) {
      w = { name, alias, version: undefined, failing: false };
      this.watched.set(key, w);
    }
    return w;
  }

  private emit(name: string): void {
    for (const l of this.listeners) {
      try {
        l(name);
      } catch {
        // A listener's failure is its own; the others still hear about the change.
      }
    }
  }

  /** Runs an SDK call, turning its errors into the catalogued errors the CLI and serving report. */
  private async api<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw asSlipwayError(err);
    }
  }

  /**
   * The local path of the version's ONNX file. A file alone in its folder is fetched alone; one
   * with others beside it (external weights such as `model.onnx.data`, MLflow's metadata files)
   * comes with its whole folder, because onnxruntime reads external data relative to the model
   * file — the same rule as the local registry source. A complete copy already cached is reused.
   */
  private async localCopy(v: ModelVersion): Promise<string> {
    const storePath = (v.signature as NonNullable<ModelVersion['signature']>).path;
    const slash = storePath.lastIndexOf('/');
    const dir = slash < 0 ? '' : storePath.slice(0, slash);
    const onnx = storePath.slice(slash + 1);
    const folder = join(this.opts.cacheDir, folderName(v.name), v.version);
    const manifestFile = `${folder}.json`;
    const cached = await this.completeCopy(manifestFile, folder, v);
    if (cached) return join(folder, ...cached.onnx.split('/'));

    // At the store's root the folder is the whole store: the file alone is fetched.
    const listed = dir === '' ? undefined : await this.listFolder(dir);
    const files = listed?.some((f) => f.path === onnx) ? listed : [{ path: onnx, size: -1 }];
    await mkdir(folder, { recursive: true });
    const fetched: CachedFile[] = [];
    for (const f of files) fetched.push(await this.download(dir === '' ? f.path : `${dir}/${f.path}`, folder, f));
    const manifest: CacheManifest = { name: v.name, version: v.version, onnx, files: fetched };
    const temp = `${manifestFile}.${randomUUID()}.part`;
    await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(temp, manifestFile);
    this.opts.logger.info({ model: v.name, version: v.version, files: fetched.length, folder }, 'serve: model version downloaded');
    return join(folder, ...onnx.split('/'));
  }

  /** The manifest of a cached copy whose every file is there with its recorded size, else undefined. */
  private async completeCopy(manifestFile: string, folder: string, v: ModelVersion): Promise<CacheManifest | undefined> {
    let manifest: CacheManifest;
    try {
      manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as CacheManifest;
    } catch {
      return undefined;
    }
    if (manifest.name !== v.name || manifest.version !== v.version || !Array.isArray(manifest.files) || typeof manifest.onnx !== 'string') return undefined;
    for (const f of manifest.files) {
      const info = await stat(join(folder, ...String(f.path).split('/'))).catch(() => undefined);
      if (!info?.isFile() || info.size !== f.size) return undefined;
    }
    return manifest;
  }

  /**
   * The files below the store folder `dir`, at most MAX_DEPTH deep, with paths relative to it.
   *
   * The native API lists a run's artifacts but has no listing of a store folder (it downloads
   * store files by path), so this asks the MLflow artifact proxy a Slipway server also runs,
   * `GET /api/2.0/mlflow-artifacts/artifacts?path=`, with the same Authorization header as the
   * SDK. Returns undefined when that route is missing (e.g. behind a proxy that only passes
   * /api/v1): the ONNX file is then fetched alone.
   */
  private async listFolder(dir: string): Promise<CachedFile[] | undefined> {
    const out: CachedFile[] = [];
    let level = [''];
    for (let depth = 0; depth < MAX_DEPTH && level.length > 0; depth++) {
      const next: string[] = [];
      for (const sub of level) {
        const entries = await this.listOnce(sub === '' ? dir : `${dir}/${sub}`);
        if (!entries) return undefined;
        for (const e of entries) {
          // MLflow lists names relative to the folder asked for; each must stay inside it.
          const name = artifactPathSegments(e.path).join('/');
          const rel = sub === '' ? name : `${sub}/${name}`;
          if (e.is_dir) next.push(rel);
          else out.push({ path: rel, size: typeof e.file_size === 'number' ? e.file_size : -1 });
          if (out.length > MAX_FILES) {
            throw new SlipwayError('LIMIT_EXCEEDED', `The model folder '${dir}' on ${this.opts.url} holds more than ${MAX_FILES} files; register the ONNX file (and its external data files) alone.`, { path: dir });
          }
        }
      }
      level = next;
    }
    return out;
  }

  private async listOnce(path: string): Promise<Array<{ path: string; is_dir?: boolean; file_size?: number }> | undefined> {
    const url = `${this.opts.url}/api/2.0/mlflow-artifacts/artifacts?${new URLSearchParams({ path }).toString()}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        headers: { accept: 'application/json', ...(this.opts.authorization ? { authorization: this.opts.authorization } : {}) },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? 'no answer within 30000 ms' : (err as Error).message;
      throw new SlipwayError('UNAVAILABLE', `Cannot reach Slipway at ${this.opts.url}: ${why}`);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): kept as text for the error message.
    }
    // The route answers an absent folder with no files, so a 404 means the route itself is missing.
    if (res.status === 404) return undefined;
    if (!res.ok) throw asSlipwayError(errorFromResponse(res.status, body, res.headers.get('x-request-id') ?? undefined));
    const files = (body as { files?: unknown } | undefined)?.files;
    return Array.isArray(files) ? (files as Array<{ path: string; is_dir?: boolean; file_size?: number }>) : [];
  }

  /**
   * Downloads the store file `storePath` to `folder/<file.path>`: written under a temporary name,
   * checked against the listed size (else the Content-Length) and the server's sha256 ETag, then
   * renamed, so a file under its own name is always whole.
   */
  private async download(storePath: string, folder: string, file: CachedFile): Promise<CachedFile> {
    const target = join(folder, ...file.path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    const got = await this.api(() => this.opts.client.artifacts.get(storePath));
    const temp = `${target}.${randomUUID()}.part`;
    const digest = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        digest.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(got.body as WebReadableStream<Uint8Array>), tap, createWriteStream(temp, { flags: 'wx' }));
    } catch (err) {
      await rm(temp, { force: true });
      // The SDK reports a broken or stalled transfer as an API error (UNAVAILABLE, DEADLINE_EXCEEDED).
      throw asSlipwayError(err);
    }
    const size = (await stat(temp)).size;
    const expected = file.size >= 0 ? file.size : got.size;
    const sha256 = digest.digest('hex');
    const etag = got.etag?.replace(/^W\//, '').replace(/"/g, '');
    const problem =
      expected !== undefined && size !== expected ? `got ${size} of ${expected} bytes` : etag !== undefined && /^[0-9a-f]{64}$/.test(etag) && etag !== sha256 ? 'its sha256 differs from the one the server announced' : undefined;
    if (problem) {
      await rm(temp, { force: true });
      throw new SlipwayError('UNAVAILABLE', `Downloading '${storePath}' from ${this.opts.url} was incomplete (${problem}); it is fetched again at the next load.`, { path: storePath });
    }
    await rename(temp, target);
    return { path: file.path, size };
  }

  /**
   * Input column names as the local registry source finds them: the `slipway.columns` version
   * tag, else the input names when the model takes one single-column tensor per feature, else
   * the columns of the run's (preferably training) dataset when their count matches the input width.
   */
  private async columnsOf(v: ModelVersion): Promise<string[] | undefined> {
    const fromTag = columnsFromTag(v.tags[COLUMNS_TAG]);
    if (fromTag) return fromTag;
    const inputs = v.signature?.inputs ?? [];
    const perFeature = columnsFromPerFeatureInputs(inputs);
    if (perFeature) return perFeature;
    if (inputs.length !== 1 || !v.runId) return undefined;
    const runId = v.runId;
    const run = await this.api(() => this.opts.client.runs.get(runId)).catch((err: unknown) => {
      // The run may have been deleted for good; the model is still served, without column names.
      if (isSlipwayError(err) && err.code === 'NOT_FOUND') return undefined;
      throw err;
    });
    const width = inputs[0]?.shape[1];
    const datasets = [...(run?.inputs.datasetInputs ?? [])].sort((a, b) => Number(isTraining(b.tags)) - Number(isTraining(a.tags)));
    for (const d of datasets) {
      const cols = columnsFromDatasetSchema(d.dataset.schema ?? null, typeof width === 'number' ? width : undefined);
      if (cols) return cols;
    }
    return undefined;
  }
}

function isTraining(tags: Array<{ key: string; value: string }>): boolean {
  return tags.some((t) => t.key === 'mlflow.data.context' && t.value === 'training');
}
