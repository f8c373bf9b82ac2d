/** Small pieces the load-test pages share: latency formatting and the pass/fail badge. */
import type { ReactNode } from 'react';
import { formatNumber } from './format';

/** A latency in ms with a unit (µs below 1 ms, s above 10 s); an en dash when unmeasured. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${formatNumber(Number((ms * 1000).toFixed(0)))} µs`;
  if (ms >= 10_000) return `${formatNumber(Number((ms / 1000).toFixed(2)))} s`;
  return `${formatNumber(Number(ms.toFixed(ms < 10 ? 3 : 1)))} ms`;
}

/** Passed / Failed / unknown, in words and colour. */
export function LoadTestVerdict({ passed }: { passed: boolean | null | undefined }): ReactNode {
  if (passed === null || passed === undefined) return <span className="badge">Unknown</span>;
  return passed ? <span className="badge ok">Passed</span> : <span className="badge bad">Failed</span>;
}
