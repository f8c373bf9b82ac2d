/**
 * The runs of a search as a virtualised table: fixed-height rows, only those in view (and a
 * few either side) in the DOM, memoised so a scroll frame renders the rows entering the view
 * and nothing else, however many runs are loaded. Headers sort on the server.
 */
import { memo, useCallback, useEffect, useRef, type CSSProperties, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { columnToken, sameColumn, type ColumnId, type RunRow, type SortSpec } from '../api/tracking';
import { formatDuration, formatNumber } from './format';
import { Link, seg } from '../router';

/** Height of every row in pixels: fixed, so positions are arithmetic and never measured. */
export const RUN_ROW_HEIGHT = 34;
/** Rows from the end of what is loaded at which the next page is asked for. */
const PREFETCH_ROWS = 60;

/** The attribute columns every table shows, in order; `sortKey` is the order_by attribute. */
const ATTRIBUTE_COLUMNS: Array<{ id: string; label: string; width: number; sortKey?: string; num?: boolean }> = [
  { id: 'name', label: 'Run name', width: 240, sortKey: 'run_name' },
  { id: 'status', label: 'Status', width: 110, sortKey: 'status' },
  { id: 'start', label: 'Started', width: 200, sortKey: 'start_time' },
  { id: 'duration', label: 'Duration', width: 100, num: true },
  { id: 'user', label: 'User', width: 130, sortKey: 'user_id' },
];
const SELECT_WIDTH = 40;
const KEY_WIDTH = 140;
const KIND_LABEL: Record<string, string> = { metrics: 'metric', params: 'param', tags: 'tag' };

// One formatter for every row: building one per call (Date#toLocaleString with options does) costs more than the rest of a row.
const START_FORMAT = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
function formatStart(ms: number): string {
  return Number.isFinite(ms) ? START_FORMAT.format(ms) : '–';
}

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
  const started = formatStart(info.startTime);
  return (
    <tr aria-rowindex={index + 2} className={selected ? 'selected' : undefined} style={{ transform: `translateY(${index * RUN_ROW_HEIGHT}px)` }}>
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

function SortHeader({ label, kind, column, sort, num, onSort }: { label: string; kind?: string; column: ColumnId; sort: SortSpec | undefined; num?: boolean | undefined; onSort(c: ColumnId): void }): ReactNode {
  const active = sort !== undefined && sameColumn(sort.column, column);
  const direction = active ? (sort.ascending ? 'ascending' : 'descending') : undefined;
  return (
    <th scope="col" aria-sort={direction} className={num ? 'num' : undefined}>
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

// The header changes with the columns and the sort only, not with each scroll frame.
const RunsTableHead = memo(function RunsTableHead({ columns, sort, onSort }: { columns: readonly ColumnId[]; sort: SortSpec | undefined; onSort(c: ColumnId): void }): ReactNode {
  return (
    <thead>
      <tr aria-rowindex={1}>
        <th scope="col" className="runs-select">
          <span className="visually-hidden">Selected</span>
        </th>
        {ATTRIBUTE_COLUMNS.map((c) =>
          c.sortKey ? (
            <SortHeader key={c.id} label={c.label} column={{ kind: 'attributes', key: c.sortKey }} sort={sort} num={c.num} onSort={onSort} />
          ) : (
            <th key={c.id} scope="col" className={c.num ? 'num' : undefined}>
              {c.label}
            </th>
          ),
        )}
        {columns.map((c) => (
          <SortHeader key={columnToken(c)} label={c.key} kind={KIND_LABEL[c.kind] as string} column={c} sort={sort} num={c.kind === 'metrics'} onSort={onSort} />
        ))}
      </tr>
    </thead>
  );
});

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
  const width = SELECT_WIDTH + ATTRIBUTE_COLUMNS.reduce((sum, c) => sum + c.width, 0) + columns.length * KEY_WIDTH;
  // Every row lays out on the same grid of fixed widths, so a row entering the view never resizes the others.
  const template = [SELECT_WIDTH, ...ATTRIBUTE_COLUMNS.map((c) => c.width), ...columns.map(() => KEY_WIDTH)].map((w) => `${w}px`).join(' ');

  return (
    <div ref={scroller} className="runs-scroller" role="region" aria-label="Runs" tabIndex={0}>
      <table className="data runs-table" style={{ width, minWidth: '100%', '--runs-cols': template } as CSSProperties} aria-rowcount={hasMore ? -1 : rows.length + 1}>
        <RunsTableHead columns={columns} sort={sort} onSort={onSort} />
        <tbody style={{ height: total }}>
          {items.map((item) => {
            const row = rows[item.index] as RunRow;
            return <RunRowView key={row.run.info.runId} row={row} index={item.index} columns={columns} selected={selected.has(row.run.info.runId)} onToggle={onToggle} />;
          })}
        </tbody>
      </table>
    </div>
  );
}
