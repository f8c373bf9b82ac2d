/**
 * The search filter grammar of MLflow's registry searches:
 *   name = 'm' and tags.team = "ml" and run_id IN ('a', 'b') and version_number >= 3
 * Comparisons joined by AND; identifiers may be back-quoted (tags.`my key`).
 * Hand-written because the grammar is a small subset of SQL that no JavaScript
 * library parses as MLflow does (MLflow itself uses sqlparse plus its own checks).
 */
import { SlipwayError, errors } from '../core/errors.js';

/** Most comparisons one filter may AND together, as for run searches; each becomes a subquery. */
export const MAX_FILTER_CLAUSES = 100;

/** Longest filter string, in characters. */
export const MAX_FILTER_LENGTH = 65_536;

/** A comparison operator of the filter grammar. */
export type FilterOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

/** One parsed comparison. */
export type FilterClause =
  | { kind: 'attribute'; key: string; op: FilterOp; value: string | number | string[] }
  | { kind: 'tag'; key: string; op: FilterOp; value: string };

/** Which keys and operators a search accepts. */
export interface FilterRules {
  /** Attribute key → the operators it accepts and whether its value is numeric. */
  attributes: Record<string, { ops: readonly FilterOp[]; numeric?: boolean }>;
  tagOps: readonly FilterOp[];
}

const STRING_OPS: readonly FilterOp[] = ['=', '!=', 'LIKE', 'ILIKE'];

/** What search_registered_models accepts. */
export const MODEL_FILTER_RULES: FilterRules = {
  attributes: { name: { ops: STRING_OPS } },
  tagOps: STRING_OPS,
};

/** What search_model_versions accepts. */
export const VERSION_FILTER_RULES: FilterRules = {
  attributes: {
    name: { ops: STRING_OPS },
    run_id: { ops: ['=', '!=', 'IN', 'NOT IN'] },
    source_path: { ops: STRING_OPS },
    version_number: { ops: ['=', '!=', '<', '<=', '>', '>='], numeric: true },
    user_id: { ops: ['=', '!='] },
  },
  tagOps: STRING_OPS,
};

type Token =
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'op'; v: string }
  | { t: 'punct'; v: '(' | ')' | ',' };

function fail(filter: string, why: string): never {
  throw errors.invalid(`Invalid filter '${filter}': ${why}.`, { field: 'filter' });
}

function tokenize(filter: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      const end = filter.indexOf(c, i + 1);
      if (end < 0) fail(filter, `unterminated string starting at position ${i}`);
      out.push({ t: 'string', v: filter.slice(i + 1, end) });
      i = end + 1;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ t: 'punct', v: c });
      i++;
    } else if ('=!<>'.includes(c)) {
      const two = filter.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=' || two === '<>') {
        out.push({ t: 'op', v: two === '<>' ? '!=' : two });
        i += 2;
      } else if (c === '!') {
        fail(filter, `unexpected '!' at position ${i}`);
      } else {
        out.push({ t: 'op', v: c === '=' && filter[i + 1] === '=' ? (i++, '=') : c });
        i++;
      }
    } else if (/[-\d]/.test(c) && /^-?\d/.test(filter.slice(i, i + 2))) {
      const m = /^-?\d+(\.\d+)?/.exec(filter.slice(i)) as RegExpExecArray;
      out.push({ t: 'number', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_`]/.test(c)) {
      // An identifier: dotted segments, each plain or back-quoted.
      let ident = '';
      while (i < filter.length) {
        if (filter[i] === '`') {
          const end = filter.indexOf('`', i + 1);
          if (end < 0) fail(filter, `unterminated back-quoted identifier at position ${i}`);
          ident += filter.slice(i + 1, end);
          i = end + 1;
        } else {
          const m = /^[A-Za-z0-9_]+/.exec(filter.slice(i));
          if (!m) break;
          ident += m[0];
          i += m[0].length;
        }
        if (filter[i] === '.') {
          ident += '.';
          i++;
        } else {
          break;
        }
      }
      out.push({ t: 'ident', v: ident });
    } else {
      fail(filter, `unexpected character '${c}' at position ${i}`);
    }
  }
  return out;
}

