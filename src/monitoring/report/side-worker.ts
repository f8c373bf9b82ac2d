/**
 * Worker-thread entry that reads and profiles one side of a report, so the reference
 * and the current file are parsed on two cores at once. Exact values travel back as
 * transferred buffers (no copy).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readTable } from '../readers/table-reader.js';
import type { MonitorSpec } from '../quality/monitor-spec.js';
import { prepareSide } from './report-builder.js';
import { sideToTransfer } from './parallel-sides.js';

const { path, spec } = workerData as { path: string; spec: MonitorSpec };
try {
  const side = prepareSide({ table: await readTable(path) }, spec, true);
  const { message, transfer } = sideToTransfer(side);
  parentPort?.postMessage({ ok: true, side: message }, transfer);
} catch (err) {
  const e = err as Error & { code?: string; details?: Record<string, unknown> };
  parentPort?.postMessage({ ok: false, error: { name: e.name, code: e.code, message: e.message, details: e.details } });
}
