/**
 * The /metrics exposition of `slipway server` (its app, after serving and monitoring
 * traffic) and of the built `slipway serve` passes `promtool check metrics` clean.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { silentLogger } from '../src/core/logger.js';
import { attachReference, profileTable, readTable } from '../src/monitoring/index.js';
import { buildApp } from '../src/server/app.js';
import type { ServerContext } from '../src/server/context.js';
import { CLI_PATH } from './support/cli.js';
import { DIALECTS } from './support/dialects.js';
import { FileModelSource, fixture, holdout } from './support/serving.js';
import { servedAddress } from './support/serve-process.js';

/** promtool's complaints about an exposition (empty when it is clean). */
function promtoolProblems(exposition: string): string {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (found.error) throw new Error('promtool is not installed: install the Debian package `prometheus` (apt-get install -y prometheus); .ci/run does.');
  const res = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
  return `${res.stdout}${res.stderr}`.trim() + (res.status === 0 ? '' : `\n(exit ${res.status})`);
}

const rows = holdout('breast_cancer');

describe('promtool check metrics', () => {
  describe('slipway server', () => {
    let app: FastifyInstance;
    let close: () => Promise<void>;

    beforeAll(async () => {
      const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
      if (!sqlite) throw new Error('sqlite dialect missing');
      const opened = await sqlite.open();
      const home = mkdtempSync(join(tmpdir(), 'slipway-promtool-'));
      // The fixture model lies outside the artifact store.
      const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('breast_cancer_mlp.onnx')) }, {}, home);
      const source = new FileModelSource().add('bc', '1', fixture('breast_cancer_mlp.onnx'));
      source.columns = rows.columns;
      source.setAlias('bc', 'prod', '1');
      const ctx: ServerContext = { config, store: opened.store, logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [], modelSource: source };
      app = await buildApp(ctx);
      await app.ready();
      await attachReference(opened.store, 'bc', '1', profileTable(await readTable(fixture('breast_cancer_holdout.csv'))), 'holdout', { time: Date.now() });
      close = async () => {
        for (const hook of ctx.onClose) await hook();
        await app.close();
        await opened.dispose();
        rmSync(home, { recursive: true, force: true });
      };
    });
    afterAll(async () => close());

    it('exposes serving, monitoring and process metrics that pass the linter', async () => {
      const batch = rows.rows.slice(0, 40);
      const infer = await app.inject({ method: 'POST', url: '/v2/models/bc/infer', payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [batch.length, 30], data: batch.flat() }] } });
      expect(infer.statusCode, infer.body).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/api/v1/monitoring/windows/flush', payload: {} })).statusCode).toBe(200);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/slipway_serving_requests_total\{/);
      expect(metrics).toMatch(/slipway_monitoring_drift_score\{/);
      expect(metrics).toContain('nodejs_active_handles{');
      expect(promtoolProblems(metrics)).toBe('');
    });
  });

  describe('slipway serve', () => {
    let child: ChildProcess | undefined;
    const home = mkdtempSync(join(tmpdir(), 'slipway-promtool-serve-'));
    afterAll(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      rmSync(home, { recursive: true, force: true });
    });

    it('exposes serving and process metrics that pass the linter', async () => {
      const proc = spawn(process.execPath, [CLI_PATH, 'serve', fixture('breast_cancer_mlp.onnx'), '--name', 'bc', '--host', '127.0.0.1', '--port', '0', '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', SLIPWAY_HOME: home },
      });
      child = proc;
      const info = await servedAddress(proc);
      const batch = rows.rows.slice(0, 8);
      const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [batch.length, 30], data: batch.flat() }] });
      for (let i = 0; i < 3; i++) {
        const res = await request(`${info.url}/v2/models/bc/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
      const missing = await request(`${info.url}/v2/models/nope/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(missing.statusCode).toBe(404);
      await missing.body.dump();
      const metrics = await (await request(`${info.url}/metrics`)).body.text();
      expect(metrics).toMatch(/slipway_serving_requests_total\{model="bc"/);
      expect(promtoolProblems(metrics)).toBe('');
    });
  });
});
