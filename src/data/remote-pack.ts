/**
 * Packs: many small objects in one immutable file on a remote, so a push of ten thousand small files is a
 * few writes instead of ten thousand. A pack is the objects' bytes back to back; its index lists where
 * each object lies. Both are named by the pack's sha256:
 *
 *   data/packs/<sha256 of the pack>.pack   the objects, concatenated
 *   data/packs/<same>.idx                  JSON {"format":1,"size":N,"objects":[["<sha256>",offset,size],…]}
 *
 * The pack is written before its index, so a pack without an index (an interrupted push) is ignored.
 */
import { createHash } from 'node:crypto';
import { SlipwayError } from '../core/errors.js';

/** The folder of packs and indexes on a remote. */
export const PACKS_DIR = 'data/packs';
/** The folder of single (large) objects on a remote: `data/objects/ab/<62 hex>`. */
export const OBJECTS_DIR = 'data/objects';
/** The pack index format written and accepted. */
export const PACK_INDEX_FORMAT = 1;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True when `s` is a sha256 digest in lower-case hex. */
export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && SHA256_HEX.test(s);
}

/** The remote path of the single object `sha256`. */
export function looseObjectPath(sha256: string): string {
  return `${OBJECTS_DIR}/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
}

/** The remote path of the pack `packDigest`. */
export function packPath(packDigest: string): string {
  return `${PACKS_DIR}/${packDigest}.pack`;
}

/** The remote path of the index of the pack `packDigest`. */
export function packIndexPath(packDigest: string): string {
  return `${PACKS_DIR}/${packDigest}.idx`;
}

/** Where one object lies in its pack. */
export interface PackEntry {
  sha256: string;
  offset: number;
  size: number;
}

/** A parsed pack index. */
export interface PackIndex {
  /** The pack's digest (its name). */
  pack: string;
  /** The pack's length in bytes. */
  size: number;
  objects: PackEntry[];
}

/** A pack ready to upload: its bytes, its digest and its index's bytes. */
export interface BuiltPack {
  digest: string;
  bytes: Buffer;
  index: PackIndex;
  indexBytes: Buffer;
}

/** Concatenates objects into a pack and writes its index. */
export function buildPack(objects: ReadonlyArray<{ sha256: string; bytes: Uint8Array }>): BuiltPack {
  const hash = createHash('sha256');
  const entries: PackEntry[] = [];
  let offset = 0;
  for (const o of objects) {
    hash.update(o.bytes);
    entries.push({ sha256: o.sha256, offset, size: o.bytes.byteLength });
    offset += o.bytes.byteLength;
  }
  const bytes = Buffer.concat(objects.map((o) => o.bytes), offset);
  const digest = hash.digest('hex');
  const index: PackIndex = { pack: digest, size: offset, objects: entries };
  return { digest, bytes, index, indexBytes: encodePackIndex(index) };
}

/** The index's file content. */
export function encodePackIndex(index: PackIndex): Buffer {
  const rows = index.objects.map((e) => `["${e.sha256}",${e.offset},${e.size}]`).join(',');
  return Buffer.from(`{"format":${PACK_INDEX_FORMAT},"size":${index.size},"objects":[${rows}]}\n`);
}

function corrupt(pack: string, why: string): SlipwayError {
  return new SlipwayError('INTEGRITY_ERROR', `The index of pack ${pack} on the remote is corrupt: ${why}.`, { pack });
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Parses and validates an index: every name a sha256 digest (an index never carries paths), every
 * object inside the pack's length. Throws INTEGRITY_ERROR naming the problem.
 */
export function parsePackIndex(pack: string, bytes: Uint8Array): PackIndex {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw corrupt(pack, 'not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw corrupt(pack, 'not an object');
  const { format, size, objects } = doc as { format?: unknown; size?: unknown; objects?: unknown };
  if (format !== PACK_INDEX_FORMAT) throw corrupt(pack, `format ${JSON.stringify(format)} is not ${PACK_INDEX_FORMAT}`);
  if (!isCount(size)) throw corrupt(pack, 'size is not a byte count');
  if (!Array.isArray(objects)) throw corrupt(pack, 'objects is not a list');
  const entries: PackEntry[] = [];
  for (const row of objects as unknown[]) {
    if (!Array.isArray(row) || row.length !== 3) throw corrupt(pack, 'an entry is not [sha256, offset, size]');
    const [sha256, offset, length] = row as [unknown, unknown, unknown];
    if (!isDigest(sha256)) throw corrupt(pack, `an entry's name is not a sha256 digest: ${JSON.stringify(sha256).slice(0, 80)}`);
    if (!isCount(offset) || !isCount(length) || offset + length > size) throw corrupt(pack, `object ${sha256} lies outside the pack`);
    entries.push({ sha256, offset, size: length });
  }
  return { pack, size, objects: entries };
}
