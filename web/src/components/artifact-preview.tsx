/**
 * Previews of a run's file by its kind: text, JSON, YAML and MLmodel as text (the first MiB),
 * CSV and TSV as a table (the first 500 rows), images from a Blob URL (SVGs from a data: URL), HTML reports in a
 * sandboxed frame that runs no script and has no origin; anything else is offered for download.
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { fetchArtifactBlob, fetchArtifactHead } from '../api/runs';
import { ErrorMessage, Loading } from './states';
import { formatBytes } from './format';

/** How much of a file a text preview reads. */
export const PREVIEW_BYTES = 1024 * 1024;
/** Rows of a CSV preview. */
export const PREVIEW_ROWS = 500;
/** Images larger than this are not previewed (download them instead). */
const IMAGE_PREVIEW_BYTES = 32 * 1024 * 1024;

/** What kind of preview a file gets. */
export type PreviewKind = 'text' | 'json' | 'csv' | 'tsv' | 'image' | 'html' | 'binary';

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', webp: 'image/webp', bmp: 'image/bmp' };
const BINARY = new Set(['onnx', 'pkl', 'pickle', 'pt', 'pth', 'bin', 'safetensors', 'h5', 'hdf5', 'npy', 'npz', 'parquet', 'zip', 'gz', 'tgz', 'tar', 'bz2', 'xz', 'zst', '7z', 'whl', 'so', 'dll', 'exe', 'joblib', 'pb', 'tflite', 'feather', 'arrow', 'avro', 'orc', 'db', 'sqlite', 'pdf', 'mp4', 'mp3', 'wav', 'ico', 'tiff', 'tif']);

function extension(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** The preview kind of a path, by its extension. */
export function previewKind(path: string): PreviewKind {
  const ext = extension(path);
  if (ext in IMAGE_TYPES) return 'image';
  if (ext === 'csv') return 'csv';
  if (ext === 'tsv') return 'tsv';
  if (ext === 'json') return 'json';
  if (ext === 'html' || ext === 'htm') return 'html';
  if (BINARY.has(ext)) return 'binary';
  return 'text';
}

/**
 * Parses delimited text (RFC 4180: quoted fields may hold the delimiter, newlines and doubled
 * quotes), stopping after `maxRows` rows. `complete` is false when rows were left unread.
 */
export function parseDelimited(text: string, delimiter: string, maxRows: number): { rows: string[][]; complete: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      field = '';
      rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      if (rows.length >= maxRows) return { rows, complete: i >= n };
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return { rows, complete: true };
}

function decodeText(bytes: Uint8Array, truncated: boolean): string {
  let end = bytes.length;
  // A cut in the middle of a multi-byte character would show as a replacement character: drop the partial one.
  if (truncated) {
    let back = 0;
    while (back < 4 && end - back - 1 >= 0 && ((bytes[end - back - 1] as number) & 0xc0) === 0x80) back++;
    if (end - back - 1 >= 0 && (bytes[end - back - 1] as number) >= 0xc0) end = end - back - 1;
  }
  return new TextDecoder().decode(bytes.subarray(0, end));
}

function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8192);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

function TruncatedNote({ size }: { size: number | undefined }): ReactNode {
  return (
    <p className="artifact-note" role="note">
      Showing the first {formatBytes(PREVIEW_BYTES)}
      {size !== undefined ? ` of ${formatBytes(size)}` : ''}: download the file to see all of it.
    </p>
  );
}

