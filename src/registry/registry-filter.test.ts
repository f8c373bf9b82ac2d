import { describe, expect, it } from 'vitest';
import { MODEL_FILTER_RULES, VERSION_FILTER_RULES, parseFilter, parseOrderBy } from './registry-filter.js';

describe('registry search filters', () => {
  it('parses comparisons joined by AND, with quoted values and back-quoted tag keys', () => {
    expect(parseFilter(`name LIKE 'fraud%' AND tags.\`my key\` = "a b" and tag.team != 'x'`, MODEL_FILTER_RULES)).toEqual([
      { kind: 'attribute', key: 'name', op: 'LIKE', value: 'fraud%' },
      { kind: 'tag', key: 'my key', op: '=', value: 'a b' },
      { kind: 'tag', key: 'team', op: '!=', value: 'x' },
    ]);
    expect(parseFilter("run_id IN ('a','b') and version_number >= 2 and source_path ILIKE '%model'", VERSION_FILTER_RULES)).toEqual([
      { kind: 'attribute', key: 'run_id', op: 'IN', value: ['a', 'b'] },
      { kind: 'attribute', key: 'version_number', op: '>=', value: 2 },
      { kind: 'attribute', key: 'source_path', op: 'ILIKE', value: '%model' },
    ]);
    expect(parseFilter('  ', MODEL_FILTER_RULES)).toEqual([]);
  });

  it.each([
    ["name = 'a' OR name = 'b'", /OR is not supported/],
    ["name = 'a", /unterminated string/],
    ["owner = 'x'", /unknown key 'owner'/],
    ["name > 'a'", /'name' supports =, !=, LIKE, ILIKE, not >/],
    ['name = 3', /must be a quoted string/],
    ["name 'a'", /expected a comparison operator/],
    ['name =', /expected a value/],
    ["run_id IN 'a'", /expected '\(' after IN/],
  ])('rejects %s with a message naming the problem', (filter, message) => {
    const rules = filter.startsWith('run_id') ? VERSION_FILTER_RULES : MODEL_FILTER_RULES;
    expect(() => parseFilter(filter, rules)).toThrow(message);
  });

  it('parses order_by entries and rejects unknown keys', () => {
    expect(parseOrderBy(['name DESC', 'timestamp'], { name: 'n', timestamp: 't' })).toEqual([
      { key: 'n', ascending: false },
      { key: 't', ascending: true },
    ]);
    expect(() => parseOrderBy(['size'], { name: 'n' })).toThrow(/Invalid order_by clause 'size'/);
  });
});
