/**
 * Parser for MLflow's search grammar: `filter` strings such as
 * "metrics.rmse < 1 and params.`model type` = 'tree' and tags.mlflow.user IN ('a','b')"
 * and `order_by` terms such as "metrics.m5 DESC". MLflow parses these with sqlparse plus
 * its own rules; no JavaScript library speaks this exact grammar, so it is hand-written:
 * a tokenizer and a recursive-descent parser over `clause (AND clause)*`.
 */
import { SlipwayError, errors } from '../core/errors.js';

/**
 * Most clauses one filter may AND together. Each clause becomes a subquery, and the
 * databases' expression-depth and planning limits sit not far above; real filters use a handful.
 */
export const MAX_FILTER_CLAUSES = 100;

/** Longest filter string, in characters: room for IN lists of a thousand run ids. */
export const MAX_FILTER_LENGTH = 65_536;

/** What a clause or order term refers to. */
export type SearchEntity = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

/** A comparison operator, upper-cased. */
export type SearchOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

/** One `entity.key OP value` clause. */
export interface SearchClause {
  entity: SearchEntity;
  key: string;
  op: SearchOperator;
  /** A string, a number, or a list for IN / NOT IN. */
  value: string | number | string[];
  /** Whether the value was written as a quoted string. */
  quoted: boolean;
}

/** One order_by term. */
export interface OrderTerm {
  entity: SearchEntity;
  key: string;
  ascending: boolean;
}

const ENTITY_PREFIXES: Record<string, SearchEntity> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};

type Token =
  | { kind: 'ident'; entity: SearchEntity; key: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; text: string; pos: number }
  | { kind: 'op'; value: SearchOperator; pos: number }
  | { kind: 'and' | 'lparen' | 'rparen' | 'comma' | 'asc' | 'desc'; pos: number };

function invalid(text: string, why: string): Error {
  return errors.invalid(`Invalid filter '${text}': ${why}`);
}

function readQuoted(text: string, start: number, quote: string): { value: string; end: number } {
  const close = text.indexOf(quote, start + 1);
  if (close < 0) throw invalid(text, `unterminated ${quote} quote at position ${start}.`);
  return { value: text.slice(start + 1, close), end: close + 1 };
}

const BARE_KEY = /[^\s=!<>(),'"`]+/y;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;

function tokenize(text: string, defaultEntity: SearchEntity): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === '(') { tokens.push({ kind: 'lparen', pos }); i++; continue; }
    if (c === ')') { tokens.push({ kind: 'rparen', pos }); i++; continue; }
    if (c === ',') { tokens.push({ kind: 'comma', pos }); i++; continue; }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<=' || two === '>=' || two === '<>') {
      tokens.push({ kind: 'op', value: two === '<>' ? '!=' : two, pos });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      tokens.push({ kind: 'op', value: c, pos });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const q = readQuoted(text, i, c);
      tokens.push({ kind: 'string', value: q.value, pos });
      i = q.end;
      continue;
    }
    if (c === '`') {
      // A backticked identifier without an entity prefix names an attribute.
      const q = readQuoted(text, i, '`');
      tokens.push({ kind: 'ident', entity: defaultEntity, key: q.value, pos });
      i = q.end;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(text);
    if (num && (/[\d.+-]/.test(c))) {
      tokens.push({ kind: 'number', value: Number(num[0]), text: num[0], pos });
      i += num[0].length;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(text);
    if (!word) throw invalid(text, `unexpected character '${c}' at position ${i}.`);
    const w = word[0];
    const upper = w.toUpperCase();
    i += w.length;
    if (text[i] === '.' && ENTITY_PREFIXES[w.toLowerCase()] !== undefined) {
      const entity = ENTITY_PREFIXES[w.toLowerCase()] as SearchEntity;
      i++;
      const q = text[i];
      if (q === '`' || q === '"') {
        const quoted = readQuoted(text, i, q);
        tokens.push({ kind: 'ident', entity, key: quoted.value, pos });
        i = quoted.end;
      } else {
        BARE_KEY.lastIndex = i;
        const key = BARE_KEY.exec(text);
        if (!key) throw invalid(text, `expected a key after '${w}.' at position ${i}.`);
        tokens.push({ kind: 'ident', entity, key: key[0], pos });
        i += key[0].length;
      }
      continue;
    }
    if (upper === 'AND') tokens.push({ kind: 'and', pos });
    else if (upper === 'LIKE' || upper === 'ILIKE' || upper === 'IN') tokens.push({ kind: 'op', value: upper, pos });
    else if (upper === 'NOT') {
      const rest = /^\s+IN\b/i.exec(text.slice(i));
      if (!rest) throw invalid(text, `'NOT' must be followed by 'IN' (position ${pos}).`);
      i += rest[0].length;
      tokens.push({ kind: 'op', value: 'NOT IN', pos });
    } else if (upper === 'OR') throw invalid(text, `'OR' is not supported; only 'AND' joins clauses.`);
    else if (upper === 'ASC') tokens.push({ kind: 'asc', pos });
    else if (upper === 'DESC') tokens.push({ kind: 'desc', pos });
    else {
      // A bare identifier (`name`, `start_time`) names an attribute; an unknown prefix is an error.
      if (text[i] === '.') {
        BARE_KEY.lastIndex = i;
        const more = BARE_KEY.exec(text);
        throw invalid(text, `unknown entity type '${w}' in '${w}${more?.[0] ?? ''}'; expected metrics., params., tags., attributes. or datasets.`);
      }
      tokens.push({ kind: 'ident', entity: defaultEntity, key: w, pos });
    }
  }
  return tokens;
}

