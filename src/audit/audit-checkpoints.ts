/**
 * Signed checkpoints of the chain head, appended to a file outside the database.
 * A later verification checks that the chain still reaches every checkpoint with
 * the same hash, which catches deleting the newest events (or all of them) and
 * re-hashing the chain.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { macOf, sameMac, type AuditKey, type AuditKeyring } from './audit-keyring.js';

/** One signed head. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  time: number;
  keyId: string;
  mac: string;
}

function checkpointText(c: Pick<AuditCheckpoint, 'seq' | 'hash' | 'time'>): string {
  return `slipway-audit-checkpoint\n${c.seq}\n${c.hash}\n${c.time}`;
}

/** Signs a head with `key`. */
export function signCheckpoint(key: AuditKey, head: { seq: number; hash: string }, time: number): AuditCheckpoint {
  const base = { seq: head.seq, hash: head.hash, time };
  return { ...base, keyId: key.id, mac: macOf(key, checkpointText(base)) };
}

/** True when the checkpoint's MAC is valid under the keyring; undefined when its key is unknown. */
export function checkpointAuthentic(ring: AuditKeyring, c: AuditCheckpoint): boolean | undefined {
  const key = ring.key(c.keyId);
  if (!key) return undefined;
  return sameMac(c.mac, macOf(key, checkpointText(c)));
}

/**
 * Appends one checkpoint as one line in one write(2) on an O_APPEND descriptor, then
 * fsyncs: lines from several processes never interleave and a line that returned is on disk.
 */
export function appendCheckpoint(file: string, c: AuditCheckpoint): void {
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(c)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Every well-formed checkpoint in the file, in file order, and the count of lines that were not. */
export function readCheckpoints(file: string): { checkpoints: AuditCheckpoint[]; malformed: number } {
  if (!existsSync(file)) return { checkpoints: [], malformed: 0 };
  const checkpoints: AuditCheckpoint[] = [];
  let malformed = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const c = JSON.parse(line) as AuditCheckpoint;
      if (Number.isInteger(c.seq) && typeof c.hash === 'string' && Number.isFinite(c.time) && typeof c.keyId === 'string' && typeof c.mac === 'string') checkpoints.push(c);
      else malformed++;
    } catch {
      malformed++;
    }
  }
  return { checkpoints, malformed };
}

/** Parses `SEQ:HASH` as kept outside Slipway (e.g. printed by `slipway audit head`). */
export function parseHead(text: string): { seq: number; hash: string } | undefined {
  const m = /^\s*(\d+):([0-9a-f]{64})\s*$/.exec(text);
  return m ? { seq: Number(m[1]), hash: m[2] as string } : undefined;
}
