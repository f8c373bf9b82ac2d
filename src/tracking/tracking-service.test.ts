import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditTrail, listAuditEvents } from '../audit/audit-trail.js';
import type { Store } from '../store/store.js';
import { DIALECTS } from '../../test/support/dialects.js';
import { TrackingService } from './tracking-service.js';
import type { Metric } from './tracking-types.js';

for (const dialect of DIALECTS) {
  describe(`TrackingService on ${dialect.name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let svc: TrackingService;
    let now = 1_700_000_000_000;

    beforeAll(async () => {
      const opened = await dialect.open();
      store = opened.store;
      dispose = opened.dispose;
      svc = new TrackingService(store, { clock: { now: () => now++ } });
    });
    afterAll(async () => dispose());

    it('has the Default experiment 0 and creates experiments with tags', async () => {
      const def = await svc.getExperiment('0');
      expect(def.name).toBe('Default');
      const id = await svc.createExperiment({ name: 'exp-a', tags: [{ key: 'team', value: 'x' }] });
      const e = await svc.getExperimentByName('exp-a');
      expect(e.experimentId).toBe(id);
      expect(e.artifactLocation).toBe(`mlflow-artifacts:/${id}`);
      expect(e.tags).toEqual([{ key: 'team', value: 'x' }]);
      await expect(svc.createExperiment({ name: 'exp-a' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: 'Experiment(name=exp-a) already exists.' });
      await expect(svc.getExperiment('99999')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No Experiment with id=99999 exists' });
      await expect(svc.getExperimentByName('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(svc.createExperiment({ name: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('renames, deletes, restores and searches experiments', async () => {
      const id = await svc.createExperiment({ name: 'exp-b' });
      await svc.updateExperiment(id, 'exp-b2');
      await svc.setExperimentTag(id, 'stage', 'dev');
      expect((await svc.getExperiment(id)).name).toBe('exp-b2');
      await svc.deleteExperiment(id);
      expect((await svc.getExperiment(id)).lifecycleStage).toBe('deleted');
      const active = await svc.searchExperiments({ filter: "name LIKE 'exp-%'" });
      expect(active.experiments.map((e) => e.name)).not.toContain('exp-b2');
      const deleted = await svc.searchExperiments({ viewType: 'DELETED_ONLY' });
      expect(deleted.experiments.map((e) => e.name)).toEqual(['exp-b2']);
      await expect(svc.setExperimentTag(id, 'k', 'v')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await svc.restoreExperiment(id);
      const byTag = await svc.searchExperiments({ filter: "tags.stage = 'dev'" });
      expect(byTag.experiments.map((e) => e.name)).toEqual(['exp-b2']);
      const paged = await svc.searchExperiments({ maxResults: 1, orderBy: ['name ASC'] });
      expect(paged.experiments).toHaveLength(1);
      expect(paged.experiments[0]?.name).toBe('Default');
      const page2 = await svc.searchExperiments({ maxResults: 1, orderBy: ['name ASC'], pageToken: paged.nextPageToken });
      expect(page2.experiments[0]?.name).toBe('exp-a');
    });

    it('creates runs with generated names mirrored in mlflow.runName and user from mlflow.user', async () => {
      const run = await svc.createRun({ experimentId: '0', tags: [{ key: 'mlflow.user', value: 'ada' }] });
      expect(run.info.runId).toMatch(/^[0-9a-f]{32}$/);
      expect(run.info.runName).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/);
      expect(run.data.tags).toContainEqual({ key: 'mlflow.runName', value: run.info.runName });
      expect(run.info.userId).toBe('ada');
      expect(run.info.status).toBe('RUNNING');
      expect(run.info.artifactUri).toBe(`mlflow-artifacts:/0/${run.info.runId}/artifacts`);
      const tooMany = Array.from({ length: 1001 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
      await expect(svc.createRun({ tags: tooMany })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
      await expect(svc.createExperiment({ name: 'too-many-tags', tags: tooMany })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
      const named = await svc.createRun({ runName: 'my-run', startTime: 5 });
      expect(named.info.runName).toBe('my-run');
      expect(named.info.startTime).toBe(5);
    });

    it('logs params, metrics (incl. NaN and Infinity), tags and keeps the latest metric', async () => {
      const { info } = await svc.createRun({});
      await svc.logParam(info.runId, 'lr', '0.1');
      await svc.logParam(info.runId, 'lr', '0.1');
      await expect(svc.logParam(info.runId, 'lr', '0.2')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('Changing param values is not allowed') });
      await svc.logMetric(info.runId, { key: 'loss', value: 2, timestamp: 10, step: 0 });
      await svc.logMetric(info.runId, { key: 'loss', value: 1, timestamp: 20, step: 1 });
      await svc.logMetric(info.runId, { key: 'loss', value: 5, timestamp: 5, step: 0 });
      await svc.logMetric(info.runId, { key: 'weird', value: NaN, timestamp: 1, step: 0 });
      await svc.logMetric(info.runId, { key: 'big', value: Infinity, timestamp: 1, step: 0 });
      await svc.setTag(info.runId, 'note', 'hello');
      await svc.setTag(info.runId, 'mlflow.runName', 'renamed');
      const run = await svc.getRun(info.runId);
      expect(run.info.runName).toBe('renamed');
      expect(run.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
      const byKey = Object.fromEntries(run.data.metrics.map((m) => [m.key, m]));
      expect(byKey.loss).toEqual({ key: 'loss', value: 1, timestamp: 20, step: 1 });
      expect(byKey.weird?.value).toBeNaN();
      expect(byKey.big?.value).toBe(Infinity);
      const history = await svc.getMetricHistory({ runId: info.runId, metricKey: 'loss' });
      expect(history.metrics.map((m) => m.value)).toEqual([5, 2, 1]);
      const p1 = await svc.getMetricHistory({ runId: info.runId, metricKey: 'loss', maxResults: 2 });
      expect(p1.metrics).toHaveLength(2);
      const p2 = await svc.getMetricHistory({ runId: info.runId, metricKey: 'loss', maxResults: 2, pageToken: p1.nextPageToken });
      expect(p2.metrics.map((m) => m.value)).toEqual([1]);
      expect(p2.nextPageToken).toBeUndefined();
      await svc.deleteTag(info.runId, 'note');
      await expect(svc.deleteTag(info.runId, 'note')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('log-batch validates everything before writing anything', async () => {
      const { info } = await svc.createRun({});
      const metrics: Metric[] = Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: i, timestamp: i, step: i }));
      await expect(svc.logBatch(info.runId, { metrics })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringContaining('at most 1000 metrics') });
      await expect(svc.logBatch(info.runId, { params: [{ key: 'p', value: 'x'.repeat(6001) }] })).rejects.toMatchObject({ message: expect.stringContaining('exceeded length limit of 6000') });
      await expect(svc.logBatch(info.runId, { tags: [{ key: 't', value: 'x'.repeat(5001) }] })).rejects.toMatchObject({ message: expect.stringContaining('exceeded length limit of 5000') });
      await expect(svc.logBatch(info.runId, { metrics: [{ key: 'bad/../key', value: 1, timestamp: 1, step: 0 }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(svc.logBatch(info.runId, { metrics: [{ key: 'ok', value: 1, timestamp: 1.5, step: 0 }] })).rejects.toMatchObject({ message: expect.stringContaining('invalid timestamp') });
      await expect(svc.logBatch(info.runId, { metrics: [{ key: 'ok', value: 1, timestamp: -1, step: 0 }] })).rejects.toMatchObject({ message: expect.stringContaining('nonnegative') });
      await expect(svc.logBatch(info.runId, { metrics: [{ key: 'ok', value: 1, timestamp: 1, step: 0.5 }] })).rejects.toMatchObject({ message: expect.stringContaining('invalid step') });
      await expect(svc.logBatch(info.runId, { metrics: [{ key: 'ok', value: 1, timestamp: 1, step: 0 }], params: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] })).rejects.toMatchObject({ message: expect.stringContaining('Duplicate parameter keys') });
      expect((await svc.getRun(info.runId)).data.metrics).toEqual([]);
      await svc.logBatch(info.runId, {
        metrics: [{ key: 'acc', value: 0.5, timestamp: 1, step: 0 }, { key: 'acc', value: 0.7, timestamp: 2, step: 1 }],
        params: [{ key: 'depth', value: '3' }],
        tags: [{ key: 'k', value: 'v' }],
      });
      const run = await svc.getRun(info.runId);
      expect(run.data.metrics).toEqual([{ key: 'acc', value: 0.7, timestamp: 2, step: 1 }]);
      expect(run.data.params).toEqual([{ key: 'depth', value: '3' }]);
    });

    it('refuses writes to deleted runs and restores them', async () => {
      const { info } = await svc.createRun({});
      await svc.deleteRun(info.runId);
      expect((await svc.getRun(info.runId)).info.lifecycleStage).toBe('deleted');
      await expect(svc.logMetric(info.runId, { key: 'x', value: 1, timestamp: 1, step: 0 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `The run ${info.runId} must be in the 'active' state. Current state is deleted.`,
      });
      await expect(svc.updateRun({ runId: info.runId, status: 'FINISHED' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await svc.restoreRun(info.runId);
      const updated = await svc.updateRun({ runId: info.runId, status: 'FINISHED', endTime: 99, runName: 'done' });
      expect(updated).toMatchObject({ status: 'FINISHED', endTime: 99, runName: 'done' });
      await expect(svc.getRun('0123456789abcdef0123456789abcdef')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('logs dataset inputs and model history', async () => {
      const { info } = await svc.createRun({});
      const input = { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'iris', digest: 'abc123', sourceType: 'local', source: '{"uri":"x"}' } };
      await svc.logInputs(info.runId, [input]);
      await svc.logInputs(info.runId, [input]);
      await svc.logModel(info.runId, JSON.stringify({ artifact_path: 'model', flavors: {} }));
      await svc.logModel(info.runId, JSON.stringify({ artifact_path: 'model2', flavors: {} }));
      const run = await svc.getRun(info.runId);
      expect(run.inputs.datasetInputs).toEqual([input]);
      const history = JSON.parse(run.data.tags.find((t) => t.key === 'mlflow.log-model.history')?.value ?? '[]') as Array<{ artifact_path: string }>;
      expect(history.map((h) => h.artifact_path)).toEqual(['model', 'model2']);
      await expect(svc.logModel(info.runId, 'not json')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const found = await svc.searchRuns({ experimentIds: ['0'], filter: "datasets.name = 'iris' and datasets.context = 'training'" });
      expect(found.runs.map((r) => r.info.runId)).toEqual([info.runId]);
    });

    it('searches runs with filters, order_by and page tokens', async () => {
      const exp = await svc.createExperiment({ name: `search-${dialect.name}` });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { info } = await svc.createRun({ experimentId: exp, runName: `r${i}`, startTime: 1000 + i });
        ids.push(info.runId);
        const metrics: Metric[] = [{ key: 'm.acc', value: i / 10, timestamp: 1, step: 0 }];
        if (i !== 5) metrics.push({ key: 'score', value: i === 4 ? NaN : 10 - i, timestamp: 1, step: 0 });
        await svc.logBatch(info.runId, { metrics, params: [{ key: 'model', value: i % 2 === 0 ? 'Tree' : 'linear' }], tags: [{ key: 'team x', value: `t${i}` }] });
      }
      // Every search runs twice: scanning the experiment's runs (small searches) and walking the order key's index (large ones).
      const byIndex = new TrackingService(store, { searchSortThreshold: 0 });
      const q = async (filter: string, orderBy?: string[]) => {
        const input = { experimentIds: [exp], filter, ...(orderBy ? { orderBy } : {}) };
        const names = (await svc.searchRuns(input)).runs.map((r) => r.info.runName);
        expect((await byIndex.searchRuns(input)).runs.map((r) => r.info.runName)).toEqual(names);
        return names;
      };
      expect(await q('')).toEqual(['r5', 'r4', 'r3', 'r2', 'r1', 'r0']);
      expect(await q('metrics.`m.acc` >= 0.3')).toEqual(['r5', 'r4', 'r3']);
      expect(await q('metrics.m.acc < 0.2 and params.model = "Tree"')).toEqual(['r0']);
      expect(await q("params.model LIKE 'T%'")).toEqual(['r4', 'r2', 'r0']);
      expect(await q("params.model LIKE 't%'")).toEqual([]);
      expect(await q("params.model ILIKE 't%'")).toEqual(['r4', 'r2', 'r0']);
      expect(await q("tags.`team x` IN ('t1', 't2')")).toEqual(['r2', 'r1']);
      expect(await q("tags.`team x` NOT IN ('t1', 't2') and attributes.run_name != 'r0'")).toEqual(['r5', 'r4', 'r3']);
      expect(await q("attributes.status = 'RUNNING' and attributes.start_time > 1003")).toEqual(['r5', 'r4']);
      expect(await q(`attributes.run_id = '${ids[2]}'`)).toEqual(['r2']);
      expect(await q('', ['metrics.score DESC'])).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
      expect(await q('', ['metrics.score ASC'])).toEqual(['r3', 'r2', 'r1', 'r0', 'r4', 'r5']);
      expect(await q('', ['params.model ASC', 'attributes.start_time ASC'])).toEqual(['r0', 'r2', 'r4', 'r1', 'r3', 'r5']);
      expect(await q('', ['attributes.run_name ASC'])).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
      for (const service of [svc, byIndex]) {
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await service.searchRuns({ experimentIds: [exp], orderBy: ['metrics.score DESC'], maxResults: 2, ...(token ? { pageToken: token } : {}) });
          seen.push(...page.runs.map((r) => r.info.runName));
          token = page.nextPageToken;
        } while (token);
        expect(seen).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
      }
      await svc.deleteRun(ids[0] as string);
      expect(await q("params.model = 'Tree'")).toEqual(['r4', 'r2']);
      expect((await svc.searchRuns({ experimentIds: [exp], runViewType: 'DELETED_ONLY' })).runs.map((r) => r.info.runName)).toEqual(['r0']);
      await expect(svc.searchRuns({ experimentIds: [exp], filter: 'metrics.a = 1 or metrics.b = 2' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(svc.searchRuns({ experimentIds: [exp], filter: "metrics.a > 'x'" })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(svc.searchRuns({ experimentIds: [exp], filter: 'attributes.nope = 1' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(svc.searchRuns({ experimentIds: [exp], maxResults: 50001 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(svc.searchRuns({ experimentIds: [exp], pageToken: '%%%' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const many = Array.from({ length: 1001 }, (_, i) => `'v${i}'`).join(',');
      await expect(svc.searchRuns({ experimentIds: [exp], filter: `params.model IN (${many})` })).rejects.toMatchObject({ message: expect.stringContaining('at most 1000 values') });
      await expect(svc.searchRuns({ experimentIds: Array.from({ length: 1001 }, () => exp) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('returns pages larger than the backends\' bind-variable limits', async () => {
      const exp = await svc.createExperiment({ name: `big-page-${dialect.name}` });
      const ids: string[] = [];
      await store.db.transaction().execute(async (trx) => {
        for (let i = 0; i < 1500; i += 500) {
          const rows = Array.from({ length: 500 }, (_, j) => {
            const id = (i + j).toString(16).padStart(32, '0');
            ids.push(id);
            return { run_uuid: id, name: `bulk-${i + j}`, experiment_id: Number(exp), user_id: '', status: 'FINISHED', start_time: i + j, end_time: null, lifecycle_stage: 'active', artifact_uri: 'x', deleted_time: null };
          });
          await trx.insertInto('runs').values(rows).execute();
        }
      });
      const page = await svc.searchRuns({ experimentIds: [exp], maxResults: 2000 });
      expect(page.runs).toHaveLength(1500);
      expect(page.runs[0]?.info.runName).toBe('bulk-1499');
      expect(page.nextPageToken).toBeUndefined();
    });

    it('parallel log-batch writers lose nothing and every mutation is audited', async () => {
      const { info } = await svc.createRun({});
      const before = (await listAuditEvents(store.db, { entityId: info.runId, limit: 10_000 })).length;
      const writers = Array.from({ length: 8 }, (_, w) =>
        (async () => {
          for (let b = 0; b < 5; b++) {
            const metrics = Array.from({ length: 100 }, (_, i) => ({ key: `w${w}`, value: i, timestamp: b * 100 + i, step: b * 100 + i }));
            // Shared keys in opposite orders: writers must not deadlock on the latest-value rows.
            const shared = [{ key: 'shared-a', value: w, timestamp: 1, step: w * 10 + b }, { key: 'shared-b', value: w, timestamp: 1, step: w * 10 + b }];
            await svc.logBatch(info.runId, { metrics: [...(w % 2 ? shared.reverse() : shared), ...metrics], tags: [{ key: `writer-${w}`, value: 'x' }, { key: 'common', value: String(w) }] });
          }
        })(),
      );
      await Promise.all(writers);
      for (let w = 0; w < 8; w++) {
        const h = await svc.getMetricHistory({ runId: info.runId, metricKey: `w${w}` });
        expect(h.metrics).toHaveLength(500);
      }
      const run = await svc.getRun(info.runId);
      expect(run.data.metrics.find((m) => m.key === 'w3')).toEqual({ key: 'w3', value: 99, timestamp: 499, step: 499 });
      expect(run.data.metrics.find((m) => m.key === 'shared-a')).toEqual({ key: 'shared-a', value: 7, timestamp: 1, step: 74 });
      expect((await svc.getMetricHistory({ runId: info.runId, metricKey: 'shared-b' })).metrics).toHaveLength(40);
      const events = await listAuditEvents(store.db, { entityId: info.runId, limit: 10_000 });
      expect(events.length - before).toBe(40);
      expect(events.filter((e) => e.action === 'run.log_batch')).toHaveLength(40);
      expect((await verifyAuditTrail(store.db)).ok).toBe(true);
    });
  });
}
