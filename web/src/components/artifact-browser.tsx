/**
 * A run's artifacts: the folders as a table (names, sizes) with a breadcrumb, the chosen
 * file's preview and a Download button. The chosen folder or file is `path=` in the URL.
 */
import { useState, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { ArtifactFile } from '../../../src/client/schemas/artifacts.js';
import { fetchArtifactBlob, fetchArtifacts } from '../api/runs';
import { href, Link, useQueryParam } from '../router';
import { ArtifactPreview } from './artifact-preview';
import { Empty, ErrorMessage, Loading } from './states';
import { formatBytes } from './format';

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function pathLink(path: string): string {
  const hash = window.location.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  const values: Record<string, string> = {};
  for (const [k, v] of query) values[k] = v;
  values.path = path;
  return href(q < 0 ? hash : hash.slice(0, q), values);
}

/** Fetches a file with the session's token and hands it to the browser as a download. */
function DownloadButton({ runId, path }: { runId: string; path: string }): ReactNode {
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const download = async (): Promise<void> => {
    setState({ busy: true });
    try {
      const blob = await fetchArtifactBlob(runId, path);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = baseName(path);
      document.body.appendChild(a);
      a.click();
      a.remove();
      // The browser has taken the file once the click is handled; give it a moment before letting go.
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
      setState({ busy: false });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <>
      <button type="button" className="primary" onClick={() => void download()} disabled={state.busy} aria-label={`Download ${baseName(path)}`}>
        {state.busy ? 'Downloading…' : 'Download'}
      </button>
      {state.error ? <ErrorMessage error={state.error} title="The download failed" /> : null}
    </>
  );
}

function Breadcrumb({ folder }: { folder: string }): ReactNode {
  const parts = folder === '' ? [] : folder.split('/');
  return (
    <nav aria-label="Artifact folder" className="artifact-crumbs">
      {parts.length === 0 ? <span aria-current="page">artifacts</span> : <Link to={pathLink('')}>artifacts</Link>}
      {parts.map((p, i) => {
        const to = parts.slice(0, i + 1).join('/');
        return (
          <span key={to}>
            {' / '}
            {i === parts.length - 1 ? <span aria-current="page">{p}</span> : <Link to={pathLink(to)}>{p}</Link>}
          </span>
        );
      })}
    </nav>
  );
}

function FolderTable({ files, selected }: { files: ArtifactFile[]; selected: string }): ReactNode {
  const sorted = [...files].sort((a, b) => (a.isDir === b.isDir ? a.path.localeCompare(b.path) : a.isDir ? -1 : 1));
  return (
    <table className="data artifact-list">
      <caption className="visually-hidden">Files in this folder</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col" className="num">
            Size
          </th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((f) => (
          <tr key={f.path} className={f.path === selected ? 'artifact-selected' : undefined}>
            <td>
              <Link to={pathLink(f.path)} aria-current={f.path === selected ? 'true' : undefined}>
                {f.isDir ? `${baseName(f.path)}/` : baseName(f.path)}
              </Link>
            </td>
            <td className="num">{f.isDir ? <span className="muted">folder</span> : formatBytes(f.size)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Artifacts tab of a run. */
export function ArtifactBrowser({ runId }: { runId: string }): ReactNode {
  const [path] = useQueryParam('path');
  const clean = path.replace(/^\/+|\/+$/g, '');
  const parent = parentOf(clean);
  // Whether `path` names a file or a folder is told by its entry in the parent folder.
  const parentQuery = useQuery({ queryKey: ['artifacts', runId, parent], queryFn: ({ signal }) => fetchArtifacts(runId, parent, signal), enabled: clean !== '' });
  const entry = clean === '' ? undefined : parentQuery.data?.files.find((f) => f.path === clean);
  const isFile = entry !== undefined && !entry.isDir;
  const folder = clean === '' ? '' : parentQuery.data ? (isFile || !entry ? parent : clean) : undefined;
  const folderQuery = useQuery({ queryKey: ['artifacts', runId, folder], queryFn: ({ signal }) => fetchArtifacts(runId, folder as string, signal), enabled: folder !== undefined });
  if (parentQuery.error) return <ErrorMessage error={parentQuery.error} title="The artifacts could not be listed" />;
  if (folderQuery.error) return <ErrorMessage error={folderQuery.error} title="The artifacts could not be listed" />;
  if (folder === undefined || !folderQuery.data) return <Loading what="Loading the artifacts" />;
  const missing = clean !== '' && !entry;
  return (
    <div className="split artifact-browser">
      <div>
        <Breadcrumb folder={folder} />
        {missing ? (
          <div className="error-box" role="alert">
            There is no artifact <code>{clean}</code> in this run. <a href={pathLink(parent)}>Show its folder</a>.
          </div>
        ) : null}
        {folderQuery.data.files.length === 0 ? (
          <Empty>{folder === '' ? 'This run has no artifacts.' : 'This folder is empty.'}</Empty>
        ) : (
          <FolderTable files={folderQuery.data.files} selected={clean} />
        )}
        <p className="muted small artifact-root">
          Stored at <code>{folderQuery.data.rootUri}</code>
        </p>
      </div>
      <div className="artifact-detail">
        {isFile && entry ? (
          <section aria-labelledby="artifact-file-title">
            <div className="artifact-file-head">
              <h2 id="artifact-file-title">{baseName(entry.path)}</h2>
              <span className="muted">{formatBytes(entry.size)}</span>
              <DownloadButton runId={runId} path={entry.path} />
            </div>
            <p className="muted small mono">{entry.path}</p>
            <ArtifactPreview key={entry.path} runId={runId} path={entry.path} size={entry.size} />
          </section>
        ) : (
          <p className="muted">Select a file to preview it.</p>
        )}
      </div>
    </div>
  );
}
