/**
 * The Prometheus rules and the Grafana dashboard in deploy/ read only metrics a Slipway server
 * really exports (a server is started, given serving, tracking and monitoring traffic, and
 * scraped), pass `promtool check rules`, and the rules' unit tests pass `promtool test rules`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { attachReference, profileTable, readTable } from '../../src/monitoring/index.js';
import { renderAlertRulesFile, renderKubernetes, resolveDeployOptions } from '../../src/deploy/index.js';
import { buildApp } from '../../src/server/app.js';
import type { ServerContext } from '../../src/server/context.js';
import { DIALECTS } from '../support/dialects.js';
import { FileModelSource, fixture, holdout } from '../support/serving.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = join(ROOT, 'deploy/prometheus/slipway-alerts.yml');
const RULE_TESTS = join(ROOT, 'deploy/prometheus/slipway-alerts.test.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/slipway-dashboard.json');

/** Runs promtool; its output and exit status. */
function promtool(args: string[]): { status: number | null; output: string } {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (found.error) throw new Error('promtool is not installed: install the Debian package `prometheus` (apt-get install -y prometheus); .ci/run does.');
  const res = spawnSync('promtool', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

// PromQL words that are not metric names.
const PROMQL_WORDS = new Set([
  'sum', 'avg', 'max', 'min', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'rate', 'irate', 'increase', 'delta', 'changes', 'resets',
  'histogram_quantile', 'time', 'abs', 'clamp_min', 'clamp_max', 'absent', 'vector', 'scalar', 'label_replace', 'and', 'or', 'unless',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset',
]);

/** The metric names a PromQL expression reads. */
export function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\w+/g, '');
  const names = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

/** Grafana's variables replaced by values promtool can parse. */
function asPromql(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '5m').replace(/\$(model|job)\b/g, '.*');
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string }> }>;
}

interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Array<{ expr: string; datasource?: { uid?: string } }>;
}

function dashboard(): { panels: Panel[]; templating: { list: Array<{ name: string; type: string; query: unknown }> } } {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as never;
}

function dashboardExprs(): Array<{ panel: string; expr: string }> {
  return dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

function ruleExprs(): Array<{ alert: string; expr: string }> {
  const file = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  return file.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert ?? '', expr: r.expr })));
}

describe('metricsIn', () => {
  it('finds the metric names of an expression, leaving out functions, labels and ranges', () => {
    expect(metricsIn('histogram_quantile(0.99, sum by (model, le) (rate(a_bucket{model=~"$model", x="y z"}[$__rate_interval]))) / on (model) b_total')).toEqual(['a_bucket', 'b_total']);
    expect(metricsIn('time() - max by (model) (c_seconds)')).toEqual(['c_seconds']);
  });
});