/** Parses a filter string into comparisons that must all hold; an empty filter matches everything. */
export function parseFilter(filter: string | undefined, rules: FilterRules): FilterClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  if (filter.length > MAX_FILTER_LENGTH) {
    throw new SlipwayError('LIMIT_EXCEEDED', `The filter is ${filter.length} characters long; a filter may be at most ${MAX_FILTER_LENGTH} characters.`, { field: 'filter', limit: MAX_FILTER_LENGTH });
  }
  const tokens = tokenize(filter);
  const clauses: FilterClause[] = [];
  let i = 0;
  const next = (): Token | undefined => tokens[i++];
  const word = (tok: Token | undefined, w: string) => tok?.t === 'ident' && tok.v.toUpperCase() === w;

  for (;;) {
    const keyTok = next();
    if (keyTok?.t !== 'ident') fail(filter, 'expected a key such as name or tags.<key>');
    const opTok = next();
    let op: FilterOp;
    if (opTok?.t === 'op') op = opTok.v as FilterOp;
    else if (word(opTok, 'LIKE')) op = 'LIKE';
    else if (word(opTok, 'ILIKE')) op = 'ILIKE';
    else if (word(opTok, 'IN')) op = 'IN';
    else if (word(opTok, 'NOT') && word(tokens[i], 'IN')) {
      i++;
      op = 'NOT IN';
    } else fail(filter, `expected a comparison operator after '${keyTok.v}'`);

    let value: string | number | string[];
    if (op === 'IN' || op === 'NOT IN') {
      const open = next();
      if (open?.t !== 'punct' || open.v !== '(') fail(filter, `expected '(' after ${op}`);
      const list: string[] = [];
      for (;;) {
        const v = next();
        if (v?.t !== 'string') fail(filter, `${op} takes a list of quoted strings`);
        list.push(v.v);
        const sep = next();
        if (sep?.t === 'punct' && sep.v === ')') break;
        if (sep?.t !== 'punct' || sep.v !== ',') fail(filter, `expected ',' or ')' in the ${op} list`);
      }
      value = list;
    } else {
      const v = next();
      if (v?.t === 'string' || v?.t === 'number') value = v.v;
      else fail(filter, `expected a value after '${keyTok.v} ${op}'`);
    }
    clauses.push(toClause(filter, keyTok.v, op, value, rules));

    const sep = next();
    if (sep === undefined) break;
    if (!word(sep, 'AND')) fail(filter, `expected AND between comparisons, got '${String(sep.v)}' (OR is not supported)`);
    if (clauses.length === MAX_FILTER_CLAUSES) {
      throw new SlipwayError('LIMIT_EXCEEDED', `The filter has more than ${MAX_FILTER_CLAUSES} clauses; a filter may AND together at most ${MAX_FILTER_CLAUSES} clauses.`, { field: 'filter', limit: MAX_FILTER_CLAUSES });
    }
  }
  return clauses;
}

function toClause(filter: string, rawKey: string, op: FilterOp, value: string | number | string[], rules: FilterRules): FilterClause {
  const tag = /^tags?\.(.+)$/i.exec(rawKey);
  if (tag) {
    if (!rules.tagOps.includes(op)) fail(filter, `tags support ${rules.tagOps.join(', ')}, not ${op}`);
    if (typeof value !== 'string') fail(filter, `the value for tag '${tag[1]}' must be a quoted string`);
    return { kind: 'tag', key: tag[1] as string, op, value };
  }
  const key = rawKey.replace(/^attributes?\./i, '');
  const rule = rules.attributes[key];
  if (!rule) fail(filter, `unknown key '${rawKey}'; use ${[...Object.keys(rules.attributes), 'tags.<key>'].join(', ')}`);
  if (!rule.ops.includes(op)) fail(filter, `'${key}' supports ${rule.ops.join(', ')}, not ${op}`);
  if (rule.numeric) {
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) fail(filter, `'${key}' must be compared with an integer`);
    return { kind: 'attribute', key, op, value: n };
  }
  if (typeof value === 'number') fail(filter, `the value for '${key}' must be a quoted string`);
  return { kind: 'attribute', key, op, value };
}

/** One parsed `order_by` entry. */
export interface OrderTerm {
  key: string;
  ascending: boolean;
}

/**
 * Parses `order_by` entries like `name ASC` or `last_updated_timestamp DESC`;
 * `aliases` maps accepted spellings to canonical keys.
 */
export function parseOrderBy(orderBy: readonly string[] | undefined, aliases: Record<string, string>): OrderTerm[] {
  const out: OrderTerm[] = [];
  for (const entry of orderBy ?? []) {
    if (typeof entry !== 'string') throw errors.invalid('order_by entries must be strings.', { field: 'order_by' });
    const m = /^\s*(?:attributes?\.)?`?([A-Za-z_]+)`?\s*(ASC|DESC)?\s*$/i.exec(entry);
    const key = m ? aliases[(m[1] as string).toLowerCase()] : undefined;
    if (!m || !key) {
      throw errors.invalid(`Invalid order_by clause '${entry}': order by ${[...new Set(Object.keys(aliases))].join(', ')} with an optional ASC or DESC.`, { field: 'order_by' });
    }
    out.push({ key, ascending: (m[2] ?? 'ASC').toUpperCase() === 'ASC' });
  }
  return out;
}
