/**
 * `slipway explain` against a real server on 127.0.0.1: rows from CSV and JSON files, the
 * table and the JSON output, and the exit codes of bad usage (2) and missing reference data (1).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { FileModelSource, fixture, holdout, readCsv } from '../../../test/support/serving.js';
import { SlipwayClient } from '../../client/slipway-client.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { attachReference, profileTable, readTable } from '../../monitoring/index.js';
import { buildApp } from '../../server/app.js';
import { openInProcessApi } from '../../server/in-process-api.js';
import type { ServerContext } from '../../server/context.js';
import { buildProgram } from '../main.js';
import { runAction } from '../output.js';
import { explainCommand, type ExplainFlags } from './explain.js';

describe('slipway explain', () => {
  let app: FastifyInstance;
  let ctx: ServerContext;
  let url: string;
  let home: string;
  let close: () => Promise<void>;
  const diabetes = holdout('diabetes');

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    home = mkdtempSync(join(tmpdir(), 'slipway-explain-cli-'));
    const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('diabetes_forest.onnx')) }, {}, home);
    const source = new FileModelSource().add('diabetes', '1', fixture('diabetes_forest.onnx')).add('bare', '2', fixture('diabetes_forest.onnx')).add('reviews', '1', fixture('text/transformer/model.onnx')).add('bow', '1', fixture('text/bow_classifier.onnx'));
    source.columns = diabetes.columns;
    source.setAlias('diabetes', 'champion', '1');
    source.setAlias('bare', 'champion', '2');
    source.setAlias('reviews', 'champion', '1');
    source.setAlias('bow', 'champion', '1');
    ctx = { config, store: opened.store, logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [], modelSource: source };
    app = await buildApp(ctx);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    await attachReference(opened.store, 'diabetes', '1', profileTable(await readTable(fixture('diabetes_train.csv'))), 'train', { time: Date.now() });
    close = async () => {
      for (const hook of ctx.onClose) await hook();
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  /** Runs the command as the CLI does (errors to stderr, an exit code); returns what it printed. */
  async function explain(model: string, flags: Omit<ExplainFlags, 'server'>): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    const before = process.exitCode;
    await runAction(() => explainCommand(model, { ...flags, server: url }, io), io)();
    const code = Number(process.exitCode ?? 0);
    process.exitCode = before;
    return { code, out, err };
  }

  it('explains the rows of a CSV (model columns picked by name) as a table of attributions', async () => {
    const res = await explain('diabetes', { input: csvOf(3) });
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('model diabetes version 1: exact Shapley values, against 100 background rows');
    expect(res.out.match(/^row \d+: prediction/gm)).toHaveLength(3);
    expect(res.out).toMatch(/FEATURE\s+ATTRIBUTION/);
    for (const c of diabetes.columns) expect(res.out).toContain(c);
  });

  it('prints JSON whose attributions add up to prediction - baseline, for rows given as JSON objects and a models:/ URI', async () => {
    const file = join(home, 'rows.json');
    writeFileSync(file, JSON.stringify(diabetes.rows.slice(0, 2).map((r) => Object.fromEntries(diabetes.columns.map((c, j) => [c, r[j]])))));
    const res = await explain('models:/diabetes/1', { input: file, json: true, backgroundSize: 50 });
    expect(res.code).toBe(0);
    const e = JSON.parse(res.out) as { method: string; background_size: number; baseline: number; explanations: Array<{ prediction: number; attributions: Array<{ value: number }> }> };
    expect(e).toMatchObject({ method: 'exact', background_size: 50 });
    for (const row of e.explanations) expect(Math.abs(row.attributions.reduce((s, a) => s + a.value, 0) - (row.prediction - e.baseline))).toBeLessThan(1e-6);
  });

  it('exits 2 with a clear message for bad usage and bad rows, 1 when the model has no reference data', async () => {
    const noInput = await explain('diabetes', {});
    expect(noInput).toMatchObject({ code: 2, err: expect.stringContaining('--input FILE') });
    const badModel = await explain('a/b', { input: csvOf(1) });
    expect(badModel).toMatchObject({ code: 2, err: expect.stringContaining("MODEL must be a served model's name") });
    const text = join(home, 'text.csv');
    writeFileSync(text, `${diabetes.columns.join(',')}\n${diabetes.rows[0]?.slice(0, 2).join(',')},lots,${diabetes.rows[0]?.slice(3).join(',')}\n`);
    const nonNumeric = await explain('diabetes', { input: text });
    expect(nonNumeric).toMatchObject({ code: 2, err: expect.stringMatching(/row 1, column 'bmi': "lots" is not a number/) });
    const narrow = join(home, 'narrow.csv');
    writeFileSync(narrow, 'age,sex\n1,2\n');
    expect(await explain('diabetes', { input: narrow })).toMatchObject({ code: 2, err: expect.stringMatching(/lacks the model's columns 'bmi'/) });
    const badClass = await explain('diabetes', { input: csvOf(1), class: '4' });
    expect(badClass).toMatchObject({ code: 2, err: expect.stringContaining('Unknown class 4') });
    const bare = await explain('bare', { input: csvOf(1) });
    expect(bare).toMatchObject({ code: 1, err: expect.stringContaining('slipway monitor reference set models:/bare/2') });
    const ghost = await explain('ghost', { input: csvOf(1) });
    expect(ghost.code).toBe(1);
  });

  it('prints the tokens of a text model\'s reviews from a CSV text column with their place and attribution, the planted word first', async () => {
    const file = join(home, 'reviews.csv');
    writeFileSync(file, 'id,text\n1,"The staff was very rude"\n2,"Great café, loved it 😀"\n');
    const res = await explain('reviews', { input: file, class: 'negative' });
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('model reviews version 1: occlusion, each token removed in turn');
    expect(res.out).toContain('do not add up to prediction - baseline');
    expect(res.out).toMatch(/row 1: prediction [\d.]+, 5 tokens/);
    expect(res.out).toMatch(/TOKEN\s+AT\s+ATTRIBUTION/);
    expect(res.out).toMatch(/^rude\s+19-23\s/m);
    const json = await explain('reviews', { input: file, class: 'negative', json: true });
    const e = JSON.parse(json.out) as { method: string; explanations: Array<{ attributions: Array<{ feature: string; value: number }> }> };
    expect(e.method).toBe('occlusion');
    const first = [...(e.explanations[0]?.attributions ?? [])].sort((a, b) => b.value - a.value)[0];
    expect(first?.feature).toBe('rude');
  });

  it('reads texts from a JSON list for a string-input graph, and exits 2 for numbers or an empty text where text is expected', async () => {
    const file = join(home, 'texts.json');
    writeFileSync(file, JSON.stringify([{ text: 'the menu was so bland' }]));
    const res = await explain('bow', { input: file, class: '0', json: true });
    expect(res.code).toBe(0);
    const e = JSON.parse(res.out) as { explanations: Array<{ attributions: Array<{ feature: string; start: number; end: number }> }> };
    expect(e.explanations[0]?.attributions.map((a) => a.feature)).toEqual(['the', 'menu', 'was', 'so', 'bland']);
    const numbers = join(home, 'numbers.json');
    writeFileSync(numbers, JSON.stringify([3, 4]));
    expect(await explain('bow', { input: numbers, class: '0' })).toMatchObject({ code: 2, err: expect.stringContaining("row 1: the model reads text ('text'), got 3") });
    const empty = join(home, 'empty.csv');
    writeFileSync(empty, 'text\nfine food\n""\n');
    expect(await explain('reviews', { input: empty, class: '0' })).toMatchObject({ code: 2, err: expect.stringContaining("Input 'text' element 1 is empty") });
  });

  it('serves the embedded store\'s registered model in its own process when no server is named', async () => {
    const embeddedHome = mkdtempSync(join(tmpdir(), 'slipway-explain-embedded-'));
    vi.stubEnv('SLIPWAY_HOME', embeddedHome);
    for (const name of ['SLIPWAY_SERVER', 'MLFLOW_TRACKING_URI', 'SLIPWAY_BACKEND_STORE_URI']) vi.stubEnv(name, undefined);
    try {
      // Register the forest with its columns and attach its reference, as `slipway models register` and `monitor reference set` do.
      const { pino } = await import('pino');
      const api = await openInProcessApi(resolveConfig(), { logger: pino({ level: 'silent' }), plugins: ['native-api', 'monitoring'] });
      try {
        const client = new SlipwayClient({ url: api.url, fetch: api.fetch });
        const stored = await client.artifacts.put('models/forest/diabetes_forest.onnx', new Uint8Array(readFileSync(fixture('diabetes_forest.onnx'))));
        await client.models.create({ name: 'forest' });
        const v = await client.models.createVersion('forest', { source: stored.uri, tags: { 'slipway.columns': JSON.stringify(diabetes.columns) } });
        await client.models.setAlias('forest', 'champion', v.version);
        const rows = readCsv('diabetes_train.csv').rows.map((r) => Object.fromEntries(diabetes.columns.map((c, j) => [c, r[j]])));
        const res = await api.fetch(`${api.url}/api/v1/monitoring/models/forest/versions/${v.version}/reference`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows }) });
        expect({ status: res.status, body: res.status === 201 ? '' : await res.text() }).toEqual({ status: 201, body: '' });
      } finally {
        await api.close();
      }
      let out = '';
      let err = '';
      const code = await explainCommand('models:/forest@champion', { input: csvOf(2), json: true }, { out: (t) => void (out += t), err: (t) => void (err += t) });
      expect(code).toBe(0);
      expect(err).toContain(`using the embedded store ${join(embeddedHome, 'slipway.db')}`);
      const e = JSON.parse(out) as { model_name: string; model_version: string; method: string; explanations: unknown[] };
      expect(e).toMatchObject({ model_name: 'forest', model_version: '1', method: 'exact' });
      expect(e.explanations).toHaveLength(2);
    } finally {
      vi.unstubAllEnvs();
      rmSync(embeddedHome, { recursive: true, force: true });
    }
  });

  it('is a command of the slipway program', () => {
    const help = buildProgram().commands.find((c) => c.name() === 'explain');
    expect(help?.description()).toMatch(/attributions/);
    expect(help?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--input', '--server', '--json', '--sample-budget', '--background-size', '--output', '--class']));
  });

  function csvOf(rows: number): string {
    const file = join(home, `rows-${rows}.csv`);
    // An extra target column, as a holdout file has: the command picks the model's columns by name.
    writeFileSync(file, `${[...diabetes.columns, 'target'].join(',')}\n${diabetes.rows.slice(0, rows).map((r) => [...r, 100].join(',')).join('\n')}\n`);
    return file;
  }
});
