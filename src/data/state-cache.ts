/**
 * The state cache, `.slipway/state.db`: which sha256 a file had at a given inode, size and
 * modification time (nanoseconds), so a file that has not changed is never read again. SQLite in WAL
 * mode with a busy timeout, so two slipway processes in one workspace wait for each other instead of
 * failing. All rows are loaded with one query: a status over 100k files costs one read, not 100k.
 *
 * It also remembers which folder manifests were last seen with every file object present in the
 * cache, so a status of an unchanged 100k-file folder need not look for 100k objects; `gc` forgets
 * them whenever it removes objects.
 */
import Database from 'better-sqlite3';
import { SlipwayError } from '../core/errors.js';

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
const RACY_MS = 100;

/** One row: the size and mtime stamp, the digest, the mtime and when the row was written (ms). */
type Row = [stamp: string, sha256: string, mtimeMs: number, recordedMs: number];

const stampOf = (s: FileStats): string => `${s.size}:${s.mtimeNs}`;

/** The state cache of one workspace. */
export class StateCache {
  private readonly db: Database.Database;
  private rows: Map<string, Row> | undefined;

  /** Opens (creating when missing) the state database at `file`. */
  constructor(file: string) {
    try {
      this.db = new Database(file);
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      // Inodes as text: they are unsigned 64-bit, and plain values load several times faster than bigints.
      this.db.exec('CREATE TABLE IF NOT EXISTS file_state (ino TEXT PRIMARY KEY, stamp TEXT NOT NULL, sha256 TEXT NOT NULL, mtime_ms REAL NOT NULL, recorded_ms REAL NOT NULL)');
      this.db.exec('CREATE TABLE IF NOT EXISTS complete_manifest (sha256 TEXT PRIMARY KEY)');
      this.db.exec('CREATE TABLE IF NOT EXISTS folder_state (path TEXT PRIMARY KEY, snapshot TEXT NOT NULL, manifest TEXT NOT NULL, recorded_ms REAL NOT NULL)');
    } catch (err) {
      throw new SlipwayError('INVALID_STATE', `Cannot open the state cache ${file}: ${(err as Error).message}. It only speeds things up: delete it and run the command again.`, { path: file });
    }
  }

  /** All rows, read once per process. */
  private load(): Map<string, Row> {
    if (this.rows) return this.rows;
    const rows = new Map<string, Row>();
    for (const r of this.db.prepare('SELECT ino, stamp, sha256, mtime_ms, recorded_ms FROM file_state').raw(true).all() as Array<[string, string, string, number, number]>) {
      rows.set(r[0], [r[1], r[2], r[3], r[4]]);
    }
    this.rows = rows;
    return rows;
  }

  /** The digest recorded for a file with exactly these stats, or undefined (unknown, changed, or too recent to trust). */
  lookup(stats: FileStats): string | undefined {
    const row = this.load().get(String(stats.ino));
    if (!row || row[0] !== stampOf(stats)) return undefined;
    if (row[2] + RACY_MS >= row[3]) return undefined;
    return row[1];
  }

  /** Records digests of files just hashed (one transaction). */
  record(entries: ReadonlyArray<FileStats & { sha256: string }>): void {
    if (entries.length === 0) return;
    const now = Date.now();
    const rows = this.load();
    const stmt = this.db.prepare('INSERT OR REPLACE INTO file_state (ino, stamp, sha256, mtime_ms, recorded_ms) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) {
        const row: Row = [stampOf(e), e.sha256, Number(e.mtimeNs / 1_000_000n), now];
        stmt.run(String(e.ino), row[0], row[1], row[2], row[3]);
        rows.set(String(e.ino), row);
      }
    })();
  }

  /**
   * The manifest digest recorded for a folder whose files had exactly the stats `snapshot` sums
   * up (see folderSnapshot in hasher.ts), or undefined; untrusted when its newest file was modified
   * too close to the recording (as for files).
   */
  folderLookup(path: string, snapshot: string, newestMtimeMs: number): string | undefined {
    const row = this.db.prepare('SELECT snapshot, manifest, recorded_ms FROM folder_state WHERE path = ?').raw(true).get(path) as [string, string, number] | undefined;
    if (!row || row[0] !== snapshot || newestMtimeMs + RACY_MS >= row[2]) return undefined;
    return row[1];
  }

  /** Records the manifest digest of a folder whose files had the stats `snapshot` sums up. */
  folderRecord(path: string, snapshot: string, manifest: string): void {
    this.db.prepare('INSERT OR REPLACE INTO folder_state (path, snapshot, manifest, recorded_ms) VALUES (?, ?, ?, ?)').run(path, snapshot, manifest, Date.now());
  }

  /** True when the manifest was last seen with all its file objects in the cache. */
  isComplete(manifest: string): boolean {
    return this.db.prepare('SELECT 1 FROM complete_manifest WHERE sha256 = ?').get(manifest) !== undefined;
  }

  /** Remembers that every object of the manifest is in the cache. */
  markComplete(manifest: string): void {
    this.db.prepare('INSERT OR IGNORE INTO complete_manifest (sha256) VALUES (?)').run(manifest);
  }

  /** Forgets every completeness mark (objects were removed from the cache). */
  clearComplete(): void {
    this.db.exec('DELETE FROM complete_manifest');
  }

  /** How many files the cache knows. */
  count(): number {
    return this.load().size;
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
