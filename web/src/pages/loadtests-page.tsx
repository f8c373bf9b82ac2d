/** The recorded load tests: one row per test (model, version, when, verdict, p99, throughput), filtered by model in the URL. */
import { useState, type FormEvent, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { RecordedLoadTest } from '../../../src/client/schemas/loadtests.js';
import { fetchLoadTests } from '../api/loadtests';
import { PageHeader } from '../components/page-header';
import { Empty, QueryView } from '../components/states';
import { formatNumber, formatPercent, formatTime } from '../components/format';
import { LoadTestVerdict, formatMs } from '../components/loadtest-format';
import { Link, href, seg, useQueryParam } from '../router';

function ModelFilter({ model, onApply }: { model: string; onApply(value: string): void }): ReactNode {
  const [draft, setDraft] = useState(model);
  const [shown, setShown] = useState(model);
  // A link or the back button changes the filter under the form: show what the URL says.
  if (shown !== model) {
    setShown(model);
    setDraft(model);
  }
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onApply(draft.trim());
  };
  return (
    <form className="toolbar" onSubmit={submit} role="search" aria-label="Filter load tests">
      <label htmlFor="loadtests-model">Model</label>
      <input id="loadtests-model" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="all models" autoComplete="off" />
      <button type="submit">Filter</button>
      {model ? (
        <button type="button" onClick={() => onApply('')}>
          Show all models
        </button>
      ) : null}
    </form>
  );
}

function versionOf(t: RecordedLoadTest): ReactNode {
  const m = t.model;
  if (!m || (m.version === undefined && m.alias === undefined)) return '–';
  return (
    <>
      {m.version !== undefined ? `v${m.version}` : ''}
      {m.alias !== undefined ? <span className="muted">{`${m.version !== undefined ? ' ' : ''}@${m.alias}`}</span> : null}
    </>
  );
}

function LoadTestTable({ tests }: { tests: RecordedLoadTest[] }): ReactNode {
  return (
    <table className="data">
      <caption className="visually-hidden">Recorded load tests, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Model</th>
          <th scope="col">Version / alias</th>
          <th scope="col">When</th>
          <th scope="col">Verdict</th>
          <th scope="col" className="num">
            p99
          </th>
          <th scope="col" className="num">
            Throughput
          </th>
          <th scope="col" className="num">
            Error rate
          </th>
        </tr>
      </thead>
      <tbody>
        {tests.map((t) => (
          <tr key={t.runId}>
            <td>
              <Link to={`/loadtests/${seg(t.runId)}`}>{t.model?.name ?? 'URL target'}</Link>
            </td>
            <td>{versionOf(t)}</td>
            <td>{formatTime(t.startTime)}</td>
            <td>
              <LoadTestVerdict passed={t.passed} />
            </td>
            <td className="num">{formatMs(t.metrics.latency_p99_ms)}</td>
            <td className="num">{t.metrics.throughput_achieved === undefined ? '–' : `${formatNumber(Number(t.metrics.throughput_achieved.toFixed(1)))} req/s`}</td>
            <td className="num">{formatPercent(t.metrics.error_rate, 2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The load-test list page. */
export default function LoadTestsPage(): ReactNode {
  const [model, setModel] = useQueryParam('model');
  const query = useQuery({ queryKey: ['loadtests', model], queryFn: ({ signal }) => fetchLoadTests(model, signal) });
  return (
    <>
      <PageHeader title="Load tests" subtitle="Load tests recorded as tracking runs (slipway loadtest --record), newest first." />
      <ModelFilter model={model} onApply={(v) => setModel(v)} />
      <QueryView query={query} what="Loading the recorded load tests">
        {(data) =>
          data.loadtests.length === 0 ? (
            <Empty>
              {model ? (
                <>
                  No recorded load test of model <strong>{model}</strong>. <a href={href('/loadtests')}>Show every model’s</a>.
                </>
              ) : (
                <>
                  No load test has been recorded yet. Run one with <code>slipway loadtest models:/NAME@ALIAS --record</code>.
                </>
              )}
            </Empty>
          ) : (
            <>
              <p className="muted small" aria-live="polite">
                {data.loadtests.length} load test{data.loadtests.length === 1 ? '' : 's'}
                {model ? ` of ${model}` : ''}
              </p>
              <LoadTestTable tests={data.loadtests} />
            </>
          )
        }
      </QueryView>
    </>
  );
}
