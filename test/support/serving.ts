/**
 * What serving tests share: fixture paths and data, generated ONNX models, a
 * file-backed ModelSource, and an inference app over real onnxruntime.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { buildIdentity, buildMlp } from '../../bench/onnx-builder.mjs';
import { systemClock } from '../../src/core/clock.js';
import type { InferenceRecord } from '../../src/core/inference-record.js';
import type { ModelRef, ModelSource, ResolvedModel } from '../../src/core/model-source.js';
import { SlipwayError } from '../../src/core/errors.js';
import { ModelFileAllowList } from '../../src/artifacts/model-file-allow-list.js';
import { FastRoutes, httpServerFactory } from '../../src/server/http-server.js';
import { registerServingRoutes } from '../../src/server/plugins/serving-routes.js';
import { InferenceService } from '../../src/serving/inference-service.js';
import { ModelManager } from '../../src/serving/model-manager.js';
import { ServingMetrics } from '../../src/serving/serving-metrics.js';
import { resolveServingOptions, type ServingOptions } from '../../src/serving/serving-options.js';

/** Absolute path of a file in test/fixtures. */
export function fixture(name: string): string {
  return resolve(import.meta.dirname, '..', 'fixtures', name);
}

/** A CSV fixture as header + numeric rows. */
export function readCsv(name: string): { header: string[]; rows: number[][] } {
  const lines = readFileSync(fixture(name), 'utf8').trim().split('\n');
  const header = (lines[0] as string).split(',');
  return { header, rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
}

/** Holdout features (target dropped), their column names, and the framework's predictions. */
export function holdout(kind: 'breast_cancer' | 'diabetes'): { columns: string[]; rows: number[][]; expected: number[] } {
  const data = readCsv(`${kind}_holdout.csv`);
  const expected = readCsv(kind === 'breast_cancer' ? 'breast_cancer_mlp_expected.csv' : 'diabetes_forest_expected.csv').rows.map((r) => r[0] as number);
  return { columns: data.header.slice(0, -1), rows: data.rows.map((r) => r.slice(0, -1)), expected };
}

/** Asserts |a - e| <= 1e-5 * |e| (with a 1e-6 floor for values near zero); returns the worst relative error. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`got ${actual.length} values, expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const err = Math.abs(a - e) / Math.max(Math.abs(e), 0.1);
    if (Math.abs(a - e) > Math.max(1e-5 * Math.abs(e), 1e-6)) throw new Error(`value ${i}: got ${a}, expected ${e}`);
    worst = Math.max(worst, err);
  }
  return worst;
}

const scratch = mkdtempSync(join(tmpdir(), 'slipway-serving-'));

/** Writes a generated MLP to a temporary .onnx file and returns its path. */
export function mlpFile(layers: number[], opts: { seed?: number; batch?: string | number } = {}): string {
  const path = join(scratch, `mlp-${layers.join('x')}-${opts.seed ?? 1}-${opts.batch ?? 'batch'}.onnx`);
  writeFileSync(path, buildMlp(layers, opts));
  return path;
}

/** Writes an Identity model over the given datatypes and returns its path. */
export function identityFile(datatypes?: string[]): string {
  const path = join(scratch, `identity-${(datatypes ?? ['all']).join('-')}.onnx`);
  writeFileSync(path, buildIdentity(datatypes));
  return path;
}

/** A file that is not an ONNX model. */
export function brokenFile(): string {
  const path = join(scratch, 'broken.onnx');
  writeFileSync(path, 'this is not an onnx model');
  return path;
}

/** A ModelSource over local files whose aliases tests move by hand. */
export class FileModelSource implements ModelSource {
  readonly versions = new Map<string, Map<string, string>>();
  readonly aliases = new Map<string, Map<string, string>>();
  columns: string[] | undefined;
  readonly #listeners = new Set<(name: string) => void>();

  /** Registers `path` as `name` version `version`. */
  add(name: string, version: string, path: string): this {
    if (!this.versions.has(name)) this.versions.set(name, new Map());
    (this.versions.get(name) as Map<string, string>).set(version, path);
    return this;
  }

  /** Points `alias` of `name` at `version` and announces it. */
  setAlias(name: string, alias: string, version: string): void {
    if (!this.aliases.has(name)) this.aliases.set(name, new Map());
    (this.aliases.get(name) as Map<string, string>).set(alias, version);
    for (const l of this.#listeners) l(name);
  }

  async resolve(ref: ModelRef): Promise<ResolvedModel> {
    const version = ref.alias !== undefined ? this.aliases.get(ref.name)?.get(ref.alias) : ref.version;
    const path = version !== undefined ? this.versions.get(ref.name)?.get(version) : undefined;
    if (version === undefined || path === undefined) throw new SlipwayError('NOT_FOUND', `No model ${ref.name} ${ref.alias ?? ref.version}.`);
    return { name: ref.name, version, onnxPath: path, ...(this.columns ? { columns: this.columns } : {}) };
  }

  async list(): Promise<ModelRef[]> {
    return [...this.aliases.entries()].flatMap(([name, m]) => [...m.keys()].map((alias) => ({ name, alias })));
  }

  onChange(listener: (name: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** An inference app over real onnxruntime, with its own metrics registry and an observer that keeps records. */
export interface ServingHarness {
  app: FastifyInstance;
  manager: ModelManager;
  registry: Registry;
  records: InferenceRecord[];
  /** The base URL when the harness listens (`listen: true`). */
  url: string;
  /** Marks the app as shutting down (readiness false, answers close their connection). */
  setClosing(closing: boolean): void;
  close(): Promise<void>;
}

/**
 * Builds the serving routes on a fresh Fastify app. With `listen`, it listens on loopback
 * through the production server factory, so plain JSON V2 infers take the fast route
 * (`url`); `app.inject()` always goes through Fastify.
 */
export async function servingApp(
  opts: Partial<ServingOptions> = {},
  source?: ModelSource,
  harness: { listen?: boolean; requestTimeoutMs?: number; modelControl?: 'none' | 'explicit'; modelFiles?: ModelFileAllowList } = {},
): Promise<ServingHarness> {
  const options = resolveServingOptions(opts);
  const registry = new Registry();
  const metrics = ServingMetrics.for(registry);
  // By default the fixtures and models generated under the temporary folder may be loaded, as from an operator's allowed folders.
  const modelFiles = harness.modelFiles ?? new ModelFileAllowList({ dirs: [fixture(''), tmpdir()] });
  const manager = new ModelManager({ options, metrics, modelFiles, ...(source ? { source } : {}) });
  const records: InferenceRecord[] = [];
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const service = new InferenceService({ manager, metrics, observers: [{ observe: (r) => void records.push(r) }], clock: systemClock, logger });
  const fastRoutes = new FastRoutes();
  const app = harness.listen
    ? Fastify({ serverFactory: httpServerFactory({ requestTimeoutMs: harness.requestTimeoutMs ?? 300_000 }, fastRoutes), bodyLimit: options.bodyLimit, logger: false, forceCloseConnections: 'idle' })
    : Fastify({ bodyLimit: options.bodyLimit, logger: false });
  let closing = false;
  await registerServingRoutes(app, { manager, service, registry, logger, isClosing: () => closing, modelControl: harness.modelControl ?? 'none', ...(harness.listen ? { fastRoutes } : {}) });
  const url = harness.listen ? await app.listen({ host: '127.0.0.1', port: 0 }) : '';
  if (!harness.listen) await app.ready();
  return {
    app,
    manager,
    registry,
    records,
    url,
    setClosing(c: boolean) {
      closing = c;
    },
    async close() {
      await app.close();
      await manager.close();
    },
  };
}
