/**
 * SQL for search_runs. Filters become EXISTS checks per run (each a primary-key lookup),
 * so the query can be driven by the order_by index: when the first order term is a
 * metric, param or tag, the scan walks `(key, value)` in index order and stops after
 * one page. Runs are split into segments MLflow orders separately — runs with a value,
 * runs whose metric is NaN, runs without the key — and page tokens remember the segment.
 */
import { sql, type RawBuilder } from 'kysely';
import { SlipwayError, errors } from '../core/errors.js';
import type { SearchClause, OrderTerm } from './search-filter-parser.js';

/** Which backend the SQL is for. */
export type SqlDialect = 'sqlite' | 'postgres';

const STRING_ATTRIBUTES: Record<string, string> = {
  run_id: 'run_uuid',
  run_uuid: 'run_uuid',
  run_name: 'name',
  status: 'status',
  user_id: 'user_id',
  artifact_uri: 'artifact_uri',
  lifecycle_stage: 'lifecycle_stage',
};

const NUMERIC_ATTRIBUTES: Record<string, string> = {
  start_time: 'start_time',
  end_time: 'end_time',
  created: 'start_time',
  Created: 'start_time',
};

/** Longest IN list: keeps every statement within the backends' bind-variable limits. */
const MAX_IN_VALUES = 1000;

const NUMERIC_OPS = new Set(['=', '!=', '<', '<=', '>', '>=']);
const STRING_OPS = new Set(['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN']);

/** Translates a LIKE pattern to GLOB so SQLite matches case-sensitively, as MLflow's LIKE does. */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '%') out += '*';
    else if (ch === '_') out += '?';
    else if (ch === '*' || ch === '?' || ch === '[' || ch === ']') out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

function stringCompare(column: RawBuilder<unknown>, c: SearchClause, dialect: SqlDialect): RawBuilder<unknown> {
  if (!STRING_OPS.has(c.op)) throw errors.invalid(`Invalid comparator '${c.op}' for ${c.entity} '${c.key}'. Valid comparators are ${[...STRING_OPS].join(', ')}.`);
  if (c.op === 'IN' || c.op === 'NOT IN') {
    const list = c.value as string[];
    if (list.length > MAX_IN_VALUES) throw errors.invalid(`An ${c.op} list may hold at most ${MAX_IN_VALUES} values; ${c.entity} '${c.key}' has ${list.length}.`);
    const values = sql.join(list.map((v) => sql`${v}`));
    return c.op === 'IN' ? sql`${column} in (${values})` : sql`${column} not in (${values})`;
  }
  if (!c.quoted) throw errors.invalid(`Expected a quoted string value for ${c.entity} '${c.key}', got ${String(c.value)}.`);
  const v = String(c.value);
  switch (c.op) {
    case '=':
      return sql`${column} = ${v}`;
    case '!=':
      return sql`${column} != ${v}`;
    case 'LIKE':
      return dialect === 'sqlite' ? sql`${column} glob ${likeToGlob(v)}` : sql`${column} like ${v}`;
    default:
      // SQLite's LIKE ignores ASCII case already.
      return dialect === 'sqlite' ? sql`lower(${column}) like lower(${v})` : sql`${column} ilike ${v}`;
  }
}

function numericValue(c: SearchClause): number {
  if (c.quoted || typeof c.value !== 'number') {
    throw errors.invalid(`Expected numeric value type for ${c.entity} '${c.key}'. Found '${String(c.value)}'.`);
  }
  return c.value;
}

function numericCompare(column: RawBuilder<unknown>, c: SearchClause): RawBuilder<unknown> {
  if (!NUMERIC_OPS.has(c.op)) throw errors.invalid(`Invalid comparator '${c.op}' for ${c.entity} '${c.key}'. Valid comparators are ${[...NUMERIC_OPS].join(', ')}.`);
  const v = numericValue(c);
  return sql`${column} ${sql.raw(c.op)} ${v}`;
}

/**
 * How many EXISTS clauses PostgreSQL may turn into semi-joins. Its planner weighs join
 * orders over all of them, which grew super-linearly (100 clauses: seconds to plan); past
 * these few, `offset 0` keeps each a per-run index probe, planned in constant time.
 */
const JOINABLE_CLAUSES = 4;

