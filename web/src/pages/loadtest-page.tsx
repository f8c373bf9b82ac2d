/**
 * One recorded load test, from its run's `loadtest.json`: verdict, settings, latency over
 * time, percentiles, throughput, errors and thresholds, the recorded HTML report, and a
 * comparison with another recorded test chosen as the baseline (`baseline=` in the URL).
 */
import type { ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { LoadTestResult, RecordedLoadTest } from '../../../src/client/schemas/loadtests.js';
import { ApiError } from '../api/http';
import { NotALoadTest, fetchLoadTestHtml, fetchLoadTestReport, fetchLoadTests, tagOf, type LoadTestReport } from '../api/loadtests';
import { PageHeader } from '../components/page-header';
import { ErrorMessage, Loading } from '../components/states';
import { formatTime } from '../components/format';
import { LoadTestVerdict, formatMs } from '../components/loadtest-format';
import { UrlTabs } from '../components/url-tabs';
import { ErrorsTable, LatencyByPercentile, LatencyOverTime, LoadTestSettings, PercentileTable, ThresholdTable, ThroughputTable } from '../components/loadtest-sections';
import { Link, seg, setQueryParams, useQueryParam } from '../router';

function titleOf(report: LoadTestReport): string {
  const model = report.result.target.model;
  const name = tagOf(report.run, 'slipway.model.name') ?? model?.name;
  const version = tagOf(report.run, 'slipway.model.version') ?? model?.version;
  const alias = tagOf(report.run, 'slipway.model.alias') ?? model?.alias;
  if (!name) return `Load test of ${report.result.target.url}`;
  return `Load test of ${name}${version ? ` v${version}` : ''}${alias ? ` @${alias}` : ''}`;
}

function labelOf(t: RecordedLoadTest): string {
  const m = t.model;
  const who = m ? `${m.name}${m.version ? ` v${m.version}` : ''}${m.alias ? ` @${m.alias}` : ''}` : 'URL target';
  return `${who} · ${formatTime(t.startTime)} · p99 ${formatMs(t.metrics.latency_p99_ms)}${t.passed === null ? '' : t.passed ? ' · passed' : ' · failed'}`;
}

function BaselinePicker({ runId, model, baseline }: { runId: string; model: string | undefined; baseline: string }): ReactNode {
  const list = useQuery({ queryKey: ['loadtests', ''], queryFn: ({ signal }) => fetchLoadTests(undefined, signal) });
  if (list.error) return <ErrorMessage title="The recorded load tests to compare with could not be listed" error={list.error} />;
  const others = (list.data?.loadtests ?? []).filter((t) => t.runId !== runId);
  // The same model's tests first: comparing a version with its predecessor is the usual question.
  const sorted = [...others.filter((t) => t.model?.name === model), ...others.filter((t) => t.model?.name !== model)];
  return (
    <div className="toolbar">
      <label htmlFor="loadtest-baseline">Compare with</label>
      <select id="loadtest-baseline" value={baseline} onChange={(e) => setQueryParams({ baseline: e.target.value || undefined })} disabled={list.isPending}>
        <option value="">{list.isPending ? 'Loading the recorded tests…' : others.length === 0 ? 'No other recorded load test' : 'No baseline'}</option>
        {sorted.map((t) => (
          <option key={t.runId} value={t.runId}>
            {labelOf(t)}
          </option>
        ))}
        {baseline && !others.some((t) => t.runId === baseline) && !list.isPending ? <option value={baseline}>{`Run ${baseline}`}</option> : null}
      </select>
      {baseline ? (
        <>
          <Link to={`/loadtests/${seg(baseline)}`}>Open the baseline</Link>
          <button type="button" onClick={() => setQueryParams({ baseline: undefined })}>
            Clear the baseline
          </button>
        </>
      ) : null}
    </div>
  );
}

function HtmlReport({ runId, title }: { runId: string; title: string }): ReactNode {
  const html = useQuery({ queryKey: ['loadtest-html', runId], queryFn: () => fetchLoadTestHtml(runId) });
  if (html.error) return <ErrorMessage title="The recorded HTML report could not be read" error={html.error} />;
  if (html.isPending) return <Loading what="Loading the recorded HTML report" />;
  if (html.data === null) return <p>This run has no recorded HTML report (<code>loadtest-report.html</code>).</p>;
  // An empty sandbox: the report's own markup and styles, no scripts, no forms, no navigation of this page.
  return <iframe className="lt-report-frame" sandbox="" srcDoc={html.data} title={`Recorded HTML report: ${title}`} />;
}

const TABS = [
  { id: 'report', label: 'Report' },
  { id: 'html', label: 'Recorded HTML report' },
] as const;

function Verdict({ result }: { result: LoadTestResult }): ReactNode {
  return (
    <section aria-labelledby="lt-verdict" className={`lt-verdict ${result.passed ? 'ok' : 'bad'}`}>
      <h2 id="lt-verdict">
        Verdict: <LoadTestVerdict passed={result.passed} />
      </h2>
      {result.failures.length > 0 ? (
        <ul>
          {result.failures.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
      ) : (
        <p>Every threshold held and the load generator kept its schedule.</p>
      )}
      {result.generator.behind ? <p className="lt-warning">The load generator fell behind its schedule{result.generator.reason ? `: ${result.generator.reason}` : ''}. Its numbers describe the generator, not the model.</p> : null}
    </section>
  );
}

function ReportBody({ report, baseline, baselineId }: { report: LoadTestReport; baseline: LoadTestReport | undefined; baselineId: string }): ReactNode {
  const r = report.result;
  const b = baseline?.result;
  return (
    <>
      <Verdict result={r} />
      <section aria-labelledby="lt-compare">
        <h2 id="lt-compare">Baseline</h2>
        <BaselinePicker runId={report.run.info.runId} model={tagOf(report.run, 'slipway.model.name') ?? r.target.model?.name} baseline={baselineId} />
        {baseline ? (
          <p className="muted">
            Compared with <Link to={`/loadtests/${seg(baseline.run.info.runId)}`}>{titleOf(baseline)}</Link> of {formatTime(Date.parse(baseline.result.startedAt))}. Run both with the same load profile for a fair comparison.
          </p>
        ) : null}
      </section>
      <section aria-labelledby="lt-latency">
        <h2 id="lt-latency">Latency over time</h2>
        <LatencyOverTime result={r} baseline={b} />
      </section>
      <section aria-labelledby="lt-distribution">
        <h2 id="lt-distribution">Latency by percentile</h2>
        <LatencyByPercentile result={r} baseline={b} />
      </section>
      <div className="lt-columns">
        <section aria-labelledby="lt-percentiles">
          <h2 id="lt-percentiles">Latency percentiles</h2>
          <PercentileTable result={r} baseline={b} />
        </section>
        <section aria-labelledby="lt-throughput">
          <h2 id="lt-throughput">Throughput and requests</h2>
          <ThroughputTable result={r} baseline={b} />
        </section>
      </div>
      <div className="lt-columns">
        <section aria-labelledby="lt-thresholds">
          <h2 id="lt-thresholds">Thresholds</h2>
          <ThresholdTable result={r} />
        </section>
        <section aria-labelledby="lt-errors">
          <h2 id="lt-errors">Errors</h2>
          <ErrorsTable result={r} />
        </section>
      </div>
      <section aria-labelledby="lt-settings">
        <h2 id="lt-settings">Settings</h2>
        <LoadTestSettings result={r} />
      </section>
    </>
  );
}

/** The load-test report page. */
export default function LoadTestPage({ params }: { params: Record<string, string> }): ReactNode {
  const runId = params.runId ?? '';
  const [tab] = useQueryParam('tab', 'report');
  const [baselineId] = useQueryParam('baseline');
  const report = useQuery({ queryKey: ['loadtest', runId], queryFn: () => fetchLoadTestReport(runId), retry: (n, err) => n < 2 && !(err instanceof NotALoadTest) && !(err instanceof ApiError && err.status >= 400 && err.status < 500) });
  const baseline = useQuery({ queryKey: ['loadtest', baselineId], queryFn: () => fetchLoadTestReport(baselineId), enabled: baselineId !== '' && baselineId !== runId, retry: false });
  const crumbs = [{ label: 'Load tests', to: '/loadtests' }];
  if (report.error) {
    const notLoadTest = report.error instanceof NotALoadTest;
    return (
      <>
        <PageHeader title={notLoadTest ? 'Not a load test' : 'Load test'} crumbs={crumbs} />
        <ErrorMessage title={notLoadTest ? 'This run is not a load test' : 'The load test could not be read'} error={report.error} />
        {notLoadTest ? (
          <p>
            <Link to={`/runs/${seg(runId)}`}>Open it as a run</Link> or go back to the <Link to="/loadtests">recorded load tests</Link>.
          </p>
        ) : null}
      </>
    );
  }
  if (!report.data) {
    return (
      <>
        <PageHeader title="Load test" crumbs={crumbs} />
        <Loading what="Loading the load test" />
      </>
    );
  }
  const title = titleOf(report.data);
  const activeTab = tab === 'html' ? 'html' : 'report';
  return (
    <>
      <PageHeader
        title={title}
        crumbs={crumbs}
        subtitle={
          <>
            {formatTime(Date.parse(report.data.result.startedAt))} · run <Link to={`/runs/${seg(runId)}`}>{report.data.run.info.runName || runId}</Link>
          </>
        }
      />
      <UrlTabs tabs={TABS} current={activeTab} label="Load test views" idPrefix="lt" />
      <div role="tabpanel" id={`lt-panel-${activeTab}`} aria-labelledby={`lt-tab-${activeTab}`} tabIndex={0}>
        {activeTab === 'html' ? (
          <HtmlReport runId={runId} title={title} />
        ) : (
          <>
            {baselineId === runId ? <p className="lt-warning">The baseline is this test itself; choose another recorded test to compare with.</p> : null}
            {baseline.error ? <ErrorMessage title="The baseline could not be read" error={baseline.error} /> : null}
            {baselineId !== '' && baselineId !== runId && baseline.isPending ? <Loading what="Loading the baseline" /> : null}
            <ReportBody report={report.data} baseline={baseline.data} baselineId={baselineId} />
          </>
        )}
      </div>
    </>
  );
}
