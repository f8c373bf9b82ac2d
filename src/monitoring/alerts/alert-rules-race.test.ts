import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import type { Store } from '../../store/store.js';
import { createAlertRule, listAlertRules } from './alert-rules.js';

describe.each(DIALECTS)('concurrent alert rule creation on $name', (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ store, dispose } = await dialect.open());
  });
  afterAll(async () => dispose());

  it('creates the rule once and tells every other caller the name is taken', async () => {
    const input = { name: 'acc-low', model: 'bc', figure: 'accuracy', comparison: '<', threshold: 0.5, forWindows: 1 };
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => createAlertRule(store, input, { time: 1_000 })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ALREADY_EXISTS', message: "An alert rule named 'acc-low' already exists." });
    }
    expect(await listAlertRules(store)).toHaveLength(1);
  });
});
