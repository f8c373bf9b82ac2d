/**
 * The tracking store as the experiments and runs pages read it: experiments listed and
 * fetched, runs searched a page at a time with MLflow's filter and order grammar.
 */
import type { Experiment, ExperimentPage } from '../../../src/client/schemas/experiments.js';
import type { Run, RunPage } from '../../../src/client/schemas/runs.js';
import { api, getJson, request } from './http';

/** Which lifecycle stages a list shows, as the URL spells it. */
export type LifecycleView = 'active' | 'deleted' | 'all';

/** The API's view type for a URL view. */
export function viewType(view: string): 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL' {
  return view === 'deleted' ? 'DELETED_ONLY' : view === 'all' ? 'ALL' : 'ACTIVE_ONLY';
}

/** A URL view read leniently: anything unknown is the active view. */
export function parseView(value: string): LifecycleView {
  return value === 'deleted' || value === 'all' ? value : 'active';
}

/** One page of experiments. */
export async function listExperiments(q: { filter?: string; orderBy?: string; view: LifecycleView; maxResults: number; pageToken?: string }, signal?: AbortSignal): Promise<ExperimentPage> {
  return await getJson<ExperimentPage>(
    api('experiments'),
    { filter: q.filter || undefined, orderBy: q.orderBy || undefined, view: viewType(q.view), maxResults: q.maxResults, pageToken: q.pageToken },
    signal,
  );
}

/** One experiment by id. */
export async function getExperiment(experimentId: string, signal?: AbortSignal): Promise<Experiment> {
  return await getJson<Experiment>(api('experiments', experimentId), undefined, signal);
}

/** What a run search asks for. */
export interface RunSearch {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  view: LifecycleView;
  maxResults: number;
  pageToken?: string;
}

/**
 * One page of a run search. The API takes the search as a POST body (filters can be long);
 * it changes nothing on the server, so the page may run it as it loads.
 */
export async function searchRuns(q: RunSearch, signal?: AbortSignal): Promise<RunPage> {
  const body = {
    experimentIds: q.experimentIds,
    ...(q.filter ? { filter: q.filter } : {}),
    ...(q.orderBy && q.orderBy.length > 0 ? { orderBy: q.orderBy } : {}),
    runViewType: viewType(q.view),
    maxResults: q.maxResults,
    ...(q.pageToken ? { pageToken: q.pageToken } : {}),
  };
  const res = await request('POST', api('runs', 'search'), { body, ...(signal ? { signal } : {}) });
  return (await res.json()) as RunPage;
}

/** The kind of a run column: an attribute, or a metric, param or tag key. */
export type ColumnKind = 'attributes' | 'metrics' | 'params' | 'tags';

/** A column of the runs table as the URL and the search grammar name it: `metrics.rmse`. */
export interface ColumnId {
  kind: ColumnKind;
  key: string;
}

const BARE = /^[A-Za-z0-9_.\-/:]+$/;

/** The search grammar's name of a column; keys with spaces or quotes are backticked. */
export function columnExpression(c: ColumnId): string {
  return `${c.kind}.${BARE.test(c.key) ? c.key : `\`${c.key.replace(/`/g, '')}\``}`;
}

/** Reads `metrics.rmse` (as written by columnId); undefined for anything else. */
export function parseColumnId(text: string): ColumnId | undefined {
  const dot = text.indexOf('.');
  if (dot < 0) return undefined;
  const kind = text.slice(0, dot);
  const key = text.slice(dot + 1);
  if (!key || (kind !== 'metrics' && kind !== 'params' && kind !== 'tags' && kind !== 'attributes')) return undefined;
  return { kind, key };
}

/** A column as one URL token: `metrics.rmse` (keys are kept as logged, commas encoded). */
export function columnToken(c: ColumnId): string {
  return `${c.kind}.${c.key.replace(/%/g, '%25').replace(/,/g, '%2C')}`;
}

/** The columns of a `cols` URL value: comma-separated tokens. */
export function parseColumns(value: string): ColumnId[] {
  const out: ColumnId[] = [];
  for (const part of value.split(',')) {
    if (!part) continue;
    let decoded = part;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      // A hand-edited token with a stray % is taken literally.
    }
    const c = parseColumnId(decoded);
    if (c && c.kind !== 'attributes') out.push(c);
  }
  return out;
}

/** A sort as the URL keeps it: `metrics.rmse DESC`. */
export interface SortSpec {
  column: ColumnId;
  ascending: boolean;
}

/** Reads an `order` URL value; undefined when empty or unreadable. */
export function parseSort(value: string): SortSpec | undefined {
  const m = /^(.*?)\s+(ASC|DESC)$/i.exec(value.trim());
  const column = parseColumnId(m ? (m[1] as string) : value.trim());
  if (!column) return undefined;
  return { column, ascending: m ? (m[2] as string).toUpperCase() === 'ASC' : true };
}

/** A sort as a URL value and as an order_by term. */
export function sortValue(s: SortSpec): string {
  return `${s.column.kind}.${s.column.key} ${s.ascending ? 'ASC' : 'DESC'}`;
}

/** The order_by term of a sort, keys backticked as the grammar needs. */
export function sortClause(s: SortSpec): string {
  return `${columnExpression(s.column)} ${s.ascending ? 'ASC' : 'DESC'}`;
}

/** Same column? */
export function sameColumn(a: ColumnId, b: ColumnId): boolean {
  return a.kind === b.kind && a.key === b.key;
}

/** A run's values by key, looked up once per run rather than per cell. */
export interface RunRow {
  run: Run;
  metrics: Map<string, number | string>;
  params: Map<string, string>;
  tags: Map<string, string>;
}

/** Indexes a run's metrics, params and tags for the table's cells. */
export function toRow(run: Run): RunRow {
  const metrics = new Map<string, number | string>();
  for (const m of run.data.metrics) metrics.set(m.key, m.value);
  const params = new Map<string, string>();
  for (const p of run.data.params) params.set(p.key, p.value);
  const tags = new Map<string, string>();
  for (const t of run.data.tags) tags.set(t.key, t.value);
  return { run, metrics, params, tags };
}
