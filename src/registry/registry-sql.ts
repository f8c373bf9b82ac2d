/** Filter comparisons as SQL for both backends (kept out of the service so it reads as rules). */
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { FilterClause, FilterOp } from './registry-filter.js';

type Dialect = 'sqlite' | 'postgres';

// SQLite's LIKE ignores ASCII case, while MLflow's LIKE is case-sensitive; GLOB is the
// case-sensitive matcher SQLite has, so LIKE patterns are translated to GLOB patterns.
function likeToGlob(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '%') out += '*';
    else if (ch === '_') out += '?';
    else if (ch === '*' || ch === '?' || ch === '[') out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

/** `column <op> value` for one comparison, honouring LIKE/ILIKE case rules on both backends. */
export function comparison(dialect: Dialect, column: string, op: FilterOp, value: string | number | string[]): RawBuilder<SqlBool> {
  const col = sql.ref(column);
  switch (op) {
    case 'LIKE':
      return dialect === 'sqlite' ? sql<SqlBool>`${col} GLOB ${likeToGlob(String(value))}` : sql<SqlBool>`${col} LIKE ${String(value)}`;
    case 'ILIKE':
      return dialect === 'sqlite' ? sql<SqlBool>`lower(${col}) LIKE lower(${String(value)})` : sql<SqlBool>`${col} ILIKE ${String(value)}`;
    case 'IN':
    case 'NOT IN': {
      const list = value as string[];
      return sql<SqlBool>`${col} ${sql.raw(op)} (${sql.join(list)})`;
    }
    case '!=':
      return sql<SqlBool>`${col} <> ${value as string | number}`;
    default:
      return sql<SqlBool>`${col} ${sql.raw(op)} ${value as string | number}`;
  }
}

/** A condition on a tag of the row aliased `owner` (a registered model or a model version). */
export function tagCondition(dialect: Dialect, target: 'model' | 'version', owner: string, clause: Extract<FilterClause, { kind: 'tag' }>): RawBuilder<SqlBool> {
  const cond = comparison(dialect, 't.value', clause.op, clause.value);
  // `offset 0` keeps PostgreSQL from turning each EXISTS into a semi-join: planning join
  // orders over many of them grew super-linearly (100 clauses: seconds). Each stays a
  // primary-key probe per row instead.
  const fence = dialect === 'postgres' ? sql` offset 0` : sql``;
  if (target === 'model') {
    return sql<SqlBool>`exists (select 1 from registered_model_tags t where t.name = ${sql.ref(`${owner}.name`)} and t.key = ${clause.key} and ${cond}${fence})`;
  }
  return sql<SqlBool>`exists (select 1 from model_version_tags t where t.name = ${sql.ref(`${owner}.name`)} and t.version = ${sql.ref(`${owner}.version`)} and t.key = ${clause.key} and ${cond}${fence})`;
}
