import { describe, expect, it } from 'vitest';
import { parseOrderBy, parseSearchFilter } from './search-filter-parser.js';

describe('parseSearchFilter', () => {
  it('parses the MLflow grammar: entities, quoted and dotted keys, every comparator', () => {
    expect(parseSearchFilter("metrics.m3 > 0.5 and params.p1 = 'a'")).toEqual([
      { entity: 'metric', key: 'm3', op: '>', value: 0.5, quoted: false },
      { entity: 'param', key: 'p1', op: '=', value: 'a', quoted: true },
    ]);
    expect(parseSearchFilter('metrics.`my metric` <= -1e-3 AND tags."a b" != "x"')).toEqual([
      { entity: 'metric', key: 'my metric', op: '<=', value: -0.001, quoted: false },
      { entity: 'tag', key: 'a b', op: '!=', value: 'x', quoted: true },
    ]);
    expect(parseSearchFilter("tags.mlflow.runName LIKE 'r%' and attributes.status IN ('FINISHED','FAILED') and attr.run_id NOT IN ('a')")).toEqual([
      { entity: 'tag', key: 'mlflow.runName', op: 'LIKE', value: 'r%', quoted: true },
      { entity: 'attribute', key: 'status', op: 'IN', value: ['FINISHED', 'FAILED'], quoted: true },
      { entity: 'attribute', key: 'run_id', op: 'NOT IN', value: ['a'], quoted: true },
    ]);
    expect(parseSearchFilter("metric.acc>=1 and param.x ilike '%Y%' and start_time < 5")).toEqual([
      { entity: 'metric', key: 'acc', op: '>=', value: 1, quoted: false },
      { entity: 'param', key: 'x', op: 'ILIKE', value: '%Y%', quoted: true },
      { entity: 'attribute', key: 'start_time', op: '<', value: 5, quoted: false },
    ]);
    expect(parseSearchFilter('  ')).toEqual([]);
    expect(parseSearchFilter(undefined)).toEqual([]);
  });

  it('rejects what MLflow rejects, naming the problem', () => {
    expect(() => parseSearchFilter("metrics.a > 1 or params.b = 'c'")).toThrow(/'OR' is not supported/);
    expect(() => parseSearchFilter('metrics.a >')).toThrow(/expected a value/);
    expect(() => parseSearchFilter("metrics.a = 'unterminated")).toThrow(/unterminated/);
    expect(() => parseSearchFilter("foo.bar = 'x'")).toThrow(/unknown entity type 'foo'/);
    expect(() => parseSearchFilter("params.a = 'x' params.b = 'y'")).toThrow(/expected 'AND'/);
    expect(() => parseSearchFilter("params.a IN 'x'")).toThrow(/expected '\(' after IN/);
    expect(() => parseSearchFilter("params.a NOT 'x'")).toThrow(/'NOT' must be followed by 'IN'/);
    expect(() => parseSearchFilter('= 3')).toThrow(/expected an identifier/);
    for (const bad of ['metrics.a > 1 or', 'params.a ~ 1']) expect(() => parseSearchFilter(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('parseOrderBy', () => {
  it('parses entity, key and direction', () => {
    expect(parseOrderBy('metrics.m5 DESC')).toEqual({ entity: 'metric', key: 'm5', ascending: false });
    expect(parseOrderBy('params.`learning rate`')).toEqual({ entity: 'param', key: 'learning rate', ascending: true });
    expect(parseOrderBy('start_time asc')).toEqual({ entity: 'attribute', key: 'start_time', ascending: true });
  });

  it('rejects malformed terms', () => {
    expect(() => parseOrderBy('metrics.m5 SIDEWAYS')).toThrow(/Invalid order_by clause/);
    expect(() => parseOrderBy('metrics.m5 DESC extra')).toThrow(/Invalid order_by clause/);
    expect(() => parseOrderBy("'quoted'")).toThrow(/Invalid order_by clause/);
  });
});
