import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openStore } from '../../store/store.js';
import { DatasetProfile } from '../profile/dataset-profile.js';
import { ColumnProfile } from '../profile/column-profile.js';
import { listWindows, mergeIntoStored } from './window-repository.js';

function part(value: number): DatasetProfile {
  const col = new ColumnProfile('x', 'numerical', { exactLimit: 0 });
  col.addNumbers(new Float64Array([value]));
  const p = new DatasetProfile(1, new Map([['x', col]]));
  return p;
}

for (const dialect of DIALECTS) {
  describe(`window parts from several replicas (${dialect.name})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('parts of one window written at the same time by two processes all count', async () => {
      const { store, uri, dispose } = await dialect.open();
      cleanups.push(dispose);
      const other = await openStore(uri);
      cleanups.push(() => other.close());
      const write = (s: typeof store, value: number) =>
        mergeIntoStored(s, { model: 'm', version: '1', windowStart: 60_000, windowEnd: 120_000, rows: 1, requests: 1, droppedRows: 0, profile: part(value) }, (w) => ({ rows: w.rows }), Date.now());
      await Promise.all(Array.from({ length: 40 }, (_, i) => write(i % 2 === 0 ? store : other, i)));
      const [w] = await listWindows(store, 'm', { withProfiles: true });
      expect(w?.rows).toBe(40);
      expect(w?.requests).toBe(40);
      expect(w?.figures.rows).toBe(40);
      expect(w?.profile?.columns.get('x')?.rows).toBe(40);
    });
  });
}
