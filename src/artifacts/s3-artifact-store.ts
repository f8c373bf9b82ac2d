/**
 * The artifact store on S3 (or an S3-compatible server), content-addressed like the local store:
 *
 *   <prefix>/objects/ab/cdef…    immutable blobs named by their sha256
 *   <prefix>/tree/<logical path> one small pointer object per artifact: `{"sha256", "size"}`
 *   <prefix>/tmp/<random>        streamed uploads in flight
 *
 * Why a reader never sees a mix: S3 makes a PUT (single or multipart) visible only when complete, and a key's
 * later PUT replaces it whole. A streamed upload goes to a temporary key while it is hashed (its name is known
 * only at the end), is then copied server-side to `objects/<digest>` (identical content lands on the same key, so
 * it is stored once; the copy also renews its age for garbage collection), and only then is the pointer written. A reader resolves the pointer once and streams
 * the blob it names; blobs never change, so an overwrite meanwhile switches later readers to the new blob and
 * leaves this one whole. Blobs no pointer names are removed by `collectGarbage`, which spares young ones.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SlipwayError } from '../core/errors.js';
import type { ArtifactEntry, ArtifactStore, GarbageCollection, GarbageCollectionOptions, OpenedArtifact, PutResult } from './artifact-store.js';
import { artifactPathSegments } from './artifact-path.js';
import { S3CheckoutCache } from './s3-checkout-cache.js';
import { createS3Client, s3Problem } from './s3-client.js';
import type { S3Location } from './s3-location.js';

/** Options of the S3 store. */
export interface S3ArtifactStoreOptions {
  location: S3Location;
  /** Local folder for checkouts that serving reads (`localPath`/`localFolder`). */
  cacheDir: string;
  /** Largest size of the checkout cache in bytes. @default 10 GiB */
  cacheMaxBytes?: number;
  /** A client to use instead of one built from `location` (tests). */
  client?: S3Client;
  /** Part size of multipart uploads in bytes (memory per upload is about `partSize × (queueSize + 1)`). @default 8 MiB */
  partSize?: number;
  /** Parts uploaded at once per upload. @default 3 */
  queueSize?: number;
}

/** A byte range of a file, both ends included (as HTTP's Range header counts). */
export interface ByteRange {
  start: number;
  end?: number;
}

interface Pointer {
  sha256: string;
  size: number;
}

const DIGEST = /^[0-9a-f]{64}$/;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 3;
/** S3's limit for one CopyObject; larger blobs are copied part by part. */
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const COPY_PART = 512 * 1024 ** 2;
/** Pointers read at once while listing (each listed file costs one small GET). */
const LIST_CONCURRENCY = 32;
const DEFAULT_GC_MIN_AGE_MS = 60 * 60 * 1000;
const MAX_CHECKOUT_FILES = 10_000;

