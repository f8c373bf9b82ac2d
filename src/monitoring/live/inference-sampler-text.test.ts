/**
 * The sampler on a text model's requests: it keeps its own copy of the texts, and bounds the
 * characters it holds between drains as well as the rows, dropping (and counting) what does not fit.
 * The live monitor folding them: a text the tokenizer cannot take is left out, the rest is counted.
 */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import type { InferenceRecord } from '../../core/inference-record.js';
import { silentLogger } from '../../core/logger.js';
import { InferenceSampler } from './inference-sampler.js';
import { LiveMonitor } from './live-monitor.js';
import { listWindows } from './window-repository.js';

const tokenizer = { unknownId: undefined, contentIds: (t: string) => t.split(' ').map((w) => w.length) };
const request = (id: string, values: string[]): InferenceRecord => ({ model: 'reviews', version: '1', requestId: id, time: 5_000, latencyMs: 1, rows: values.length, texts: { input: 'text', values, tokenizer } });

describe('sampling text requests', () => {
  it('copies the texts and drops requests past the character bound, counting their rows', () => {
    const sampler = new InferenceSampler({ maxBufferedTextChars: 100 });
    const sent = ['a'.repeat(30), 'b'.repeat(30)];
    sampler.observe(request('r1', sent));
    sent[0] = 'changed after the answer';
    sampler.observe(request('r2', ['c'.repeat(30), 'd'.repeat(30)]));
    const { records, counts } = sampler.drain();
    expect(records.map((r) => r.requestId)).toEqual(['r1']);
    expect(records[0]?.texts?.values).toEqual(['a'.repeat(30), 'b'.repeat(30)]);
    expect(counts.droppedRows.get('reviews\u00001\u00000')).toBe(2);
    // A drain frees the room.
    sampler.observe(request('r3', ['e'.repeat(90)]));
    expect(sampler.drain().records.map((r) => r.requestId)).toEqual(['r3']);
  });
});

describe('folding text requests into windows', () => {
  it('leaves out a text the tokenizer throws on and counts the rest of the drain', async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const { store, dispose } = await sqlite.open();
    try {
      const monitor = new LiveMonitor(store, { now: () => 70_000 }, silentLogger, { windowMs: 60_000, keepPredictions: false });
      // As a Unigram tokenizer on a 300 KB word: it overflows its stack.
      const fragile = {
        unknownId: undefined,
        contentIds: (t: string): number[] => {
          if (t === 'boom') throw new RangeError('Maximum call stack size exceeded');
          return t.split(' ').map((w) => w.length);
        },
      };
      monitor.sampler.observe({ ...request('r1', ['fine food', 'boom', 'good']), texts: { input: 'text', values: ['fine food', 'boom', 'good'], tokenizer: fragile } });
      monitor.sampler.observe({ ...request('r2', ['slow service']), texts: { input: 'text', values: ['slow service'], tokenizer: fragile } });
      await monitor.flush(true);
      const [w] = await listWindows(store, 'reviews', { withProfiles: true });
      expect(w?.rows).toBe(4);
      expect(w?.profile?.texts.get('text')?.toJSON()).toMatchObject({ rows: 3, texts: 3, tokens: 5 });
      expect(w?.figures['text_oov_rate:text']).toBe(0);
    } finally {
      await dispose();
    }
  });
});
