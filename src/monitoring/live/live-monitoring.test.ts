/**
 * Live monitoring on every backend: windows from sampled inference records, drift
 * against the attached reference, gauges, late labels scored like scikit-learn, and
 * alert webhooks delivered to a real local HTTP receiver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { listAuditEvents } from '../../audit/audit-trail.js';
import { silentLogger } from '../../core/logger.js';
import type { Store } from '../../store/store.js';
import { createAlertRule, deleteAlertRule, listAlertStatus } from '../alerts/alert-rules.js';
import { createWebhookPolicy } from '../alerts/webhook-notifier.js';
import { recordGroundTruth, windowPerformance } from '../performance/performance-repository.js';
import { profileTable } from '../profile/dataset-profile.js';
import { readTable } from '../readers/table-reader.js';
import { attachReference, getReference, listReferences } from '../reference/reference-repository.js';
import type { NumericColumn, Table } from '../table.js';
import { LiveMonitor } from './live-monitor.js';
import { MonitoringMetrics } from './monitoring-metrics.js';
import { listWindows } from './window-repository.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const MIN = 60_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MIN);

let holdout: Table;
let drifted: Table;
let features: string[];
beforeAll(async () => {
  holdout = await readTable(fixture('breast_cancer_holdout.csv'));
  drifted = await readTable(fixture('breast_cancer_drifted.csv'));
  features = holdout.columns.map((c) => c.name).filter((n) => n !== 'target');
});

/** Row-major Float32 inputs of `rows` rows starting at `from`, as serving reports them. */
function inputsOf(t: Table, from: number, rows: number): Float32Array {
  const cols = features.map((f) => (t.columns.find((c) => c.name === f) as NumericColumn).values);
  const out = new Float32Array(rows * cols.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols.length; c++) out[r * cols.length + c] = (cols[c] as Float64Array)[from + r] as number;
  return out;
}

/** Feeds a whole table as requests of 10 rows at `time`. */
function feed(monitor: LiveMonitor, t: Table, time: number, idPrefix: string): void {
  for (let from = 0; from < t.rows; from += 10) {
    const rows = Math.min(10, t.rows - from);
    monitor.sampler.observe({ model: 'bc', version: '1', requestId: `${idPrefix}-${from}`, time, latencyMs: 1, rows, columns: features, inputs: inputsOf(t, from, rows), outputs: new Float32Array(rows).fill(0.5), outputWidth: 1 });
  }
}

