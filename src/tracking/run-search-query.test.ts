import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { DIALECTS } from '../../test/support/dialects.js';
import { segmentSql, likeToGlob } from './run-search-query.js';
import { parseOrderBy, parseSearchFilter } from './search-filter-parser.js';

describe('search_runs SQL on SQLite', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    ({ store, dispose } = await sqlite.open());
  });
  afterAll(async () => dispose());

  function plan(filter: string, orderBy: string, segment = 0, drive: 'key' | 'runs' = 'key'): string[] {
    const q = segmentSql(
      { experimentIds: [0], stages: ['active'], clauses: parseSearchFilter(filter), order: [parseOrderBy(orderBy)], limit: 101, offset: 0, drive },
      segment,
      'sqlite',
    ).compile(store.db);
    const rows = store.sqlite?.prepare(`explain query plan ${q.sql}`).all(...q.parameters) as Array<{ detail: string }>;
    return rows.map((r) => r.detail);
  }

  // The speed of a filtered, ordered search over 100k runs rests on this plan: the order key's
  // covering index drives the scan (no full sort), and each filter is a primary-key lookup.
  it('drives a metric-ordered search from the covering (key, is_nan, value) index', () => {
    const steps = plan("metrics.m3 > 0.5 and params.p1 = 'a'", 'metrics.m5 DESC');
    expect(steps[0]).toBe('SEARCH o USING COVERING INDEX latest_metrics_key_order (key=? AND is_nan=?)');
    expect(steps).toContain('SEARCH r USING INDEX sqlite_autoindex_runs_1 (run_uuid=?)');
    expect(steps.some((s) => /^SCAN/.test(s))).toBe(false);
    expect(steps).not.toContain('USE TEMP B-TREE FOR ORDER BY');
  });

  it('drives a param-ordered search from the (key, value, run_uuid) index', () => {
    const steps = plan("tags.team = 'x'", 'params.p1 ASC');
    expect(steps[0]).toBe('SEARCH o USING COVERING INDEX params_key_value_run (key=?)');
    expect(steps).not.toContain('USE TEMP B-TREE FOR ORDER BY');
  });

  it('scans the searched runs first when told they are few', () => {
    const steps = plan("metrics.m3 > 0.5", 'metrics.m5 DESC', 0, 'runs');
    expect(steps[0]).toMatch(/^SEARCH r USING INDEX runs_experiment_start \(experiment_id=\?\)/);
    expect(steps.some((step) => /^SEARCH o USING (COVERING )?INDEX/.test(step))).toBe(true);
  });

  it('translates LIKE to a case-sensitive GLOB, escaping GLOB wildcards', () => {
    expect(likeToGlob('a%b_c*[d]?')).toBe('a*b?c[*][[]d[]][?]');
  });
});
