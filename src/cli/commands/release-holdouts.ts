/**
 * Holdout files of a release policy: checked locally before anything is sent (the file
 * exists, the label column is in it), then uploaded once by content to the server's
 * artifact store under releases/holdouts/, where the release reads them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { SlipwayClient } from '../../client/slipway-client.js';
import type { ReleasePolicy } from '../../client/schemas/releases.js';
import { SlipwayError } from '../../core/errors.js';

const EXTENSIONS = new Set(['csv', 'tsv', 'jsonl', 'ndjson', 'json', 'parquet']);

function extensionOf(file: string): string {
  const ext = extname(file).slice(1).toLowerCase();
  if (!EXTENSIONS.has(ext)) throw new SlipwayError('DATA_ERROR', `Holdout '${file}' must be a .csv, .tsv, .jsonl, .ndjson, .json or .parquet file.`, { holdout: file });
  return ext;
}

async function firstLine(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(256 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return (buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/)[0] ?? '').replace(/^\uFEFF/, '');
  } finally {
    await handle.close();
  }
}

// The columns of a text holdout from its first line; undefined where that cannot tell (Parquet, a JSON array).
async function columnsOf(file: string, ext: string): Promise<string[] | undefined> {
  const line = await firstLine(file);
  if (ext === 'csv' || ext === 'tsv') return line.split(ext === 'csv' ? ',' : '\t').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  if (ext === 'jsonl' || ext === 'ndjson') {
    try {
      const row = JSON.parse(line) as unknown;
      return typeof row === 'object' && row !== null && !Array.isArray(row) ? Object.keys(row) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The (holdout, label) pairs a policy's gates read. */
function labelledHoldouts(policy: ReleasePolicy): Array<{ holdout: string; label?: string }> {
  const pairs = policy.gates
    .filter((g) => g.kind === 'evaluation' || g.kind === 'quality' || g.kind === 'drift')
    .map((g) => ({ holdout: ('holdout' in g ? g.holdout : undefined) ?? policy.holdout, label: g.kind === 'evaluation' ? (g.label ?? policy.label) : undefined }));
  if (policy.holdout !== undefined) pairs.push({ holdout: policy.holdout, label: undefined });
  return pairs.filter((p): p is { holdout: string; label: string | undefined } => p.holdout !== undefined).map((p) => (p.label === undefined ? { holdout: p.holdout } : { holdout: p.holdout, label: p.label }));
}

/** Checks every local holdout a policy names: it exists, is a supported format, and holds the label column. Throws DATA_ERROR (exit 2). */
export async function checkHoldouts(policy: ReleasePolicy): Promise<void> {
  for (const { holdout, label } of labelledHoldouts(policy)) {
    const info = await stat(holdout).catch(() => undefined);
    if (!info?.isFile()) throw new SlipwayError('DATA_ERROR', `Holdout file '${holdout}' does not exist or is not a file.`, { holdout });
    const ext = extensionOf(holdout);
    if (label === undefined) continue;
    const columns = await columnsOf(holdout, ext);
    if (columns && !columns.includes(label)) {
      throw new SlipwayError('DATA_ERROR', `Label column '${label}' is not in holdout '${holdout}'; its columns: ${columns.slice(0, 40).join(', ')}${columns.length > 40 ? ', …' : ''}.`, { holdout, label });
    }
  }
}

/** The artifact-store path a local holdout is stored at: its SHA-256 and its extension. */
export async function storedHoldoutPath(file: string): Promise<string> {
  const ext = extensionOf(file);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `releases/holdouts/${hash.digest('hex')}.${ext}`;
}

/** Whether the artifact store already holds `path`. */
export async function storedExists(client: SlipwayClient, path: string): Promise<boolean> {
  try {
    // Only whether it is there matters: the body is dropped unread, never downloaded.
    const found = await client.artifacts.get(path);
    await found.body.cancel();
    return true;
  } catch (err) {
    const { isSlipwayApiError } = await import('../../client/api-error.js');
    if (isSlipwayApiError(err) && (err.status === 404 || err.code === 'NOT_FOUND')) return false;
    throw err;
  }
}

/** Uploads each local holdout the store lacks; returns local path → stored path for every one. */
export async function uploadHoldouts(client: SlipwayClient, files: readonly string[], tell: (line: string) => void): Promise<Map<string, string>> {
  const { Readable } = await import('node:stream');
  const stored = new Map<string, string>();
  for (const file of files) {
    const path = await storedHoldoutPath(file);
    if (!(await storedExists(client, path))) {
      tell(`uploading holdout ${file} to ${path}`);
      await client.artifacts.put(path, Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>);
    }
    stored.set(file, path);
  }
  return stored;
}
