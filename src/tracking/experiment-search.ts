/**
 * search_experiments: filters and orders experiments in memory. Experiments number in
 * the hundreds or thousands, so reading them once per search is cheap and keeps one
 * implementation for both backends.
 */
import { errors } from '../core/errors.js';
import { parseOrderBy, parseSearchFilter, type SearchClause } from './search-filter-parser.js';
import type { Experiment } from './tracking-types.js';

/** Turns a SQL LIKE pattern into an anchored regular expression. */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let body = '';
  for (const ch of pattern) {
    if (ch === '%') body += '.*';
    else if (ch === '_') body += '.';
    else body += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}

function attributeValue(e: Experiment, key: string): string | number {
  switch (key) {
    case 'name':
      return e.name;
    case 'creation_time':
      return e.creationTime;
    case 'last_update_time':
      return e.lastUpdateTime;
    case 'experiment_id':
      return Number(e.experimentId);
    default:
      throw errors.invalid(`Invalid attribute key '${key}' specified. Valid keys are 'name', 'creation_time', 'last_update_time'.`);
  }
}

function matches(e: Experiment, c: SearchClause): boolean {
  let actual: string | number | undefined;
  if (c.entity === 'attribute') actual = attributeValue(e, c.key);
  else if (c.entity === 'tag') actual = e.tags.find((t) => t.key === c.key)?.value;
  else throw errors.invalid(`Invalid entity type '${c.entity}' in an experiment filter. Valid types are attributes and tags.`);
  if (actual === undefined) return false;
  if (typeof actual === 'number') {
    if (c.quoted || typeof c.value !== 'number') throw errors.invalid(`Expected numeric value type for attribute '${c.key}'. Found '${String(c.value)}'.`);
    const v = c.value;
    switch (c.op) {
      case '=': return actual === v;
      case '!=': return actual !== v;
      case '<': return actual < v;
      case '<=': return actual <= v;
      case '>': return actual > v;
      case '>=': return actual >= v;
      default: throw errors.invalid(`Invalid comparator '${c.op}' for attribute '${c.key}'.`);
    }
  }
  if (c.op === 'IN') return (c.value as string[]).includes(actual);
  if (c.op === 'NOT IN') return !(c.value as string[]).includes(actual);
  if (!c.quoted) throw errors.invalid(`Expected a quoted string value for ${c.entity} '${c.key}', got ${String(c.value)}.`);
  const v = String(c.value);
  switch (c.op) {
    case '=': return actual === v;
    case '!=': return actual !== v;
    case 'LIKE': return likeToRegExp(v, false).test(actual);
    case 'ILIKE': return likeToRegExp(v, true).test(actual);
    default: throw errors.invalid(`Invalid comparator '${c.op}' for ${c.entity} '${c.key}'. Valid comparators are =, !=, LIKE, ILIKE.`);
  }
}

/** Filters and sorts experiments as MLflow's search_experiments does. */
export function filterAndSortExperiments(all: Experiment[], filter: string | undefined, orderBy: string[] | undefined): Experiment[] {
  const clauses = parseSearchFilter(filter, 'attribute');
  const terms = (orderBy ?? []).map((t) => parseOrderBy(t, 'attribute'));
  for (const t of terms) {
    if (t.entity !== 'attribute' || !['name', 'experiment_id', 'creation_time', 'last_update_time'].includes(t.key)) {
      throw errors.invalid(`Invalid order_by entity '${t.entity === 'attribute' ? t.key : `${t.entity}.${t.key}`}'. Valid keys are name, experiment_id, creation_time, last_update_time.`);
    }
  }
  // MLflow 2.12's order: newest first by creation (a delete or rename does not move an experiment), ties by
  // id ascending; an explicit order without experiment_id breaks ties by id descending, as MLflow's stores do.
  // Every order ends on the unique id, so page tokens (offsets) walk the same sequence on both backends.
  if (terms.length === 0) terms.push({ entity: 'attribute', key: 'creation_time', ascending: false }, { entity: 'attribute', key: 'experiment_id', ascending: true });
  else if (!terms.some((t) => t.key === 'experiment_id')) terms.push({ entity: 'attribute', key: 'experiment_id', ascending: false });
  const kept = all.filter((e) => clauses.every((c) => matches(e, c)));
  return kept.sort((a, b) => {
    for (const t of terms) {
      const x = attributeValue(a, t.key);
      const y = attributeValue(b, t.key);
      if (x === y) continue;
      const cmp = x < y ? -1 : 1;
      return t.ascending ? cmp : -cmp;
    }
    return 0;
  });
}
