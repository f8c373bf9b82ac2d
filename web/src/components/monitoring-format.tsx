/** Pieces the monitoring pages share: time ranges in the URL and status badges. */
import type { ReactNode } from 'react';
import type { TimeRange } from '../api/monitoring';

/** Preset ranges, relative to now (as a dashboard's "last 24 hours"). */
export const RANGE_PRESETS: Array<{ id: string; label: string; ms: number | null }> = [
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 24 * 3_600_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
  { id: 'all', label: 'All windows', ms: null },
];

/** The range the URL names: explicit `from`/`to` (epoch ms) win over the `range` preset. */
export function rangeFromUrl(preset: string, from: string, to: string, now: number): TimeRange & { label: string } {
  const f = /^\d+$/.test(from) ? Number(from) : undefined;
  const t = /^\d+$/.test(to) ? Number(to) : undefined;
  if (f !== undefined || t !== undefined) return { from: f, to: t, label: 'Custom range' };
  const p = RANGE_PRESETS.find((r) => r.id === preset) ?? (RANGE_PRESETS[2] as (typeof RANGE_PRESETS)[number]);
  // Rounded to the minute so the query key stays put between renders.
  const end = Math.ceil(now / 60_000) * 60_000;
  return { from: p.ms === null ? undefined : end - p.ms, to: undefined, label: p.label };
}

/** A `datetime-local` value for an epoch-ms time, in the browser's time zone. */
export function toLocalInput(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** Epoch ms of a `datetime-local` value, or undefined when empty or invalid. */
export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** A yes/no drift verdict in words and colour. */
export function DriftBadge({ drifted, skipped }: { drifted: boolean; skipped?: boolean }): ReactNode {
  if (skipped) return <span className="badge">Skipped</span>;
  return drifted ? <span className="badge bad">Drifted</span> : <span className="badge ok">No drift</span>;
}

/** A quality status in words and colour. */
export function QualityBadge({ status }: { status: 'pass' | 'warn' | 'fail' | 'error' }): ReactNode {
  const cls = status === 'pass' ? 'ok' : status === 'warn' ? 'warn' : 'bad';
  return <span className={`badge ${cls}`}>{status === 'pass' ? 'Pass' : status === 'warn' ? 'Warning' : status === 'fail' ? 'Fail' : 'Error'}</span>;
}

/** A window length as "1 min", "30 s", "1 h 30 min" (whole units, as configured). */
export function formatWindowLength(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, secs] of [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]] as const) {
    if (rest >= secs) {
      parts.push(`${Math.floor(rest / secs)} ${unit}`);
      rest %= secs;
    }
  }
  return parts.join(' ') || `${ms} ms`;
}
