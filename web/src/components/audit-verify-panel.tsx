/**
 * The chain's head and its verification: "Verify the chain" recomputes the hash chain, MACs,
 * checkpoints and entity states on the server (a read, nothing changes) and shows either the
 * intact head or every problem found.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import type { AuditVerification } from '../../../src/client/schemas/audit.js';
import { fetchAuditHead, verifyAudit } from '../api/audit';
import { ErrorMessage, Loading } from './states';

/** The head as `slipway audit head` prints it. */
function headText(head: { seq: number; hash: string }): string {
  return `${head.seq}:${head.hash}`;
}

function VerificationResult({ result }: { result: AuditVerification }): ReactNode {
  const counts = (
    <p className="muted small">
      {result.checked} events checked ({result.authenticated} authenticated, {result.unauthenticated} without a MAC), {result.checkpoints} checkpoint{result.checkpoints === 1 ? '' : 's'} and expected heads,{' '}
      {result.states.checked} entity state{result.states.checked === 1 ? '' : 's'} compared{result.states.unchecked > 0 ? ` (${result.states.unchecked} not checkable)` : ''}
      {result.pendingMetricPoints > 0 ? `, ${result.pendingMetricPoints} metric points not yet sealed into an event` : ''}.
    </p>
  );
  if (result.ok) {
    return (
      <div className="audit-verdict ok" role="status">
        <p>
          <span className="badge ok">OK</span> The chain is intact
          {result.head ? (
            <>
              {' '}
              up to event {result.head.seq}: head <code className="audit-hash">{headText(result.head)}</code>
            </>
          ) : (
            ': the trail is empty'
          )}
          .
        </p>
        {counts}
      </div>
    );
  }
  return (
    <div className="audit-verdict bad" role="alert">
      <p>
        <span className="badge bad">Failed</span> Verification found {result.problems.length} problem{result.problems.length === 1 ? '' : 's'}
        {result.head ? ` (the chain ends at event ${result.head.seq})` : ''}.
      </p>
      <table className="data">
        <caption className="visually-hidden">Problems found by verification</caption>
        <thead>
          <tr>
            <th scope="col" className="num">
              Seq
            </th>
            <th scope="col">Kind</th>
            <th scope="col">Problem</th>
          </tr>
        </thead>
        <tbody>
          {result.problems.map((p, i) => (
            <tr key={`${p.seq}-${p.kind}-${i}`}>
              <td className="num mono">{p.seq}</td>
              <td className="mono">{p.kind}</td>
              <td>{p.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {counts}
    </div>
  );
}

/** The head and the verify button, with an optional head kept elsewhere to check against. */
export function AuditVerifyPanel(): ReactNode {
  const head = useQuery({ queryKey: ['audit', 'head'], queryFn: ({ signal }) => fetchAuditHead(signal) });
  const [expected, setExpected] = useState('');
  const verify = useMutation({ mutationFn: (heads: string[]) => verifyAudit(heads) });
  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    verify.mutate(
      expected
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    );
  };
  return (
    <section aria-labelledby="audit-chain-title" className="audit-chain">
      <h2 id="audit-chain-title">Chain</h2>
      <dl className="kv">
        <dt>Head</dt>
        <dd>
          {head.isPending ? (
            <Loading what="Reading the head" />
          ) : head.error ? (
            <ErrorMessage error={head.error} />
          ) : head.data ? (
            <>
              event {head.data.seq}: <code className="audit-hash">{headText(head.data)}</code>
            </>
          ) : (
            <span className="muted">none yet: no change has been recorded</span>
          )}
        </dd>
      </dl>
      <p className="muted small">Keep the head somewhere Slipway cannot write, and paste it below later: a rewritten or truncated chain then fails verification.</p>
      <form className="toolbar" onSubmit={onSubmit}>
        <label htmlFor="audit-expect-head">Expected head (optional)</label>
        <input id="audit-expect-head" className="grow mono" placeholder="SEQ:HASH" spellCheck={false} autoComplete="off" value={expected} onChange={(e) => setExpected(e.target.value)} />
        <button type="submit" className="primary" disabled={verify.isPending}>
          {verify.isPending ? 'Verifying…' : 'Verify the chain'}
        </button>
      </form>
      {verify.isPending ? <Loading what="Verifying the chain" /> : null}
      {verify.error ? <ErrorMessage title="Verification could not run" error={verify.error} /> : null}
      {verify.data && !verify.isPending ? <VerificationResult result={verify.data} /> : null}
    </section>
  );
}
