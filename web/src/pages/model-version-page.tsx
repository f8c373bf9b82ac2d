/** A model version: `#/models/NAME/versions/N` — its source, run, stage and aliases, signature, lineage and model card. */
import { useState, type ReactNode } from 'react';
import { ApiError } from '../api/http';
import { downloadCardMarkdown, useCardHtml, useLineage, useVersion } from '../api/registry';
import { formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import { StageBadge, StatusBadge } from '../components/registry-badges';
import { LineageView, SignatureTables } from '../components/registry-lineage';
import { ErrorMessage, Loading } from '../components/states';
import { Link, seg } from '../router';

function ModelCard({ name, version }: { name: string; version: string }): ReactNode {
  const [shown, setShown] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(undefined);
  const [downloading, setDownloading] = useState(false);
  const card = useCardHtml(name, version, shown);
  const download = async (): Promise<void> => {
    setDownloadError(undefined);
    setDownloading(true);
    try {
      await downloadCardMarkdown(name, version);
    } catch (err) {
      setDownloadError(err);
    } finally {
      setDownloading(false);
    }
  };
  return (
    <section aria-labelledby="version-card">
      <h2 id="version-card">Model card</h2>
      <div className="toolbar">
        <button type="button" onClick={() => setShown((s) => !s)} aria-expanded={shown}>
          {shown ? 'Hide the model card' : 'Show the model card'}
        </button>
        <button type="button" onClick={() => void download()} disabled={downloading}>
          {downloading ? 'Downloading…' : 'Download as Markdown'}
        </button>
      </div>
      {downloadError ? <ErrorMessage title="The Markdown card could not be downloaded" error={downloadError} /> : null}
      {shown ? (
        card.error ? (
          <ErrorMessage title="The model card could not be loaded" error={card.error} />
        ) : card.data === undefined ? (
          <Loading what="Building the model card" />
        ) : (
          // An empty sandbox: the card's HTML is shown with no scripts, forms, or access to this page and its session.
          <iframe className="reg-card-frame" title={`Model card of ${name} version ${version}`} sandbox="" srcDoc={card.data} />
        )
      ) : null}
    </section>
  );
}

/** The model version page. */
export default function ModelVersionPage({ params }: { params: Record<string, string> }): ReactNode {
  const name = params.name ?? '';
  const version = params.version ?? '';
  const v = useVersion(name, version);
  const lineage = useLineage(name, version);
  const crumbs = [
    { label: 'Models', to: '/models' },
    { label: name, to: `/models/${seg(name)}` },
  ];
  const title = `${name} version ${version}`;

  if (v.error) {
    const missing = v.error instanceof ApiError && (v.error.status === 404 || v.error.status === 400);
    return (
      <>
        <PageHeader title={missing ? 'Model version not found' : title} crumbs={crumbs} />
        <ErrorMessage title={missing ? `There is no version ${version} of ${name}` : `Version ${version} of ${name} could not be loaded`} error={v.error} />
        {missing ? (
          <p>
            <Link to={`/models/${seg(name)}`}>See the versions of {name}</Link> · <Link to="/models">See every model</Link>
          </p>
        ) : null}
      </>
    );
  }
  if (v.isPending) {
    return (
      <>
        <PageHeader title={title} crumbs={crumbs} />
        <Loading what="Loading the version" />
      </>
    );
  }
  const mv = v.data;
  const tags = Object.entries(mv.tags).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div className="reg-page">
      <PageHeader title={title} crumbs={crumbs} subtitle={mv.description ? mv.description : undefined} />
      <section aria-labelledby="version-summary">
        <h2 id="version-summary" className="visually-hidden">
          Summary
        </h2>
        <dl className="kv">
          <div className="reg-kv-row">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={mv.status} />
              {mv.statusMessage ? <span className="muted"> {mv.statusMessage}</span> : null}
            </dd>
          </div>
          <div className="reg-kv-row">
            <dt>Stage</dt>
            <dd>
              <StageBadge stage={mv.currentStage} />
            </dd>
          </div>
          <div className="reg-kv-row">
            <dt>Aliases</dt>
            <dd>{mv.aliases.length > 0 ? mv.aliases.map((a) => `@${a}`).join(' ') : <span className="muted">none</span>}</dd>
          </div>
          <div className="reg-kv-row">
            <dt>Run</dt>
            <dd>{mv.runId ? <Link to={`/runs/${seg(mv.runId)}`}>{lineage.data?.run?.runName ? `${lineage.data.run.runName} (${mv.runId})` : mv.runId}</Link> : <span className="muted">not registered from a run</span>}</dd>
          </div>
          <div className="reg-kv-row">
            <dt>Source</dt>
            <dd>
              <code>{mv.source}</code>
            </dd>
          </div>
          {mv.storageLocation && mv.storageLocation !== mv.source ? (
            <div className="reg-kv-row">
              <dt>Stored at</dt>
              <dd>
                <code>{mv.storageLocation}</code>
              </dd>
            </div>
          ) : null}
          <div className="reg-kv-row">
            <dt>Created</dt>
            <dd>
              {formatTime(mv.creationTimestamp)}
              {mv.userId ? ` by ${mv.userId}` : ''}
            </dd>
          </div>
          <div className="reg-kv-row">
            <dt>Last update</dt>
            <dd>{formatTime(mv.lastUpdatedTimestamp)}</dd>
          </div>
          {tags.map(([k, val]) => (
            <div key={k} className="reg-kv-row">
              <dt>
                tag <code>{k}</code>
              </dt>
              <dd>{val}</dd>
            </div>
          ))}
        </dl>
      </section>
      <section aria-labelledby="version-signature">
        <h2 id="version-signature">Signature</h2>
        {mv.signature ? (
          <>
            <p className="muted small">
              Read from <code>{mv.signature.path}</code> when the version was registered.
            </p>
            <SignatureTables signature={mv.signature} />
          </>
        ) : (
          <p className="muted">No signature: the version's source held no ONNX file when it was registered.</p>
        )}
      </section>
      <section aria-labelledby="version-lineage">
        <h2 id="version-lineage">Lineage</h2>
        {lineage.error ? (
          <ErrorMessage title="The lineage could not be loaded" error={lineage.error} />
        ) : lineage.data === undefined ? (
          <Loading what="Loading the lineage" />
        ) : (
          <LineageView lineage={lineage.data} />
        )}
      </section>
      <ModelCard name={name} version={version} />
    </div>
  );
}