/** One filter clause as a condition on the run aliased `r`; `fenced` keeps PostgreSQL from turning it into a join. */
export function clauseSql(c: SearchClause, dialect: SqlDialect, fenced = false): RawBuilder<unknown> {
  const fence = fenced ? sql` offset 0` : sql``;
  switch (c.entity) {
    case 'metric': {
      if (!NUMERIC_OPS.has(c.op)) throw errors.invalid(`Invalid comparator '${c.op}' for metric '${c.key}'. Valid comparators are ${[...NUMERIC_OPS].join(', ')}.`);
      const v = numericValue(c);
      const cond = c.op === '!=' ? sql`(f.is_nan = 1 or f.value != ${v})` : sql`f.is_nan = 0 and f.value ${sql.raw(c.op)} ${v}`;
      return sql`exists (select 1 from latest_metrics f where f.run_uuid = r.run_uuid and f.key = ${c.key} and ${cond}${fence})`;
    }
    case 'param':
    case 'tag': {
      const table = sql.raw(c.entity === 'param' ? 'params' : 'tags');
      return sql`exists (select 1 from ${table} f where f.run_uuid = r.run_uuid and f.key = ${c.key} and ${stringCompare(sql`f.value`, c, dialect)}${fence})`;
    }
    case 'dataset': {
      const base = sql`from inputs i join datasets d on d.dataset_uuid = i.source_id where i.destination_type = 'RUN' and i.destination_id = r.run_uuid`;
      if (c.key === 'name' || c.key === 'digest') {
        return sql`exists (select 1 ${base} and ${stringCompare(sql.ref(`d.${c.key}`), c, dialect)}${fence})`;
      }
      if (c.key === 'context') {
        return sql`exists (select 1 ${base} and exists (select 1 from input_tags t where t.input_uuid = i.input_uuid and t.name = 'mlflow.data.context' and ${stringCompare(sql`t.value`, c, dialect)})${fence})`;
      }
      throw errors.invalid(`Invalid dataset attribute '${c.key}'. Valid attributes are name, digest, context.`);
    }
    case 'attribute': {
      const str = STRING_ATTRIBUTES[c.key];
      if (str !== undefined) return stringCompare(sql.ref(`r.${str}`), c, dialect);
      const num = NUMERIC_ATTRIBUTES[c.key];
      if (num !== undefined) return numericCompare(sql.ref(`r.${num}`), c);
      throw errors.invalid(
        `Invalid attribute key '${c.key}' specified. Valid keys are ${[...Object.keys(STRING_ATTRIBUTES), ...Object.keys(NUMERIC_ATTRIBUTES)].join(', ')}.`,
      );
    }
  }
}

/** A page request over one segment of the ordering. */
export interface SegmentQuery {
  experimentIds: number[];
  stages: string[];
  clauses: SearchClause[];
  order: OrderTerm[];
  limit: number;
  offset: number;
  /**
   * What drives the scan when the first order term is a metric, param or tag: that key's
   * index (best when the searched experiments hold many runs) or the searched runs,
   * sorted afterwards (best when they are few, however common the key is elsewhere).
   * Only SQLite needs telling; PostgreSQL's planner chooses by its statistics.
   */
  drive?: 'key' | 'runs';
  /** A condition checked first for every candidate run: the store's deadline (`withinDeadlineSql`). */
  within?: RawBuilder<unknown>;
}

function orderTermSql(t: OrderTerm): RawBuilder<unknown> {
  const dir = sql.raw(t.ascending ? 'asc' : 'desc');
  if (t.entity === 'attribute') {
    const col = STRING_ATTRIBUTES[t.key] ?? NUMERIC_ATTRIBUTES[t.key];
    if (col === undefined) throw errors.invalid(`Invalid attribute key '${t.key}' in order_by.`);
    // Runs without an end time sort last in either direction, as in MLflow.
    return sql`(${sql.ref(`r.${col}`)} is null), ${sql.ref(`r.${col}`)} ${dir}`;
  }
  if (t.entity === 'metric') {
    const rank = sql`coalesce((select x.is_nan from latest_metrics x where x.run_uuid = r.run_uuid and x.key = ${t.key}), 2)`;
    const value = sql`(select x.value from latest_metrics x where x.run_uuid = r.run_uuid and x.key = ${t.key})`;
    return sql`${rank}, ${value} ${dir}`;
  }
  if (t.entity === 'param' || t.entity === 'tag') {
    const table = sql.raw(t.entity === 'param' ? 'params' : 'tags');
    const value = sql`(select x.value from ${table} x where x.run_uuid = r.run_uuid and x.key = ${t.key})`;
    return sql`(${value} is null), ${value} ${dir}`;
  }
  throw errors.invalid(`Invalid order_by entity '${t.entity}': use metrics., params., tags. or attributes.`);
}

