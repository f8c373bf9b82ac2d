/** One release: its state, traffic split, gates with evidence, approvals, analysis rounds and history; approve and abort behind a confirmation. */
import { useState, type ReactNode } from 'react';
import type { Release } from '../../../src/client/schemas/releases.js';
import { ApiError } from '../api/http';
import { currentSession } from '../api/session';
import { isFinished, useAbortRelease, useApproveRelease, useRelease } from '../api/releases';
import { ConfirmDialog } from '../components/confirm-dialog';
import { formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import { ReleaseStateBadge } from '../components/release-state-badge';
import { ReleaseAnalyses, ReleaseApprovals, ReleaseGates, ReleaseHistory, ReleaseTraffic } from '../components/release-sections';
import { ErrorMessage, Loading } from '../components/states';
import { Link, seg } from '../router';

const CRUMBS = [{ label: 'Releases', to: '/releases' }];

/** The release page. */
export default function ReleasePage({ params }: { params: Record<string, string> }): ReactNode {
  const id = params.id ?? '';
  const release = useRelease(id);
  if (release.error && !release.data) {
    const unknown = release.error instanceof ApiError && release.error.status === 404;
    return (
      <>
        <PageHeader title={unknown ? 'Release not found' : 'Release'} crumbs={CRUMBS} />
        {unknown ? (
          <div className="error-box" role="alert">
            <strong>There is no release {id}.</strong>
            <p>
              It may have been mistyped, or the link is from another server. <Link to="/releases">See every release</Link>.
            </p>
          </div>
        ) : (
          <ErrorMessage error={release.error} title="The release could not be read" />
        )}
      </>
    );
  }
  if (!release.data) {
    return (
      <>
        <PageHeader title="Release" crumbs={CRUMBS} />
        <Loading what="Loading the release" />
      </>
    );
  }
  return <ReleaseView release={release.data} refreshError={release.error} />;
}

function ReleaseView({ release: r, refreshError }: { release: Release; refreshError: unknown }): ReactNode {
  const [dialog, setDialog] = useState<'approve' | 'abort' | undefined>(undefined);
  const [text, setText] = useState('');
  // Signed in, the server names the caller; with access control off, the person says who they are.
  const signedIn = currentSession() !== undefined;
  const [by, setBy] = useState('');
  const [byMissing, setByMissing] = useState(false);
  const approve = useApproveRelease(r.id);
  const abort = useAbortRelease(r.id);
  const running = !isFinished(r.state);
  const mutation = dialog === 'approve' ? approve : abort;
  const close = (): void => {
    setDialog(undefined);
    setText('');
    setByMissing(false);
    approve.reset();
    abort.reset();
  };
  const confirm = (): void => {
    const done = { onSuccess: close };
    const who = !signedIn && by.trim() ? { by: by.trim() } : {};
    if (dialog === 'approve') {
      if (!signedIn && !by.trim()) {
        setByMissing(true);
        return;
      }
      approve.mutate({ ...who, ...(text.trim() ? { comment: text.trim() } : {}) }, done);
    } else abort.mutate({ ...who, ...(text.trim() ? { reason: text.trim() } : {}) }, done);
  };
  const actions = (
    <>
      {r.state === 'awaiting_approval' ? (
        <button type="button" className="primary" onClick={() => setDialog('approve')}>
          Approve
        </button>
      ) : null}
      {running ? (
        <button type="button" className="danger" onClick={() => setDialog('abort')}>
          Abort
        </button>
      ) : null}
    </>
  );
  return (
    <>
      <PageHeader
        title={`Release of ${r.model} version ${r.version} to ${r.environment}`}
        crumbs={CRUMBS}
        actions={running || r.state === 'awaiting_approval' ? actions : undefined}
        subtitle={
          <span>
            <ReleaseStateBadge state={r.state} /> {running ? '· refreshing every 2 s while it runs' : ''}
          </span>
        }
      />
      {refreshError ? <ErrorMessage error={refreshError} title="Refreshing the release failed; what is shown may be out of date" /> : null}
      <dl className="kv release-summary">
        <dt>State</dt>
        <dd>
          <ReleaseStateBadge state={r.state} />
        </dd>
        <dt>Reason</dt>
        <dd>{r.reason || '–'}</dd>
        <dt>Model</dt>
        <dd>
          <Link to={`/models/${seg(r.model)}`}>{r.model}</Link> · candidate <Link to={`/models/${seg(r.model)}/versions/${seg(r.version)}`}>version {r.version}</Link>
          {r.championVersion ? <> · champion version {r.championVersion}</> : null}
        </dd>
        <dt>Environment</dt>
        <dd>{r.environment}</dd>
        <dt>Strategy</dt>
        <dd>{strategyText(r)}</dd>
        <dt>Requested by</dt>
        <dd>{r.requestedBy}</dd>
        <dt>Started</dt>
        <dd>{formatTime(r.createdTime)}</dd>
        <dt>{r.endedTime !== undefined ? 'Ended' : 'Updated'}</dt>
        <dd>{formatTime(r.endedTime ?? r.updatedTime)}</dd>
        <dt>Id</dt>
        <dd className="mono">{r.id}</dd>
      </dl>
      <h2>Traffic now</h2>
      <ReleaseTraffic release={r} />
      <h2>Gates</h2>
      <ReleaseGates gates={r.gates} />
      <h2>Approvals</h2>
      <ReleaseApprovals release={r} />
      <h2>Analysis rounds</h2>
      <ReleaseAnalyses release={r} />
      <h2>History</h2>
      <ReleaseHistory events={r.events} />
      <ConfirmDialog
        open={dialog !== undefined}
        title={dialog === 'approve' ? `Approve version ${r.version} of ${r.model}?` : `Abort this release of ${r.model}?`}
        confirmLabel={dialog === 'approve' ? 'Approve' : 'Abort release'}
        busy={mutation.isPending}
        onConfirm={confirm}
        onCancel={close}
      >
        <p>
          {dialog === 'approve'
            ? `Your approval counts towards the ${r.environment} release; the last approval needed starts the rollout.`
            : `The release stops now${r.rollout ? '; a split in progress sends all traffic back to the champion first' : ', before any traffic moves'}. This cannot be undone: a new release would start over.`}
        </p>
        {!signedIn ? (
          <label className="field">
            {dialog === 'approve' ? 'Your name (approvers must differ from the requester)' : 'Your name (optional, for the history)'}
            <input
              value={by}
              onChange={(e) => (setBy(e.target.value), setByMissing(false))}
              maxLength={200}
              autoComplete="name"
              aria-invalid={byMissing || undefined}
              aria-describedby={byMissing ? 'release-by-missing' : undefined}
            />
          </label>
        ) : null}
        {byMissing ? (
          <p id="release-by-missing" className="serving-reason" role="alert">
            Say who approves: access control is off on this server, so it cannot tell who you are.
          </p>
        ) : null}
        <label className="field">
          {dialog === 'approve' ? 'Comment (optional)' : 'Reason (optional)'}
          <textarea rows={2} value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} />
        </label>
        {mutation.error ? <ErrorMessage error={mutation.error} title={dialogErrorTitle(mutation.error)} /> : null}
      </ConfirmDialog>
    </>
  );
}

function dialogErrorTitle(err: unknown): string {
  if (err instanceof ApiError && err.status === 403) return 'Not allowed';
  if (err instanceof ApiError && err.status === 409) return 'The release changed in the meantime';
  return 'That did not work';
}

function strategyText(r: Release): string {
  const s = r.policy.strategy;
  if (s.kind === 'canary') return `canary: ${s.steps.join(' → ')} %, ${s.interval} per step`;
  if (s.kind === 'shadow') return `shadow: ${s.share} % mirrored for ${s.duration}`;
  if (s.kind === 'blue-green') return `blue-green: ${s.bake} bake`;
  return 'direct (the alias moves at once)';
}
