/**
 * Change notices between processes that share a store. On PostgreSQL a notice is a NOTIFY sent
 * inside the transaction of the change, so listeners hear of it only once it is committed (and
 * never of a change rolled back); SQLite has no such channel, and followers poll instead.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** The channel registry changes are announced on. */
export const REGISTRY_CHANNEL = 'slipway_registry';

/** Tells this process's own notices from others' (it has announced its changes already). */
export const PROCESS_TAG = randomUUID();

/** PostgreSQL refuses payloads of 8000 bytes or more; a longer subject is sent as "something changed". */
const MAX_SUBJECT_BYTES = 7000;

/** A notice as it travels: who sent it and what changed (`subject` absent: look at everything). */
export interface ChangeNotice {
  from: string;
  subject?: string;
}

/** Announces that `subjects` changed, when the transaction commits (PostgreSQL; nothing on SQLite). */
export async function notifyChange(trx: Transaction<Database>, dialect: 'sqlite' | 'postgres', channel: string, subjects: readonly string[]): Promise<void> {
  if (dialect !== 'postgres') return;
  for (const subject of new Set(subjects)) {
    const notice: ChangeNotice = Buffer.byteLength(subject) <= MAX_SUBJECT_BYTES ? { from: PROCESS_TAG, subject } : { from: PROCESS_TAG };
    await sql`select pg_notify(${channel}, ${JSON.stringify(notice)})`.execute(trx);
  }
}

/** Parses a notice's payload; undefined for one that is not ours. */
export function parseChangeNotice(payload: string | undefined): ChangeNotice | undefined {
  try {
    const v = JSON.parse(payload ?? '') as unknown;
    if (typeof v !== 'object' || v === null || typeof (v as ChangeNotice).from !== 'string') return undefined;
    const subject = (v as ChangeNotice).subject;
    return typeof subject === 'string' ? { from: (v as ChangeNotice).from, subject } : { from: (v as ChangeNotice).from };
  } catch {
    return undefined;
  }
}
