/** Reads and profiles the two sides of a report in parallel: one in a worker thread, one here. */
import { Worker } from 'node:worker_threads';
import { SlipwayError, type ErrorCode } from '../../core/errors.js';
import { ColumnProfile, profileToTransfer, type ColumnProfileTransfer } from '../profile/column-profile.js';
import { DatasetProfile } from '../profile/dataset-profile.js';
import type { MonitorSpec } from '../quality/monitor-spec.js';
import { readTable } from '../readers/table-reader.js';
import type { Column, StringColumn } from '../table.js';
import { prepareSide, type PreparedSide } from './report-builder.js';

/** A prepared side in a form `postMessage` moves without copying the values. */
export interface SideTransfer {
  source: string;
  rows: number;
  duplicates: number | undefined;
  columns: ColumnProfileTransfer[];
  stringColumns: StringColumn[];
  /** The declared target and prediction columns in row order. */
  labels: Column[];
}

/** Converts a prepared side for `postMessage`. */
export function sideToTransfer(side: PreparedSide): { message: SideTransfer; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const columns = [...side.profile.columns.values()].map((c) => {
    const t = profileToTransfer(c);
    transfer.push(...t.transfer);
    return t.message;
  });
  const stringColumns = (side.table?.columns ?? []).filter((c): c is StringColumn => c.type === 'string');
  const labels = side.labels ?? [];
  for (const c of labels) if (c.type === 'number') transfer.push(c.values.buffer as ArrayBuffer);
  return { message: { source: side.source, rows: side.profile.rows, duplicates: side.duplicates, columns, stringColumns, labels }, transfer };
}

function sideFromTransfer(t: SideTransfer): PreparedSide {
  const profile = new DatasetProfile(t.rows, new Map(t.columns.map((c) => [c.name, ColumnProfile.fromTransfer(c)])));
  return { profile, source: t.source, duplicates: t.duplicates, table: { columns: t.stringColumns, rows: t.rows, source: t.source }, labels: t.labels };
}

function inWorker(path: string, spec: MonitorSpec): Promise<PreparedSide> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./side-worker.js', import.meta.url), { workerData: { path, spec } });
    worker.once('message', (m: { ok: true; side: SideTransfer } | { ok: false; error: { name: string; code?: string; message: string; details?: Record<string, unknown> } }) => {
      void worker.terminate();
      if (m.ok) resolve(sideFromTransfer(m.side));
      else reject(m.error.name === 'SlipwayError' && m.error.code ? new SlipwayError(m.error.code as ErrorCode, m.error.message, m.error.details) : new Error(m.error.message));
    });
    worker.once('error', reject);
  });
}

/** Reads and profiles `referencePath` in a worker while this thread does `currentPath`. */
export async function prepareSidesInParallel(referencePath: string, currentPath: string, spec: MonitorSpec = {}): Promise<[PreparedSide, PreparedSide]> {
  const reference = inWorker(referencePath, spec);
  // Avoid an unhandled rejection while this thread is busy with the current file.
  reference.catch(() => {});
  const current = prepareSide({ table: await readTable(currentPath) }, spec, true);
  return [await reference, current];
}
