/**
 * The sampler on a text model's requests: it keeps its own copy of the texts, and bounds the
 * characters it holds between drains as well as the rows, dropping (and counting) what does not fit.
 */
import { describe, expect, it } from 'vitest';
import type { InferenceRecord } from '../../core/inference-record.js';
import { InferenceSampler } from './inference-sampler.js';

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