/** Most `order_by` terms one run search may have; each becomes a few ORDER BY terms, and SQLite refuses long lists. */
export const MAX_ORDER_TERMS = 20;

/** Validates order terms up front, so a bad order_by fails before any query runs. */
export function checkOrderTerms(order: OrderTerm[]): void {
  if (order.length > MAX_ORDER_TERMS) {
    throw new SlipwayError('LIMIT_EXCEEDED', `order_by has ${order.length} terms; a run search may order by at most ${MAX_ORDER_TERMS} terms.`, { field: 'order_by', limit: MAX_ORDER_TERMS });
  }
  for (const t of order) orderTermSql(t);
}

/** The number of segments the ordering splits into (see the module comment). */
export function segmentCount(order: OrderTerm[]): number {
  const first = order[0];
  if (!first || first.entity === 'attribute') return 1;
  return first.entity === 'metric' ? 3 : 2;
}

/** The SQL selecting one page of run ids from segment `segment`. */
export function segmentSql(q: SegmentQuery, segment: number, dialect: SqlDialect): RawBuilder<{ run_uuid: string }> {
  const filters = q.clauses.map((c, i) => clauseSql(c, dialect, dialect === 'postgres' && i >= JOINABLE_CLAUSES));
  const runConds = [
    ...(q.within ? [q.within] : []),
    sql`r.experiment_id in (${sql.join(q.experimentIds.map((id) => sql`${id}`))})`,
    sql`r.lifecycle_stage in (${sql.join(q.stages.map((s) => sql`${s}`))})`,
    ...filters,
  ];
  const tail = [sql`r.start_time desc`, sql`r.run_uuid asc`];
  const first = q.order[0];
  const drivenByKey = first !== undefined && first.entity !== 'attribute';
  const rest = (drivenByKey ? q.order.slice(1) : q.order).map(orderTermSql);
  const orderBy = sql.join([...rest, ...tail]);
  const page = sql`limit ${q.limit} offset ${q.offset}`;
  if (!drivenByKey || !first) {
    return sql<{ run_uuid: string }>`select r.run_uuid from runs r where ${sql.join(runConds, sql` and `)} order by ${orderBy} ${page}`;
  }
  const table = sql.raw(first.entity === 'metric' ? 'latest_metrics' : first.entity === 'param' ? 'params' : 'tags');
  const isMissing = (first.entity === 'metric' && segment === 2) || (first.entity !== 'metric' && segment === 1);
  if (isMissing) {
    const missing = sql`not exists (select 1 from ${table} o where o.run_uuid = r.run_uuid and o.key = ${first.key})`;
    return sql<{ run_uuid: string }>`select r.run_uuid from runs r where ${sql.join([...runConds, missing], sql` and `)} order by ${orderBy} ${page}`;
  }
  const keyConds = [sql`o.key = ${first.key}`];
  let byValue = sql`o.value ${sql.raw(first.ascending ? 'asc' : 'desc')}, `;
  if (first.entity === 'metric') {
    keyConds.push(sql`o.is_nan = ${segment === 0 ? 0 : 1}`);
    if (segment === 1) byValue = sql``;
  }
  const where = sql.join([...keyConds, ...runConds], sql` and `);
  if (dialect === 'sqlite' && q.drive === 'runs') {
    return sql<{ run_uuid: string }>`select r.run_uuid from runs r cross join ${table} o on o.run_uuid = r.run_uuid
      where ${where} order by ${byValue}${orderBy} ${page}`;
  }
  // CROSS JOIN pins the join order in SQLite, so the (key, value) index drives the scan.
  const join = dialect === 'sqlite' ? sql`cross join` : sql`join`;
  return sql<{ run_uuid: string }>`select r.run_uuid from ${table} o ${join} runs r on r.run_uuid = o.run_uuid
    where ${where} order by ${byValue}${orderBy} ${page}`;
}
