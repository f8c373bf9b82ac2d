/** Profiles of whole tables: one ColumnProfile per column, serialisable and mergeable. */
import { SlipwayError } from '../../core/errors.js';
import type { Column, Table } from '../table.js';
import { COLUMN_KINDS, inferStringKind, type ColumnKind } from './column-kind.js';
import { ColumnProfile, type ColumnProfileJson, type ProfileOptions } from './column-profile.js';
import { TextSummary, type TextSummaryJson } from '../drift/text-summary.js';

/** Serialised dataset profile (format version 1). */
export interface DatasetProfileJson {
  format: 'slipway-profile/1';
  rows: number;
  columns: ColumnProfileJson[];
  /** Text inputs of a text model, profiled with its tokenizer, by input name (absent when none). */
  texts?: Record<string, TextSummaryJson>;
}

/** A profile of a table. */
export class DatasetProfile {
  /** Text inputs of a text model, summarised with its tokenizer, by input name. */
  readonly texts = new Map<string, TextSummary>();

  constructor(
    public rows: number,
    readonly columns: Map<string, ColumnProfile>,
  ) {}

  /** Column names in order. */
  get names(): string[] {
    return [...this.columns.keys()];
  }

  /** Folds `other` into this profile; columns only one side has are kept (their absent rows count as missing). */
  merge(other: DatasetProfile): void {
    for (const [name, col] of other.columns) {
      const mine = this.columns.get(name);
      if (mine) mine.merge(col);
      else {
        const fresh = new ColumnProfile(name, col.kind, col.opts);
        fresh.rows = this.rows;
        fresh.missing = this.rows;
        fresh.merge(col);
        this.columns.set(name, fresh);
      }
    }
    for (const [name, col] of this.columns) {
      if (!other.columns.has(name)) {
        col.rows += other.rows;
        col.missing += other.rows;
      }
    }
    for (const [name, t] of other.texts) {
      const mine = this.texts.get(name);
      if (mine) mine.merge(t);
      else this.texts.set(name, new TextSummary().merge(t));
    }
    this.rows += other.rows;
  }

  /** Serialisable form; `compact` leaves out derived quantiles and histograms. */
  toJSON(compact = false): DatasetProfileJson {
    const doc: DatasetProfileJson = { format: 'slipway-profile/1', rows: this.rows, columns: [...this.columns.values()].map((c) => c.toJSON(compact)) };
    if (this.texts.size > 0) doc.texts = Object.fromEntries([...this.texts].map(([name, t]) => [name, t.toJSON()]));
    return doc;
  }

  /** Reads and validates a profile written by `toJSON`. */
  static fromJSON(j: unknown): DatasetProfile {
    const doc = j as Partial<DatasetProfileJson> | null;
    if (!doc || typeof doc !== 'object' || doc.format !== 'slipway-profile/1' || !Array.isArray(doc.columns) || typeof doc.rows !== 'number') {
      throw new SlipwayError('DATA_ERROR', "Not a Slipway profile: expected an object with format 'slipway-profile/1', rows and columns.");
    }
    const columns = new Map<string, ColumnProfile>();
    for (const c of doc.columns) {
      if (!c || typeof c.name !== 'string' || !COLUMN_KINDS.includes(c.kind)) throw new SlipwayError('DATA_ERROR', 'Profile column is missing its name or has an unknown kind.');
      try {
        columns.set(c.name, ColumnProfile.fromJSON(c));
      } catch (err) {
        throw new SlipwayError('DATA_ERROR', `Profile column '${c.name}' is corrupt: ${(err as Error).message}`);
      }
    }
    const profile = new DatasetProfile(doc.rows, columns);
    if (doc.texts !== undefined) {
      if (doc.texts === null || typeof doc.texts !== 'object' || Array.isArray(doc.texts)) throw new SlipwayError('DATA_ERROR', "Profile 'texts' must be an object of text summaries by input name.");
      for (const [name, t] of Object.entries(doc.texts)) {
        try {
          profile.texts.set(name, TextSummary.fromJSON(t));
        } catch (err) {
          throw new SlipwayError('DATA_ERROR', `Profile text input '${name}' is corrupt: ${(err as Error).message}`);
        }
      }
    }
    return profile;
  }
}

/** Kind of a table column, honouring overrides. */
export function columnKind(col: Column, overrides: Record<string, ColumnKind> = {}): ColumnKind {
  const o = overrides[col.name];
  if (o) return o;
  return col.type === 'number' ? 'numerical' : inferStringKind(col.values);
}

/**
 * Profiles every column of a table. With `adopt`, numeric columns that fit the exact limit
 * are sorted in place and kept by the profile: the table's numeric columns are emptied.
 */
export function profileTable(table: Table, opts: ProfileOptions & { kinds?: Record<string, ColumnKind>; adopt?: boolean } = {}): DatasetProfile {
  const columns = new Map<string, ColumnProfile>();
  for (const col of table.columns) {
    const p = new ColumnProfile(col.name, columnKind(col, opts.kinds), opts);
    if (col.type === 'number') {
      p.addNumbers(col.values, opts.adopt === true);
      if (opts.adopt) col.values = new Float64Array(0);
    } else {
      for (const v of col.values) p.addString(v);
    }
    columns.set(col.name, p);
  }
  return new DatasetProfile(table.rows, columns);
}

/** Merges any number of profiles into a new one. */
export function mergeProfiles(profiles: DatasetProfile[]): DatasetProfile {
  const out = new DatasetProfile(0, new Map());
  for (const p of profiles) out.merge(DatasetProfile.fromJSON(JSON.parse(JSON.stringify(p.toJSON()))));
  return out;
}
