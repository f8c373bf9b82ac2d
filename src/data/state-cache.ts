/**
 * The state cache, `.slipway/state.db`: which sha256 a file had at a given inode, size and
 * modification time (nanoseconds), so a file that has not changed is never read again. SQLite in WAL
 * mode with a busy timeout, so two slipway processes in one workspace wait for each other instead of
 * failing. All rows are loaded with one query: a status over 100k files costs one read, not 100k.
 */
import Database from 'better-sqlite3';
import { SlipwayError } from '../core/errors.js';

/** What the state cache knows of one inode. */
export interface StateRow {
  size: bigint;
  mtimeNs: bigint;
  sha256: string;
  /** When the row was written (ns since the epoch). */
  recordedNs: bigint;
}

/** The stats a lookup or a record is keyed on. */
export interface FileStats {
  ino: bigint;
  size: bigint | number;
  mtimeNs: bigint;
}

/**
 * A file modified this close to the moment its row was written may have changed again within the
 * same timestamp tick (file times come from a coarse clock): such a row is not trusted, the file is
 * hashed again and its row rewritten later, as git treats a "racily clean" index entry.
 */
const RACY_NS = 100_000_000n;

// Inodes are unsigned 64-bit; SQLite integers are signed.
const key = (ino: bigint): bigint => BigInt.asIntN(64, ino);

/** The state cache of one workspace. */
export class StateCache {
  private readonly db: Database.Database;
  private rows: Map<bigint, StateRow> | undefined;

  /** Opens (creating when missing) the state database at `file`. */
  constructor(file: string) {
    try {
      this.db = new Database(file);
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec('CREATE TABLE IF NOT EXISTS state (ino INTEGER PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, recorded_ns INTEGER NOT NULL)');
    } catch (err) {
      throw new SlipwayError('INVALID_STATE', `Cannot open the state cache ${file}: ${(err as Error).message}. It only speeds things up: delete it and run the command again.`, { path: file });
    }
  }

  /** All rows, read once per process. */
  private load(): Map<bigint, StateRow> {
    if (this.rows) return this.rows;
    const rows = new Map<bigint, StateRow>();
    const stmt = this.db.prepare('SELECT ino, size, mtime_ns, sha256, recorded_ns FROM state').raw(true).safeIntegers(true);
    for (const r of stmt.iterate() as Iterable<[bigint, bigint, bigint, string, bigint]>) rows.set(r[0], { size: r[1], mtimeNs: r[2], sha256: r[3], recordedNs: r[4] });
    this.rows = rows;
    return rows;
  }

  /** The digest recorded for a file with exactly these stats, or undefined (unknown, changed, or too recent to trust). */
  lookup(stats: FileStats): string | undefined {
    const row = this.load().get(key(stats.ino));
    if (!row || row.size !== BigInt(stats.size) || row.mtimeNs !== stats.mtimeNs) return undefined;
    if (stats.mtimeNs + RACY_NS >= row.recordedNs) return undefined;
    return row.sha256;
  }

  /** Records digests of files just hashed (one transaction). */
  record(entries: ReadonlyArray<FileStats & { sha256: string }>): void {
    if (entries.length === 0) return;
    const now = BigInt(Date.now()) * 1_000_000n;
    const rows = this.load();
    const stmt = this.db.prepare('INSERT OR REPLACE INTO state (ino, size, mtime_ns, sha256, recorded_ns) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) {
        const size = BigInt(e.size);
        stmt.run(key(e.ino), size, e.mtimeNs, e.sha256, now);
        rows.set(key(e.ino), { size, mtimeNs: e.mtimeNs, sha256: e.sha256, recordedNs: now });
      }
    })();
  }

  /** How many rows the cache holds. */
  count(): number {
    return this.load().size;
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