/** Parses a filter string into AND-ed clauses; an empty or blank filter yields []. */
export function parseSearchFilter(filter: string | undefined, defaultEntity: SearchEntity = 'attribute'): SearchClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  if (filter.length > MAX_FILTER_LENGTH) {
    throw new SlipwayError('LIMIT_EXCEEDED', `The filter is ${filter.length} characters long; a filter may be at most ${MAX_FILTER_LENGTH} characters.`, { field: 'filter', limit: MAX_FILTER_LENGTH });
  }
  const tokens = tokenize(filter, defaultEntity);
  const clauses: SearchClause[] = [];
  let i = 0;
  const next = (): Token | undefined => tokens[i++];
  for (;;) {
    const ident = next();
    if (!ident || ident.kind !== 'ident') throw invalid(filter, `expected an identifier such as metrics.<key>${ident ? ` at position ${ident.pos}` : ' at the end'}.`);
    const op = next();
    if (!op || op.kind !== 'op') throw invalid(filter, `expected a comparison operator after '${ident.key}'.`);
    if (op.value === 'IN' || op.value === 'NOT IN') {
      if (next()?.kind !== 'lparen') throw invalid(filter, `expected '(' after ${op.value}.`);
      const list: string[] = [];
      for (;;) {
        const v = next();
        if (!v || (v.kind !== 'string' && v.kind !== 'number')) throw invalid(filter, `expected a quoted value in the ${op.value} list.`);
        list.push(v.kind === 'string' ? v.value : v.text);
        const sep = next();
        if (sep?.kind === 'rparen') break;
        if (sep?.kind !== 'comma') throw invalid(filter, `expected ',' or ')' in the ${op.value} list.`);
      }
      clauses.push({ entity: ident.entity, key: ident.key, op: op.value, value: list, quoted: true });
    } else {
      const v = next();
      if (!v || (v.kind !== 'string' && v.kind !== 'number')) throw invalid(filter, `expected a value after '${ident.key} ${op.value}'.`);
      clauses.push({ entity: ident.entity, key: ident.key, op: op.value, value: v.value, quoted: v.kind === 'string' });
    }
    const sep = next();
    if (sep === undefined) break;
    if (sep.kind !== 'and') throw invalid(filter, `expected 'AND' at position ${sep.pos}.`);
    if (clauses.length === MAX_FILTER_CLAUSES) {
      throw new SlipwayError('LIMIT_EXCEEDED', `The filter has more than ${MAX_FILTER_CLAUSES} clauses; a filter may AND together at most ${MAX_FILTER_CLAUSES} clauses.`, { field: 'filter', limit: MAX_FILTER_CLAUSES });
    }
  }
  return clauses;
}

/** Parses one order_by term such as "metrics.rmse DESC" or "name". */
export function parseOrderBy(term: string, defaultEntity: SearchEntity = 'attribute'): OrderTerm {
  const fail = (): Error => errors.invalid(`Invalid order_by clause '${term}'. Expected '<entity>.<key> [ASC|DESC]', e.g. 'metrics.rmse DESC'.`);
  let tokens: Token[];
  try {
    tokens = tokenize(term, defaultEntity);
  } catch {
    throw fail();
  }
  const [ident, dir, extra] = tokens;
  if (!ident || ident.kind !== 'ident' || extra) throw fail();
  if (dir && dir.kind !== 'asc' && dir.kind !== 'desc') throw fail();
  return { entity: ident.entity, key: ident.key, ascending: dir?.kind !== 'desc' };
}
