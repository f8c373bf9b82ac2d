/**
 * A run: `#/runs/<id>?tab=overview|metrics|artifacts`. Overview shows what the run is and
 * logged, Metrics charts its histories, Artifacts browses and previews its files.
 */
import { useMemo, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { ApiError } from '../api/http';
import { fetchExperiment, fetchRun } from '../api/runs';
import { PageHeader } from '../components/page-header';
import { ErrorMessage, Loading } from '../components/states';
import { RunOverview, RunStatusBadge } from '../components/run-overview';
import { RunMetrics } from '../components/run-metrics';
import { ArtifactBrowser } from '../components/artifact-browser';
import { UrlTabs } from '../components/url-tabs';
import { seg, useQueryParam } from '../router';

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'metrics', label: 'Metrics' },
  { id: 'artifacts', label: 'Artifacts' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/** The run page. */
export default function RunPage({ params }: { params: Record<string, string> }): ReactNode {
  const runId = params.runId ?? '';
  const [tabParam] = useQueryParam('tab', 'overview');
  const tab: TabId = TABS.some((t) => t.id === tabParam) ? (tabParam as TabId) : 'overview';
  const runQuery = useQuery({ queryKey: ['run', runId], queryFn: ({ signal }) => fetchRun(runId, signal), retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2 });
  const experimentId = runQuery.data?.info.experimentId;
  const experimentQuery = useQuery({
    queryKey: ['experiment', experimentId],
    queryFn: ({ signal }) => fetchExperiment(experimentId as string, signal),
    enabled: experimentId !== undefined,
    retry: false,
  });
  // The charts and the artifacts need only the run id, so they load alongside the run rather than after it.
  const keys = useMemo(() => runQuery.data?.data.metrics.map((m) => m.key), [runQuery.data]);
  if (runQuery.error) {
    const e = runQuery.error;
    const notFound = e instanceof ApiError && e.status === 404;
    return (
      <>
        <PageHeader title={notFound ? 'Run not found' : 'Run'} crumbs={[{ label: 'Experiments', to: '/experiments' }]} />
        <ErrorMessage error={e} title={notFound ? `There is no run ${runId}` : `The run ${runId} could not be read`} />
      </>
    );
  }
  const run = runQuery.data;
  const experimentName = experimentQuery.data?.name;
  const deleted = run?.info.lifecycleStage === 'deleted';
  return (
    <>
      <PageHeader
        title={run ? run.info.runName || run.info.runId : 'Run'}
        crumbs={[
          { label: 'Experiments', to: '/experiments' },
          ...(run ? [{ label: experimentName ?? `Experiment ${run.info.experimentId}`, to: `/experiments/${seg(run.info.experimentId)}` }] : []),
        ]}
        subtitle={
          <span className="run-subtitle">
            {run ? <RunStatusBadge status={run.info.status} /> : null} <span className="mono">{runId}</span>
          </span>
        }
      />
      {deleted ? (
        <div className="run-deleted-banner" role="status">
          <strong>This run is deleted.</strong> It is hidden from searches and from its experiment's list of active runs until it is restored.
        </div>
      ) : null}
      <UrlTabs tabs={TABS} current={tab} label="Run sections" idPrefix="run" />
      <div role="tabpanel" id={`run-panel-${tab}`} aria-labelledby={`run-tab-${tab}`} className="run-panel">
        {tab === 'overview' ? run ? <RunOverview run={run} experimentName={experimentName} /> : <Loading what="Loading the run" /> : null}
        {tab === 'metrics' ? <RunMetrics runId={runId} keys={keys} /> : null}
        {tab === 'artifacts' ? <ArtifactBrowser runId={runId} /> : null}
      </div>
    </>
  );
}
