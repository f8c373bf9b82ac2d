import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import type { Store } from '../../store/store.js';
import { parseGroundTruth, recordGroundTruth, savePredictions } from './performance-repository.js';

describe.each(DIALECTS)('ground truth against odd request ids on $name', (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ store, dispose } = await dialect.open());
  });
  afterAll(async () => dispose());

  const prediction = (requestId: string) => ({ requestId, model: 'bc', version: '1', time: 1_000, windowStart: 0, outputs: [0.9, 0.1], outputWidth: 1 });

  it('keeps the other predictions of a flush when one request id holds a NUL', async () => {
    await savePredictions(store, [prediction('a\u0000b'), prediction('ok-1'), prediction('ok-2')]);
    const res = await recordGroundTruth(store, 'bc', [{ requestId: 'ok-1', labels: [1, 0] }, { requestId: 'ok-2', labels: [1, 1] }], { time: 2_000 });
    expect(res).toEqual({ accepted: 2, unknown: [] });
  });

  it('refuses one request labelled twice in a batch, naming it', () => {
    expect(() => parseGroundTruth({ labels: [{ requestId: 'r1', label: 1 }, { requestId: 'r2', label: 0 }, { requestId: 'r1', label: 0 }] })).toThrow("labels[2].requestId 'r1' appears more than once in this request.");
  });
});