describe.each(DIALECTS)('live monitoring on $name', (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  let receiver: Server;
  let hookUrl: string;
  const received: Array<{ key: string | undefined; body: { status: string; rule: { name: string } } }> = [];
  let now = T0;
  const clock = { now: () => now };
  // The receivers listen on loopback, which webhooks may reach only when the operator allows it.
  const localHooks = createWebhookPolicy(['127.0.0.1']);

  beforeAll(async () => {
    ({ store, dispose } = await dialect.open());
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        received.push({ key: req.headers['idempotency-key'] as string | undefined, body: JSON.parse(text) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => receiver.close(() => r()));
    await dispose();
  });

  it('attaches a reference profile to a model version, with an audit event', async () => {
    await attachReference(store, 'bc', '1', profileTable(holdout), 'holdout.csv', { time: T0, actor: 'alice' });
    const ref = await getReference(store, 'bc', '1');
    expect(ref.rows).toBe(171);
    expect(ref.profile.columns.get('mean_radius')?.isExact).toBe(true);
    expect((await listReferences(store, 'bc')).map((r) => r.version)).toEqual(['1']);
    const audit = await listAuditEvents(store.db, { action: 'monitoring.reference.attach' });
    expect(audit.map((e) => [e.actor, e.entity_id])).toEqual([['alice', 'bc/1']]);
    await expect(getReference(store, 'bc', '9')).rejects.toThrow(/no reference profile/);
  });

  it('profiles windows, flags drift against the reference, publishes gauges and fires then resolves an alert once', async () => {
    const registry = new Registry();
    const monitor = new LiveMonitor(store, clock, silentLogger, { windowMs: MIN, graceMs: 0, webhookPolicy: localHooks }, MonitoringMetrics.for(registry));
    await createAlertRule(store, { name: 'bc-drift', model: 'bc', figure: 'drifted_columns', comparison: '>=', threshold: 3, forWindows: 2, webhookUrl: hookUrl }, { time: T0 }, localHooks);
    const windows = [holdout, drifted, drifted, holdout];
    for (let w = 0; w < windows.length; w++) {
      now = T0 + w * MIN + 1000;
      feed(monitor, windows[w] as Table, now, `w${w}`);
      now = T0 + (w + 1) * MIN + 1;
      await monitor.flush();
      const state = (await listAlertStatus(store, 'bc'))[0];
      expect(state?.state).toBe(w === 2 ? 'firing' : 'ok');
      if (w === 2) await monitor.alerts.evaluate('bc');
    }
    const stored = await listWindows(store, 'bc');
    expect(stored.map((s) => s.windowStart)).toEqual([3, 2, 1, 0].map((w) => T0 + w * MIN));
    expect(stored.map((s) => s.rows)).toEqual([171, 171, 171, 171]);
    const flagged = (i: number) =>
      Object.entries(stored[i]?.figures ?? {})
        .filter(([k, v]) => k.startsWith('drift_score:') && v !== null && v <= 0.05)
        .map(([k]) => k.slice('drift_score:'.length))
        .sort();
    expect(flagged(2)).toEqual(['mean_radius', 'mean_texture', 'worst_area']);
    expect(flagged(3)).toEqual([]);
    expect(stored[2]?.figures.quality_failed).toBeGreaterThan(0);
    expect(stored[3]?.figures.dataset_drift).toBe(0);
    // One firing and one resolving notification despite the extra evaluation.
    expect(received.map((r) => [r.body.rule.name, r.body.status])).toEqual([
      ['bc-drift', 'firing'],
      ['bc-drift', 'resolved'],
    ]);
    expect(new Set(received.map((r) => r.key)).size).toBe(2);
    const gauges = await registry.getSingleMetricAsString('slipway_monitoring_feature_drifted');
    expect(gauges).toMatch(/feature="mean_radius"[^\n]*\} 0/);
    await deleteAlertRule(store, 'bc-drift', { time: now });
  });

  it('retries a webhook that failed and records the attempts', async () => {
    let failures = 1;
    const flaky = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(failures-- > 0 ? 500 : 204).end());
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/`;
      const monitor = new LiveMonitor(store, clock, silentLogger, { windowMs: MIN, graceMs: 0, webhookPolicy: localHooks });
      const rule = await createAlertRule(store, { name: 'm3-rows', model: 'm3', figure: 'rows', comparison: '>', threshold: 0, webhookUrl: url }, { time: now }, localHooks);
      now = T0 + 50 * MIN + 5;
      monitor.sampler.observe({ model: 'm3', version: '1', requestId: 'x1', time: now, latencyMs: 1, rows: 1, inputs: [1], outputs: [0], outputWidth: 1 });
      now = T0 + 51 * MIN + 1;
      await monitor.flush();
      let [event] = await monitor.alerts.events(rule.id);
      expect(event).toMatchObject({ kind: 'firing', delivered: false, attempts: 1, lastError: 'HTTP 500' });
      await monitor.alerts.evaluate('m3');
      [event] = await monitor.alerts.events(rule.id);
      expect(event).toMatchObject({ kind: 'firing', delivered: true, attempts: 2, lastError: null });
      await deleteAlertRule(store, 'm3-rows', { time: now });
    } finally {
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  });

  it('merges a window written by two replicas and counts requests dropped when the buffer is full', async () => {
    const a = new LiveMonitor(store, clock, silentLogger, { windowMs: MIN, graceMs: 0, maxBufferedRows: 25 });
    const b = new LiveMonitor(store, clock, silentLogger, { windowMs: MIN, graceMs: 0 });
    const start = T0 + 100 * MIN;
    now = start + 10;
    for (let i = 0; i < 3; i++) a.sampler.observe({ model: 'm2', version: '1', requestId: `a${i}`, time: now, latencyMs: 1, rows: 10, inputs: new Float64Array(10).fill(i), outputs: new Float64Array(10), outputWidth: 1 });
    b.sampler.observe({ model: 'm2', version: '1', requestId: 'b0', time: now, latencyMs: 1, rows: 4, inputs: new Float64Array(4).fill(9), outputs: new Float64Array(4), outputWidth: 1 });
    now = start + MIN + 1;
    await a.flush();
    await b.flush();
    const [w] = await listWindows(store, 'm2', { withProfiles: true });
    expect(w).toMatchObject({ rows: 24, requests: 3, droppedRows: 10 });
    expect(w?.profile?.columns.get('input_0')?.max).toBe(9);
    expect(w?.profile?.columns.get('input_0')?.count).toBe(24);
  });

  it('scores late labels per window exactly as scikit-learn does', async () => {
    // sklearn 1.2.1 on y = [1,0,1,1,0,0,1,0,1,1,0,1], p = [0.9,0.2,0.6,0.45,0.5,0.1,0.8,0.7,0.3,0.99,0.05,0.6], pred = p >= 0.5:
    //   accuracy_score, precision_score, recall_score, f1_score on pred; roc_auc_score(y, p); log_loss(y, p)
    const y = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1];
    const p = [0.9, 0.2, 0.6, 0.45, 0.5, 0.1, 0.8, 0.7, 0.3, 0.99, 0.05, 0.6];
    const monitor = new LiveMonitor(store, clock, silentLogger, { windowMs: MIN, graceMs: 0 });
    const start = T0 + 200 * MIN;
    now = start + 5;
    p.forEach((score, i) => monitor.sampler.observe({ model: 'clf', version: '3', requestId: `r${i}`, time: now, latencyMs: 1, rows: 1, inputs: [i], outputs: [score], outputWidth: 1 }));
    await monitor.flush();
    const res = await recordGroundTruth(store, 'clf', [...y.map((label, i) => ({ requestId: `r${i}`, labels: [label] })), { requestId: 'never-seen', labels: [1] }], { time: now + 3_600_000 });
    expect(res).toEqual({ accepted: 12, unknown: ['never-seen'] });
    const [perf] = await windowPerformance(store, 'clf');
    expect(perf?.task).toBe('classification');
    const c = perf?.classification;
    expect(c?.accuracy).toBeCloseTo(0.6666666666666666, 12);
    expect(c?.precision).toBeCloseTo(0.7142857142857143, 12);
    expect(c?.recall).toBeCloseTo(0.7142857142857143, 12);
    expect(c?.f1).toBeCloseTo(0.7142857142857143, 12);
    expect(c?.rocAuc).toBeCloseTo(0.8285714285714285, 12);
    expect(c?.logLoss).toBeCloseTo(0.4699669580955577, 12);
    await expect(recordGroundTruth(store, 'clf', [{ requestId: 'r1', labels: [1, 0] }], { time: now })).rejects.toThrow(/predicted 1 row\(s\) but 2 label\(s\)/);
  });

  it('scores regressors with MAE, RMSE and R² as scikit-learn does', async () => {
    // sklearn: mean_absolute_error, sqrt(mean_squared_error), r2_score on yt = [3.0,-0.5,2.0,7.0,4.2], yp = [2.5,0.0,2.0,8.0,3.9]
    const yt = [3.0, -0.5, 2.0, 7.0, 4.2];
    const yp = [2.5, 0.0, 2.0, 8.0, 3.9];
    const monitor = new LiveMonitor(store, clock, silentLogger, { windowMs: MIN, graceMs: 0 });
    now = T0 + 300 * MIN + 5;
    monitor.sampler.observe({ model: 'reg', version: '1', requestId: 'batch', time: now, latencyMs: 1, rows: 5, inputs: [1, 2, 3, 4, 5], outputs: yp, outputWidth: 1 });
    await monitor.flush();
    await recordGroundTruth(store, 'reg', [{ requestId: 'batch', labels: yt }], { time: now });
    const [perf] = await windowPerformance(store, 'reg');
    expect(perf?.task).toBe('regression');
    expect(perf?.regression?.mae).toBeCloseTo(0.4600000000000001, 12);
    expect(perf?.regression?.rmse).toBeCloseTo(0.5639148871948674, 12);
    expect(perf?.regression?.r2).toBeCloseTo(0.9480256276150627, 12);
  });
});