function notFound(logical: string): SlipwayError {
  return new SlipwayError('NOT_FOUND', `Artifact '${logical}' does not exist.`, { path: logical });
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Content-addressed artifact store in an S3 bucket under a key prefix. */
export class S3ArtifactStore implements ArtifactStore {
  readonly location: S3Location;
  readonly client: S3Client;
  readonly cache: S3CheckoutCache;
  private readonly base: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(opts: S3ArtifactStoreOptions) {
    this.location = opts.location;
    this.client = opts.client ?? createS3Client(opts.location);
    this.cache = new S3CheckoutCache({ dir: opts.cacheDir, ...(opts.cacheMaxBytes !== undefined ? { maxBytes: opts.cacheMaxBytes } : {}) });
    this.base = opts.location.prefix === '' ? '' : `${opts.location.prefix}/`;
    this.partSize = Math.max(5 * 1024 * 1024, opts.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = Math.max(1, opts.queueSize ?? DEFAULT_QUEUE_SIZE);
  }

  /** The local folder whose files `localPath` and `localFolder` return (serving's allow-list includes it). */
  get localRoot(): string {
    return this.cache.dir;
  }

  private get bucket(): string {
    return this.location.bucket;
  }

  private blobKey(sha256: string): string {
    return `${this.base}objects/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
  }

  private treeKey(logical: string): string {
    return `${this.base}tree/${logical}`;
  }

  private async send<T>(what: string, run: () => Promise<T>, atStart = false): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof SlipwayError) throw err;
      throw s3Problem(err, this.location, what, atStart);
    }
  }

  async put(path: string, body: Readable | Buffer | Uint8Array): Promise<PutResult> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    await this.checkPlace(segments, logical);
    const blob = Buffer.isBuffer(body) || body instanceof Uint8Array ? await this.putBuffer(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) : await this.putStream(body);
    const pointer = JSON.stringify({ sha256: blob.sha256, size: blob.size });
    await this.send(`write the pointer of '${logical}'`, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.treeKey(logical), Body: pointer, ContentType: 'application/json', Metadata: { sha256: blob.sha256, size: String(blob.size) } })),
    );
    return { path: logical, sha256: blob.sha256, size: blob.size };
  }

  /** Refuses a file where a folder is, or below a file, as the local store does. */
  private async checkPlace(segments: string[], logical: string): Promise<void> {
    const [folder, ...parents] = await Promise.all([
      this.hasChildren(logical),
      ...segments.slice(0, -1).map((_, i) => this.pointerOf(segments.slice(0, i + 1).join('/'))),
    ]);
    if (folder) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a folder of that name exists.`, { path: logical });
    if (parents.some((p) => p !== undefined)) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
  }

  private async hasChildren(logical: string): Promise<boolean> {
    const out = await this.send('list', () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.treeKey(logical)}/`, MaxKeys: 1 })));
    return (out.KeyCount ?? out.Contents?.length ?? 0) > 0;
  }

  /** A body already in memory is hashed first: a blob that exists costs no upload, and one PUT is atomic on its own. */
  private async putBuffer(body: Buffer): Promise<Pointer> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    if (await this.blobExists(sha256)) await this.refresh(sha256, body.length);
    else await this.send('upload content', () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.blobKey(sha256), Body: body, ContentLength: body.length })));
    return { sha256, size: body.length };
  }

  /** Streams to a temporary key in parts of bounded size while hashing, then names the blob by its digest. */
  private async putStream(body: Readable): Promise<Pointer> {
    const temp = `${this.base}tmp/${Date.now()}-${randomBytes(8).toString('hex')}`;
    const hash = createHash('sha256');
    let size = 0;
    const counted = new Transform({
      highWaterMark: 1024 * 1024,
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    body.on('error', (err) => counted.destroy(err));
    body.pipe(counted);
    const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: temp, Body: counted }, partSize: this.partSize, queueSize: this.queueSize, leavePartsOnError: false });
    try {
      await this.send('upload content', () => upload.done());
    } catch (err) {
      body.unpipe(counted);
      body.resume();
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: temp })).catch(() => {});
      throw err;
    }
    const sha256 = hash.digest('hex');
    try {
      // Also when the content is stored already: the copy replaces it with identical bytes and a fresh age (see refresh).
      await this.copy(temp, this.blobKey(sha256), size);
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: temp })).catch(() => {});
    }
    return { sha256, size };
  }

  /**
   * Gives stored content a fresh modification time before a new pointer names it, so garbage collection (which
   * spares content younger than its minimum age) cannot remove it between this check and the pointer's write.
   */
  private async refresh(sha256: string, size: number): Promise<void> {
    if (size > MAX_SINGLE_COPY) return;
    const key = this.blobKey(sha256);
    await this.send('store content', () =>
      this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: `${this.bucket}/${key}`, MetadataDirective: 'REPLACE', Metadata: { sha256 } })),
    );
  }

  private async blobExists(sha256: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(sha256) }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw s3Problem(err, this.location, 'check stored content');
    }
  }

  /** A server-side copy; above S3's 5 GiB single-copy limit, part by part. */
  private async copy(from: string, to: string, size: number): Promise<void> {
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= MAX_SINGLE_COPY) {
      await this.send('store content', () => this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source })));
      return;
    }
    const { UploadId } = await this.send('store content', () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to })));
    try {
      const ranges = Array.from({ length: Math.ceil(size / COPY_PART) }, (_, i) => ({ n: i + 1, start: i * COPY_PART, end: Math.min(size, (i + 1) * COPY_PART) - 1 }));
      const parts = await mapLimit(ranges, 4, async (r) => {
        const out = await this.client.send(new UploadPartCopyCommand({ Bucket: this.bucket, Key: to, UploadId, PartNumber: r.n, CopySource: source, CopySourceRange: `bytes=${r.start}-${r.end}` }));
        return { PartNumber: r.n, ETag: out.CopyPartResult?.ETag };
      });
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId })).catch(() => {});
      throw s3Problem(err, this.location, 'store content');
    }
  }

  /** The pointer at a logical path, or undefined when absent. */
  private async pointerOf(logical: string): Promise<Pointer | undefined> {
    let text: string;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.treeKey(logical) }));
      text = (await out.Body?.transformToString()) ?? '';
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw s3Problem(err, this.location, `read '${logical}'`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const p = parsed as Partial<Pointer> | undefined;
    if (!p || typeof p.sha256 !== 'string' || !DIGEST.test(p.sha256) || typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size < 0) {
      throw new SlipwayError('INTEGRITY_ERROR', `The artifact store entry for '${logical}' is corrupt (not a pointer to stored content).`, { path: logical });
    }
    return { sha256: p.sha256, size: p.size };
  }

  private async requirePointer(path: string): Promise<{ pointer: Pointer; logical: string }> {
    const logical = artifactPathSegments(path).join('/');
    const pointer = await this.pointerOf(logical);
    if (!pointer) throw notFound(logical);
    return { pointer, logical };
  }

  private async openBlob(pointer: Pointer, logical: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(pointer.sha256), ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}) }),
      );
      return out.Body as Readable;
    } catch (err) {
      if (isMissing(err)) throw new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is missing from the store.`, { path: logical });
      throw s3Problem(err, this.location, `read '${logical}'`);
    }
  }

  async get(path: string): Promise<Readable> {
    return (await this.read(path)).body;
  }

  async read(path: string): Promise<OpenedArtifact> {
    const { pointer, logical } = await this.requirePointer(path);
    // The pointer is read once: the blob it names never changes, so size, digest and bytes agree whatever overwrites the path meanwhile.
    return { body: await this.openBlob(pointer, logical), size: pointer.size, sha256: pointer.sha256 };
  }

  /** Streams part of a file (`start` to `end`, both included); the size and digest are the whole file's. */
  async readRange(path: string, range: ByteRange): Promise<OpenedArtifact> {
    const { pointer, logical } = await this.requirePointer(path);
    const end = Math.min(range.end ?? pointer.size - 1, pointer.size - 1);
    if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start > end) {
      throw new SlipwayError('INVALID_ARGUMENT', `Range ${range.start}-${range.end ?? ''} is outside artifact '${logical}' (${pointer.size} bytes).`, { path: logical });
    }
    return { body: await this.openBlob(pointer, logical, { start: range.start, end }), size: pointer.size, sha256: pointer.sha256 };
  }

  /** A time-limited URL that downloads the file straight from the bucket, without credentials. */
  async presignedUrl(path: string, expiresInSeconds = 900): Promise<{ url: string; size: number; sha256: string; expiresAt: Date }> {
    const { pointer } = await this.requirePointer(path);
    const url = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(pointer.sha256) }), { expiresIn: expiresInSeconds });
    return { url, size: pointer.size, sha256: pointer.sha256, expiresAt: new Date(Date.now() + expiresInSeconds * 1000) };
  }

  async stat(path: string): Promise<{ size: number; sha256: string } | undefined> {
    const logical = artifactPathSegments(path).join('/');
    return this.pointerOf(logical);
  }

  /** Every key under `prefix`, page by page (ListObjectsV2 continuation tokens); with `delimiter`, folders as prefixes. */
  private async *keys(prefix: string, delimiter?: string): AsyncGenerator<{ key?: string; folder?: string; lastModified?: Date; size?: number }> {
    let token: string | undefined;
    do {
      const page = await this.send('list', () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(delimiter ? { Delimiter: delimiter } : {}), ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) yield { folder: p.Prefix };
      for (const c of page.Contents ?? []) if (c.Key) yield { key: c.Key, ...(c.LastModified ? { lastModified: c.LastModified } : {}), ...(c.Size !== undefined ? { size: c.Size } : {}) };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async list(dir: string): Promise<ArtifactEntry[]> {
    const segments = artifactPathSegments(dir, { allowRoot: true });
    const logicalDir = segments.join('/');
    const prefix = logicalDir === '' ? `${this.base}tree/` : `${this.treeKey(logicalDir)}/`;
    const folders = new Set<string>();
    const files: string[] = [];
    for await (const item of this.keys(prefix, '/')) {
      if (item.folder) folders.add(item.folder.slice(prefix.length, -1));
      else if (item.key) files.push(item.key.slice(prefix.length));
    }
    const child = (name: string) => (logicalDir === '' ? name : `${logicalDir}/${name}`);
    const sized = await mapLimit(files, LIST_CONCURRENCY, async (name) => ({ name, pointer: await this.pointerOf(child(name)) }));
    const out: ArtifactEntry[] = [
      ...[...folders].filter((n) => n !== '').map((name) => ({ path: child(name), isDir: true })),
      ...sized.filter((f) => f.pointer !== undefined).map((f) => ({ path: child(f.name), isDir: false, size: (f.pointer as Pointer).size })),
    ];
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    const logical = artifactPathSegments(path).join('/');
    const keys = [this.treeKey(logical)];
    for await (const item of this.keys(`${this.treeKey(logical)}/`)) if (item.key) keys.push(item.key);
    await this.deleteKeys(keys);
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.send('delete', () => this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })));
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new SlipwayError('UNAVAILABLE', `The artifact store could not delete ${failed.length} object(s) in ${this.location.uri}: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`.trim());
    }
  }

  async localPath(path: string): Promise<string> {
    const { pointer, logical } = await this.requirePointer(path);
    return this.cache.blob(pointer.sha256, pointer.size, () => this.openBlob(pointer, logical));
  }

  /** Checks out every file under `dir` into one local folder (see `S3CheckoutCache.folder`). */
  async localFolder(dir: string): Promise<string> {
    const logical = artifactPathSegments(dir).join('/');
    const prefix = `${this.treeKey(logical)}/`;
    const names: string[] = [];
    for await (const item of this.keys(prefix)) {
      if (!item.key) continue;
      names.push(item.key.slice(prefix.length));
      if (names.length > MAX_CHECKOUT_FILES) {
        throw new SlipwayError('INVALID_STATE', `Artifact folder '${logical}' holds more than ${MAX_CHECKOUT_FILES} files; keep a model's folder to the model and its data files.`);
      }
    }
    const pointers = await mapLimit(names, LIST_CONCURRENCY, async (rel) => ({ rel, pointer: await this.pointerOf(`${logical}/${rel}`) }));
    const files = pointers.filter((p) => p.pointer !== undefined).map((p) => ({ rel: p.rel, sha256: (p.pointer as Pointer).sha256, size: (p.pointer as Pointer).size }));
    if (files.length === 0) throw new SlipwayError('NOT_FOUND', `Artifact folder '${logical}' holds no file.`, { path: logical });
    files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const digest = createHash('sha256');
    for (const f of files) digest.update(`${f.rel}\u0000${f.sha256}\n`);
    const sizes = new Map(files.map((f) => [f.sha256, f.size]));
    return this.cache.folder(
      digest.digest('hex'),
      files,
      (sha256) => sizes.get(sha256) ?? 0,
      (sha256) => this.openBlob({ sha256, size: sizes.get(sha256) ?? 0 }, logical),
    );
  }

  /** Removes blobs no pointer names and temporary uploads, both older than the minimum age. */
  async collectGarbage(opts: GarbageCollectionOptions = {}): Promise<GarbageCollection> {
    const cutoff = Date.now() - (opts.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS);
    const referenced = new Set<string>();
    const pointerKeys: string[] = [];
    for await (const item of this.keys(`${this.base}tree/`)) if (item.key) pointerKeys.push(item.key);
    await mapLimit(pointerKeys, LIST_CONCURRENCY, async (key) => {
      const p = await this.pointerOf(key.slice(`${this.base}tree/`.length)).catch(() => undefined);
      if (p) referenced.add(p.sha256);
    });
    const result: GarbageCollection = { scannedBlobs: 0, removedBlobs: 0, freedBytes: 0, removedTempFiles: 0, removedCheckouts: 0 };
    const doomed: string[] = [];
    const objects = `${this.base}objects/`;
    for await (const item of this.keys(objects)) {
      if (!item.key) continue;
      result.scannedBlobs++;
      const sha256 = item.key.slice(objects.length).replace('/', '');
      if (referenced.has(sha256) || (item.lastModified?.getTime() ?? Date.now()) > cutoff) continue;
      doomed.push(item.key);
      result.removedBlobs++;
      result.freedBytes += item.size ?? 0;
    }
    for await (const item of this.keys(`${this.base}tmp/`)) {
      if (!item.key || (item.lastModified?.getTime() ?? Date.now()) > cutoff) continue;
      doomed.push(item.key);
      result.removedTempFiles++;
    }
    await this.deleteKeys(doomed);
    return result;
  }

  /**
   * Checks the bucket is reachable with these credentials and writable (writes and removes a tiny object); its
   * failures name the setting to correct as INVALID_ARGUMENT where they are settings (start-up, health).
   */
  async checkWritable(): Promise<void> {
    await this.send('reach the bucket', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })), true);
    const probe = `${this.base}tmp/probe-${Date.now()}-${randomBytes(8).toString('hex')}`;
    await this.send('write to the bucket', () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: '1' })), true);
    await this.send('delete from the bucket', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: probe })), true);
  }
}

/** The checkout cache folder under a Slipway home. */
export function defaultS3CacheDir(home: string): string {
  return join(home, 'artifact-cache');
}
