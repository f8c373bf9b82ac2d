/**
 * The runs of a search as a virtualised table: fixed-height rows, only those in view (and a
 * few either side) in the DOM, memoised so a scroll frame renders the rows entering the view
 * and nothing else, however many runs are loaded. Headers sort on the server.
 */
import { memo, useCallback, useEffect, useRef, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { columnToken, sameColumn, type ColumnId, type RunRow, type SortSpec } from '../api/tracking';
import { formatDuration, formatNumber, formatTime } from './format';
import { Link, seg } from '../router';

/** Height of every row in pixels: fixed, so positions are arithmetic and never measured. */
export const RUN_ROW_HEIGHT = 34;
/** Rows from the end of what is loaded at which the next page is asked for. */
const PREFETCH_ROWS = 60;

/** The attribute columns every table shows, in order; `sortKey` is the order_by attribute. */
const ATTRIBUTE_COLUMNS: Array<{ id: string; label: string; width: number; sortKey?: string; num?: boolean }> = [
  { id: 'name', label: 'Run name', width: 240, sortKey: 'run_name' },
  { id: 'status', label: 'Status', width: 110, sortKey: 'status' },
  { id: 'start', label: 'Started', width: 180, sortKey: 'start_time' },
  { id: 'duration', label: 'Duration', width: 100, num: true },
  { id: 'user', label: 'User', width: 130, sortKey: 'user_id' },
];
const SELECT_WIDTH = 40;
const KEY_WIDTH = 130;
const KIND_LABEL: Record<string, string> = { metrics: 'metric', params: 'param', tags: 'tag' };

/** Props of RunsTable. */
export interface RunsTableProps {
  rows: readonly RunRow[];
  columns: readonly ColumnId[];
  sort: SortSpec | undefined;
  onSort(column: ColumnId): void;
  selected: ReadonlySet<string>;
  onToggle(runId: string): void;
  /** More runs follow on the server. */
  hasMore: boolean;
  /** A page is being fetched now. */
  loadingMore: boolean;
  /** Asks for the next page (called as the view nears the end of what is loaded). */
  onNearEnd(): void;
}

/** A status badge with its colour. */
export function RunStatusBadge({ status }: { status: string }): ReactNode {
  const tone = status === 'FINISHED' ? 'ok' : status === 'FAILED' || status === 'KILLED' ? 'bad' : 'warn';
  return <span className={`badge ${tone}`}>{status.charAt(0) + status.slice(1).toLowerCase()}</span>;
}

function cellValue(row: RunRow, c: ColumnId): string {
  if (c.kind === 'metrics') {
    const v = row.metrics.get(c.key);
    return v === undefined ? '' : formatNumber(v);
  }
  const v = c.kind === 'params' ? row.params.get(c.key) : row.tags.get(c.key);
  return v ?? '';
}

interface RowProps {
  row: RunRow;
  index: number;
  columns: readonly ColumnId[];
  selected: boolean;
  onToggle(runId: string): void;
}

// Props are compared shallowly: a row re-renders only when its run, its selection or the columns change.
const RunRowView = memo(function RunRowView({ row, index, columns, selected, onToggle }: RowProps): ReactNode {
  const { info } = row.run;
  const name = info.runName || info.runId;
  const duration = info.endTime !== undefined ? formatDuration(info.endTime - info.startTime) : info.status === 'RUNNING' ? 'running' : '–';
  const started = formatTime(info.startTime);
  return (
    <tr aria-rowindex={index + 2} className={selected ? 'selected' : undefined}>
      <td className="runs-select">
        <input type="checkbox" checked={selected} onChange={() => onToggle(info.runId)} aria-label={`Select run ${name}`} />
      </td>
      <td title={name}>
        <Link to={`/runs/${seg(info.runId)}`}>{name}</Link>
        {info.lifecycleStage === 'deleted' ? <span className="muted small"> (deleted)</span> : null}
      </td>
      <td>
        <RunStatusBadge status={info.status} />
      </td>
      <td title={started}>{started}</td>
      <td className="num">{duration}</td>
      <td title={info.userId}>{info.userId || '–'}</td>
      {columns.map((c) => {
        const v = cellValue(row, c);
        return (
          <td key={`${c.kind}.${c.key}`} className={c.kind === 'metrics' ? 'num' : undefined} title={v}>
            {v === '' ? <span className="muted">–</span> : v}
          </td>
        );
      })}
    </tr>
  );
});

function SortHeader({ label, kind, column, sort, width, num, onSort }: { label: string; kind?: string; column: ColumnId; sort: SortSpec | undefined; width: number; num?: boolean | undefined; onSort(c: ColumnId): void }): ReactNode {
  const active = sort !== undefined && sameColumn(sort.column, column);
  const direction = active ? (sort.ascending ? 'ascending' : 'descending') : undefined;
  return (
    <th scope="col" aria-sort={direction} style={{ width }} className={num ? 'num' : undefined}>
      <button type="button" className="runs-sort-button" onClick={() => onSort(column)} title={`Sort by ${label}${kind ? ` (${kind})` : ''}`}>
        {kind ? <span className="runs-col-kind">{kind} </span> : null}
        <span className="runs-col-label">{label}</span>
        <span aria-hidden="true" className="runs-sort-mark">
          {active ? (sort.ascending ? '▲' : '▼') : ''}
        </span>
      </button>
    </th>
  );
}

/** The table; the caller owns the data, the sort and the selection. */
export function RunsTable({ rows, columns, sort, onSort, selected, onToggle, hasMore, loadingMore, onNearEnd }: RunsTableProps): ReactNode {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: useCallback(() => RUN_ROW_HEIGHT, []),
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const last = items.length > 0 ? (items[items.length - 1]?.index ?? 0) : 0;
  useEffect(() => {
    if (hasMore && !loadingMore && last >= rows.length - PREFETCH_ROWS) onNearEnd();
  }, [last, rows.length, hasMore, loadingMore, onNearEnd]);

  const total = virtualizer.getTotalSize();
  const top = items.length > 0 ? (items[0]?.start ?? 0) : 0;
  const bottom = items.length > 0 ? total - (items[items.length - 1]?.end ?? 0) : 0;
  const span = 1 + ATTRIBUTE_COLUMNS.length + columns.length;
  const width = SELECT_WIDTH + ATTRIBUTE_COLUMNS.reduce((s, c) => s + c.width, 0) + columns.length * KEY_WIDTH;

  return (
    <div ref={scroller} className="runs-scroller" role="region" aria-label="Runs" tabIndex={0}>
      <table className="data runs-table" style={{ width, minWidth: '100%' }} aria-rowcount={rows.length + 1}>
        <colgroup>
          <col style={{ width: SELECT_WIDTH }} />
          {ATTRIBUTE_COLUMNS.map((c) => (
            <col key={c.id} style={{ width: c.width }} />
          ))}
          {columns.map((c) => (
            <col key={columnToken(c)} style={{ width: KEY_WIDTH }} />
          ))}
        </colgroup>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col" className="runs-select">
              <span className="visually-hidden">Selected</span>
            </th>
            {ATTRIBUTE_COLUMNS.map((c) =>
              c.sortKey ? (
                <SortHeader key={c.id} label={c.label} column={{ kind: 'attributes', key: c.sortKey }} sort={sort} width={c.width} num={c.num} onSort={onSort} />
              ) : (
                <th key={c.id} scope="col" className={c.num ? 'num' : undefined}>
                  {c.label}
                </th>
              ),
            )}
            {columns.map((c) => (
              <SortHeader key={columnToken(c)} label={c.key} kind={KIND_LABEL[c.kind] as string} column={c} sort={sort} width={KEY_WIDTH} num={c.kind === 'metrics'} onSort={onSort} />
            ))}
          </tr>
        </thead>
        <tbody>
          {top > 0 ? (
            <tr aria-hidden="true" className="runs-spacer">
              <td colSpan={span} style={{ height: top }} />
            </tr>
          ) : null}
          {items.map((item) => {
            const row = rows[item.index] as RunRow;
            return <RunRowView key={row.run.info.runId} row={row} index={item.index} columns={columns} selected={selected.has(row.run.info.runId)} onToggle={onToggle} />;
          })}
          {bottom > 0 ? (
            <tr aria-hidden="true" className="runs-spacer">
              <td colSpan={span} style={{ height: bottom }} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
