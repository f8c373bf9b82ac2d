#!/usr/bin/env node
/** prepare: splits data/cancer.csv into data/train.csv and data/test.csv, the same way every time for the same seed. */
import { labelIndex, readCsv, readParams, writeCsv } from './lib.mjs';

const params = readParams('prepare');
const table = readCsv('data/cancer.csv');
labelIndex(table.header, 'target', 'data/cancer.csv');

// A seeded generator (mulberry32) makes the shuffle, and so the split, reproducible.
let state = params.seed >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const rows = [...table.rows];
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [rows[i], rows[j]] = [rows[j], rows[i]];
}
const testCount = Math.round(rows.length * params.test_share);
writeCsv('data/test.csv', table.header, rows.slice(0, testCount));
writeCsv('data/train.csv', table.header, rows.slice(testCount));
console.log(`split ${rows.length} rows: ${rows.length - testCount} to data/train.csv, ${testCount} to data/test.csv`);