function CsvTable({ text, delimiter, truncated, size, name }: { text: string; delimiter: string; truncated: boolean; size: number | undefined; name: string }): ReactNode {
  const { rows, complete } = useMemo(() => parseDelimited(text, delimiter, PREVIEW_ROWS + 1), [text, delimiter]);
  if (rows.length === 0) return <p className="muted">The file is empty.</p>;
  const [header = [], ...body] = rows;
  const width = Math.max(header.length, ...body.map((r) => r.length));
  const columns = Array.from({ length: width }, (_, i) => header[i] ?? `column ${i + 1}`);
  const shown = body.slice(0, PREVIEW_ROWS);
  const more = body.length > PREVIEW_ROWS || !complete || truncated;
  return (
    <>
      <div className="artifact-table-wrap" tabIndex={0} role="region" aria-label={`Table preview of ${name}`}>
        <table className="data artifact-csv">
          <thead>
            <tr>
              {columns.map((c, i) => (
                <th key={i} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r, i) => (
              <tr key={i}>
                {columns.map((_, j) => (
                  <td key={j}>{r[j] ?? ''}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        {more ? `Showing the first ${shown.length.toLocaleString()} rows` : `${shown.length.toLocaleString()} ${shown.length === 1 ? 'row' : 'rows'}`}
        {more && size !== undefined ? ` of a ${formatBytes(size)} file: download it to see all of them.` : '.'}
      </p>
    </>
  );
}

function ImagePreview({ runId, path, size }: { runId: string; path: string; size: number | undefined }): ReactNode {
  const tooBig = size !== undefined && size > IMAGE_PREVIEW_BYTES;
  const query = useQuery({ queryKey: ['artifact-blob', runId, path], queryFn: () => fetchArtifactBlob(runId, path), enabled: !tooBig, staleTime: 60_000 });
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!query.data) return;
    // The server sends octet-stream; the type from the extension lets the browser decode it as an image, never as a page.
    const type = IMAGE_TYPES[extension(path)] ?? 'application/octet-stream';
    const typed = new Blob([query.data], { type });
    if (type === 'image/svg+xml') {
      // An SVG is a document that may carry scripts: from a blob: URL, opened in a tab of its own, they would run with
      // this page's origin and its session. A data: URL has no origin, and browsers do not open one as a page.
      let live = true;
      const reader = new FileReader();
      reader.onload = () => {
        if (live && typeof reader.result === 'string') setUrl(reader.result);
      };
      reader.readAsDataURL(typed);
      return () => {
        live = false;
      };
    }
    const u = URL.createObjectURL(typed);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [query.data, path]);
  if (tooBig) return <p className="muted">This image is {formatBytes(size)}: download it to view it.</p>;
  if (query.error) return <ErrorMessage error={query.error} title="The image could not be read" />;
  if (!url) return <Loading what="Loading the image" />;
  return <img className="artifact-image" src={url} alt={`Preview of ${path}`} />;
}

function TextLikePreview({ runId, path, kind, size }: { runId: string; path: string; kind: PreviewKind; size: number | undefined }): ReactNode {
  const query = useQuery({ queryKey: ['artifact-head', runId, path], queryFn: ({ signal }) => fetchArtifactHead(runId, path, PREVIEW_BYTES, signal), staleTime: 60_000 });
  const decoded = useMemo(() => {
    if (!query.data) return undefined;
    const { bytes, truncated } = query.data;
    if (kind !== 'html' && looksBinary(bytes)) return { binary: true as const };
    let text = decodeText(bytes, truncated);
    if (kind === 'json' && !truncated) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // Not valid JSON: show it as it is.
      }
    }
    return { binary: false as const, text, truncated };
  }, [query.data, kind]);
  if (query.error) return <ErrorMessage error={query.error} title="The file could not be read" />;
  if (!decoded) return <Loading what="Loading the file" />;
  if (decoded.binary) return <p className="muted">This looks like a binary file: download it to open it.</p>;
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (kind === 'csv' || kind === 'tsv') return <CsvTable text={decoded.text} delimiter={kind === 'csv' ? ',' : '\t'} truncated={decoded.truncated} size={size} name={name} />;
  if (kind === 'html') {
    return (
      <>
        {decoded.truncated ? <TruncatedNote size={size} /> : null}
        {/* No token in sandbox: the report runs no script and gets an opaque origin, so it can neither reach the API nor this page. */}
        <iframe className="artifact-html" title={`Report ${name}`} sandbox="" srcDoc={decoded.text} referrerPolicy="no-referrer" />
      </>
    );
  }
  return (
    <>
      {decoded.truncated ? <TruncatedNote size={size} /> : null}
      <pre className="preview artifact-text" tabIndex={0} aria-label={`Contents of ${name}`}>
        {decoded.text === '' ? '(empty file)' : decoded.text}
      </pre>
    </>
  );
}

/** The preview of one file. */
export function ArtifactPreview({ runId, path, size }: { runId: string; path: string; size: number | undefined }): ReactNode {
  const kind = previewKind(path);
  if (kind === 'binary') return <p className="muted">No preview for this kind of file: download it to open it.</p>;
  if (kind === 'image') return <ImagePreview runId={runId} path={path} size={size} />;
  return <TextLikePreview runId={runId} path={path} kind={kind} size={size} />;
}
