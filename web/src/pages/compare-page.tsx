/**
 * Compare runs: `#/compare?runs=a,b,c&metric=loss&x=step&log=1&all=1`. One metric of every run
 * overlaid, params against a metric in parallel coordinates, and tables of the params that
 * differ and of the latest metrics. Everything the user chooses is in the URL.
 */
import { useMemo, type ReactNode } from 'react';
import { MAX_COMPARED_RUNS, metricNumber, parseRunIds, useComparedRuns, useDownsampledHistories } from '../api/compare';
import { CompareChart, runLabel } from '../components/compare-chart';
import { MetricsTable, ParamsTable, metricKeys, paramKeys } from '../components/compare-tables';
import { PageHeader } from '../components/page-header';
import { ParallelCoordinates, type ParallelRun } from '../components/parallel-coordinates';
import { Empty, ErrorMessage, Loading } from '../components/states';
import { href, Link, setQueryParams, useQueryParam } from '../router';

/** The compare page. */
export default function ComparePage(): ReactNode {
  const [runsParam] = useQueryParam('runs');
  const [metricParam] = useQueryParam('metric');
  const [xParam] = useQueryParam('x', 'step');
  const [logParam] = useQueryParam('log');
  const [allParam] = useQueryParam('all');
  const [hideParam] = useQueryParam('hide');
  const hidden = useMemo(() => new Set(parseRunIds(hideParam)), [hideParam]);
  const ids = useMemo(() => parseRunIds(runsParam), [runsParam]);
  const compared = useComparedRuns(ids);
  const runs = compared.runs;
  const x: 'step' | 'time' = xParam === 'time' ? 'time' : 'step';
  const logY = logParam === '1';
  const showAll = allParam === '1';

  const metrics = useMemo(() => metricKeys(runs), [runs]);
  const metric = metricParam !== '' ? metricParam : (metrics[0] ?? '');
  const params = useMemo(() => paramKeys(runs), [runs]);
  const chartRuns = useMemo(() => runs.slice(0, MAX_COMPARED_RUNS), [runs]);
  const histories = useDownsampledHistories(
    chartRuns.map((r) => r.info.runId),
    compared.pending ? '' : metric,
    x,
  );
  const parallelRuns = useMemo<ParallelRun[]>(
    () =>
      chartRuns.map((r) => {
        const latest = r.data.metrics.find((m) => m.key === metric);
        const value = latest === undefined ? undefined : metricNumber(latest.value);
        return {
          id: r.info.runId,
          label: runLabel(r),
          params: Object.fromEntries(r.data.params.map((p) => [p.key, p.value])),
          metric: value !== undefined && Number.isFinite(value) ? value : undefined,
        };
      }),
    [chartRuns, metric],
  );

  const crumbs = [{ label: 'Experiments', to: '/experiments' }];
  const experimentIds = [...new Set(runs.map((r) => r.info.experimentId))];
  if (experimentIds.length === 1) crumbs.push({ label: `Experiment ${experimentIds[0]}`, to: `/experiments/${experimentIds[0]}` });
  const title = ids.length === 0 ? 'Compare runs' : `Compare ${ids.length} run${ids.length === 1 ? '' : 's'}`;

  if (ids.length === 0) {
    return (
      <>
        <PageHeader title={title} crumbs={crumbs} />
        <Empty>
          No runs chosen. Select runs on an <Link to="/experiments">experiment's runs page</Link> and press Compare, or list their ids in the link:{' '}
          <code>#/compare?runs=ID1,ID2</code>.
        </Empty>
      </>
    );
  }

  const shownParams = showAll ? params.all : params.differing;
  return (
    <>
      <PageHeader title={title} crumbs={crumbs} subtitle={runs.length > 0 ? runs.map(runLabel).slice(0, 8).join(', ') + (runs.length > 8 ? ` and ${runs.length - 8} more` : '') : undefined} />
      {compared.malformed.length > 0 ? (
        <div className="error-box" role="alert">
          <strong>Not run ids</strong>
          <p>
            A run id is 32 hexadecimal characters; left out: <code>{compared.malformed.join(', ')}</code>
          </p>
        </div>
      ) : null}
      {compared.missing.length > 0 ? (
        <div className="error-box" role="alert">
          <strong>{compared.missing.length === 1 ? 'One run was not found' : `${compared.missing.length} runs were not found`}</strong>
          <p>
            No run has the id{compared.missing.length === 1 ? '' : 's'} <code>{compared.missing.join(', ')}</code>; the other runs are shown.
          </p>
        </div>
      ) : null}
      {compared.failed.map((f) => (
        <ErrorMessage key={f.runId} title={`Run ${f.runId} could not be loaded`} error={f.error} />
      ))}
      {runs.length > MAX_COMPARED_RUNS ? (
        <p className="muted" role="note">
          The chart and parallel coordinates show the first {MAX_COMPARED_RUNS} of {runs.length} runs; the tables show them all.
        </p>
      ) : null}
      {compared.pending ? <Loading what="Loading the runs" /> : null}
      {!compared.pending && runs.length === 0 ? <Empty>None of the chosen runs could be shown.</Empty> : null}
      {runs.length > 0 && !compared.pending ? (
        <>
          <section aria-labelledby="compare-metric-heading">
            <h2 id="compare-metric-heading">Metric</h2>
            {metrics.length === 0 ? (
              <Empty>These runs logged no metrics.</Empty>
            ) : (
              <>
                <div className="toolbar">
                  <label className="cmp-field">
                    Metric{' '}
                    <select value={metric} onChange={(e) => setQueryParams({ metric: e.target.value })}>
                      {metrics.includes(metric) ? null : <option value={metric}>{metric}</option>}
                      {metrics.map((k) => (
                        <option key={k} value={k}>
                          {k}
                        </option>
                      ))}
                    </select>
                  </label>
                  <label className="cmp-field">
                    X axis{' '}
                    <select value={x} onChange={(e) => setQueryParams({ x: e.target.value === 'step' ? undefined : e.target.value })}>
                      <option value="step">Step</option>
                      <option value="time">Time</option>
                    </select>
                  </label>
                  <label className="cmp-field">
                    <input type="checkbox" checked={logY} onChange={(e) => setQueryParams({ log: e.target.checked ? '1' : undefined })} /> Log scale
                  </label>
                </div>
                {histories.error ? <ErrorMessage title={`The history of ${metric} could not be loaded`} error={histories.error} /> : null}
                {histories.isPending && !histories.error ? <Loading what={`Loading ${metric}`} /> : null}
                {histories.data ? (
                  <CompareChart
                    runs={chartRuns}
                    metric={metric}
                    x={x}
                    logY={logY}
                    data={histories.data}
                    hidden={hidden}
                    onToggle={(runId, shown) => {
                      const next = new Set(hidden);
                      if (shown) next.delete(runId);
                      else next.add(runId);
                      setQueryParams({ hide: [...next].join(',') });
                    }}
                    onShowAll={() => setQueryParams({ hide: undefined })}
                  />
                ) : null}
              </>
            )}
          </section>
          <section aria-labelledby="compare-parallel-heading">
            <h2 id="compare-parallel-heading">Params against {metric || 'a metric'}</h2>
            {shownParams.length === 0 ? (
              <Empty>
                {params.all.length === 0
                  ? 'These runs logged no params to set against a metric.'
                  : 'Every param has the same value in all these runs, so none sets them apart. Tick “Show all params” below to draw them anyway.'}
              </Empty>
            ) : (
              <ParallelCoordinates runs={parallelRuns} params={shownParams} metric={metric || 'metric'} />
            )}
          </section>
          <section aria-labelledby="compare-params-heading">
            <div className="cmp-title-row">
              <h2 id="compare-params-heading">{showAll ? 'All params' : 'Params that differ'}</h2>
              <label className="cmp-field">
                <input type="checkbox" checked={showAll} onChange={(e) => setQueryParams({ all: e.target.checked ? '1' : undefined })} /> Show all params
              </label>
            </div>
            {params.all.length === 0 ? (
              <Empty>These runs logged no params.</Empty>
            ) : shownParams.length === 0 ? (
              <Empty>
                All {params.all.length} param{params.all.length === 1 ? ' is' : 's are'} the same in every run.{' '}
                <Link to={href('/compare', { runs: runsParam, metric: metricParam, x: xParam === 'step' ? '' : xParam, log: logParam, all: '1' })}>Show them</Link>
              </Empty>
            ) : (
              <ParamsTable runs={runs} keys={shownParams} label={showAll ? 'All params, by run' : 'Params that differ between the runs'} />
            )}
          </section>
          <section aria-labelledby="compare-metrics-heading">
            <h2 id="compare-metrics-heading">Latest metrics</h2>
            {metrics.length === 0 ? <Empty>These runs logged no metrics.</Empty> : <MetricsTable runs={runs} keys={metrics} />}
          </section>
        </>
      ) : null}
    </>
  );
}
