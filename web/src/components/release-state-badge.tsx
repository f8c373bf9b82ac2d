/** A release's state as a coloured badge (the text says the state; colour only repeats it). */
import type { ReactNode } from 'react';
import type { ReleaseState } from '../../../src/client/schemas/releases.js';

const CLASS: Record<ReleaseState, string> = {
  pending: 'badge',
  gates: 'badge warn',
  awaiting_approval: 'badge warn',
  rolling_out: 'badge warn',
  promoted: 'badge ok',
  rejected: 'badge bad',
  rolled_back: 'badge bad',
  aborted: 'badge bad',
};

/** A state as people read it: awaiting_approval → awaiting approval. */
export function releaseStateLabel(state: string): string {
  return state.replace(/_/g, ' ');
}

/** The badge. */
export function ReleaseStateBadge({ state }: { state: ReleaseState }): ReactNode {
  return <span className={CLASS[state] ?? 'badge'}>{releaseStateLabel(state)}</span>;
}

/** A gate verdict as a badge. */
export function VerdictBadge({ verdict }: { verdict: string }): ReactNode {
  const cls = verdict === 'pass' ? 'badge ok' : verdict === 'fail' || verdict === 'error' ? 'badge bad' : verdict === 'running' ? 'badge warn' : 'badge';
  return <span className={cls}>{verdict}</span>;
}