describe('deploy/ alert rules and dashboard', () => {
  let exported: Set<string>;
  let exposition: string;
  let app: FastifyInstance;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-deploy-metrics-'));
    const rows = holdout('breast_cancer');
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

    // Serving, tracking (MLflow and Slipway APIs, a success and a client error) and monitoring traffic.
    const batch = rows.rows.slice(0, 40);
    const infer = await app.inject({ method: 'POST', url: '/v2/models/bc/infer', payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [batch.length, 30], data: batch.flat() }] } });
    expect(infer.statusCode, infer.body).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/api/2.0/mlflow/experiments/create', payload: { name: 'deploy-metrics' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/2.0/mlflow/experiments/get?experiment_id=424242' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/api/v1/experiments' })).statusCode).toBeLessThan(500);
    expect((await app.inject({ method: 'POST', url: '/api/v1/monitoring/windows/flush', payload: {} })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    exposition = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    exported = new Set<string>();
    for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m as unknown as [string, string, string];
      exported.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(`${name}${s}`);
      if (type === 'summary') for (const s of ['_sum', '_count']) exported.add(`${name}${s}`);
    }
  });
  afterAll(async () => close());

  it('counts tracking and registry requests by route pattern, but not health, metrics or inference', () => {
    expect(exposition).toContain('slipway_http_requests_total{api="mlflow",method="POST",route="/api/2.0/mlflow/experiments/create",code="200"} 1');
    expect(exposition).toContain('slipway_http_requests_total{api="mlflow",method="GET",route="/api/2.0/mlflow/experiments/get",code="404"} 1');
    expect(exposition).toMatch(/slipway_http_request_duration_seconds_bucket\{le="[^"]+",api="slipway",method="GET",route="\/api\/v1\/experiments"\}/);
    expect(exposition).not.toMatch(/slipway_http_requests_total\{[^}]*route="\/(health|metrics|v2)/);
    expect(exposition).toMatch(/slipway_monitoring_window_closed_timestamp_seconds\{model="bc",version="1"\} \d/);
  });

  it('the rendered probes and the ServiceMonitor path answer on a server', async () => {
    const objects = renderKubernetes(resolveDeployOptions({ artifactsDestination: 's3://ml-artifacts/slipway' }));
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: Array<Record<string, { httpGet: { path: string } }>> } } } };
    const container = deployment.spec.template.spec.containers[0] ?? {};
    const paths = ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => container[p]?.httpGet.path);
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as unknown as { spec: { endpoints: Array<{ path: string }> } };
    for (const path of [...paths, ...monitor.spec.endpoints.map((e) => e.path)]) {
      expect(path).toBeDefined();
      const res = await app.inject({ method: 'GET', url: path as string });
      expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
    }
  });

  it('alert rules read only exported metrics', () => {
    const missing = ruleExprs().flatMap(({ alert, expr }) => metricsIn(expr).filter((m) => !exported.has(m)).map((m) => `${alert}: ${m}`));
    expect(missing).toEqual([]);
    expect(ruleExprs().length).toBeGreaterThanOrEqual(8);
  });

  it('dashboard panels read only exported metrics', () => {
    const missing = dashboardExprs().flatMap(({ panel, expr }) => metricsIn(expr).filter((m) => !exported.has(m)).map((m) => `${panel}: ${m}`));
    expect(missing).toEqual([]);
  });

  it('the committed rules file is the rendering of the rules in src/deploy', () => {
    expect(readFileSync(RULES, 'utf8'), 'run: node dist/cli/main.js deploy render prometheus-rules > deploy/prometheus/slipway-alerts.yml').toBe(renderAlertRulesFile());
  });

  it('alert rules pass promtool check rules and their unit tests', () => {
    const check = promtool(['check', 'rules', RULES]);
    expect(check.output).toContain('SUCCESS');
    expect(check.status, check.output).toBe(0);
    const tests = promtool(['test', 'rules', RULE_TESTS]);
    expect(tests.status, tests.output).toBe(0);
    expect(tests.output).toContain('SUCCESS');
  });

  it('the dashboard has a datasource variable every query uses, and every expression parses', () => {
    const d = dashboard();
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const queried = d.panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThanOrEqual(15);
    for (const p of queried) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
    const titles = d.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(titles).toEqual(expect.arrayContaining(['Serving', 'Tracking and registry', 'Monitoring']));
    // Panels lie within Grafana's 24 columns and none covers another.
    for (const [i, a] of d.panels.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of d.panels.slice(i + 1)) {
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} / ${b.title}`).toBe(false);
      }
    }
    // promtool parses every expression as a recording rule.
    const dir = mkdtempSync(join(tmpdir(), 'slipway-dashboard-rules-'));
    try {
      const file = join(dir, 'panels.yml');
      const rules = dashboardExprs().map((e, i) => ({ record: `slipway:dashboard_panel_${i}`, expr: asPromql(e.expr) }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const check = promtool(['check', 'rules', file]);
      expect(check.status, check.output).toBe(0);
      expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
