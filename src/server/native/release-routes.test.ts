import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';

const ONNX = readFileSync(new URL('../../../test/fixtures/breast_cancer_mlp.onnx', import.meta.url));
const HOLDOUT = readFileSync(new URL('../../../test/fixtures/breast_cancer_holdout.csv', import.meta.url));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.each(DIALECTS)('release API on $name', (dialect) => {
  let t: TestApp;
  const post = async (url: string, payload: unknown = {}) => t.app.inject({ method: 'POST', url: `/api/v1${url}`, payload: payload as object });
  const get = async (url: string) => t.app.inject({ url: `/api/v1${url}` });
  const until = async (id: string, states: string[]): Promise<Json> => {
    for (let i = 0; i < 400; i++) {
      const r = (await get(`/releases/${id}`)).json() as Json;
      if (states.includes(r.state)) return r;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`release ${id} never reached ${states.join('/')}`);
  };
  const count = async (): Promise<number> => ((await get('/releases?maxResults=1000')).json() as Json).releases.length;
  const auditOf = async (id: string): Promise<string[]> => (await t.ctx.store.db.selectFrom('audit_events').select('action').where('entity_id', '=', id).orderBy('seq').execute()).map((r) => r.action);

  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.ctx.artifacts?.put('models/bc/model.onnx', ONNX);
    await t.ctx.artifacts?.put('releases/holdouts/bc.csv', HOLDOUT);
    for (const name of ['direct', 'gated', 'approved', 'bad']) {
      expect((await post('/models', { name })).statusCode).toBe(201);
      for (let v = 0; v < 3; v++) expect((await post(`/models/${name}/versions`, { source: 'mlflow-artifacts:/models/bc' })).statusCode).toBe(201);
      await t.app.inject({ method: 'PUT', url: `/api/v1/models/${name}/aliases/champion`, payload: { version: '1' } });
    }
  });
  afterAll(() => t.close());

  it('promotes a direct release: the alias moves, every transition is in the history and the audit trail', async () => {
    const created = await post('/releases', { model: 'direct', version: '2', environment: 'champion', requestedBy: 'ana' });
    expect(created.statusCode).toBe(201);
    const r = created.json() as Json;
    expect(r).toMatchObject({ model: 'direct', version: '2', environment: 'champion', championVersion: '1', requestedBy: 'ana', policy: { strategy: { kind: 'direct' }, gates: [] } });
    const done = await until(r.id, ['promoted', 'rejected', 'rolled_back']);
    expect(done.state).toBe('promoted');
    expect(done.reason).toMatch(/'champion' points at version 2/);
    expect(((await get('/models/direct/aliases/champion')).json() as Json).version).toBe('2');
    expect(done.events.map((e: Json) => `${e.from ?? ''}>${e.to ?? ''}`)).toEqual(['>pending', 'pending>gates', 'gates>rolling_out', 'rolling_out>promoted']);
    expect(await auditOf(r.id)).toEqual(['release.created', 'release.state', 'release.state', 'release.state']);

    // Rollback: back to the version the promotion replaced, recorded on that release.
    const rb = await post('/models/direct/rollback', { environment: 'champion', reason: 'bad tail latency' });
    expect(rb.statusCode).toBe(200);
    expect(rb.json()).toMatchObject({ model: 'direct', environment: 'champion', version: '1', previousVersion: '2', instant: false, releaseId: r.id });
    expect(((await get('/models/direct/aliases/champion')).json() as Json).version).toBe('1');
    const after = (await get(`/releases/${r.id}`)).json() as Json;
    expect(after.events.at(-1)).toMatchObject({ type: 'rollback', message: expect.stringMatching(/from version 2 to 1.*bad tail latency/) });
    expect((await auditOf(r.id)).at(-1)).toBe('release.rollback');
  });

  it('rejects a release whose gate fails, naming the gate, with its evidence kept', async () => {
    const policy = { gates: [{ kind: 'command', name: 'smoke', run: 'exit 3' }] };
    const r = (await post('/releases', { model: 'gated', version: '2', environment: 'champion', policy })).json() as Json;
    const done = await until(r.id, ['promoted', 'rejected', 'rolled_back']);
    expect(done.state).toBe('rejected');
    expect(done.reason).toMatch(/Gate 'smoke'/);
    expect(done.gates[0]).toMatchObject({ name: 'smoke', kind: 'command', verdict: 'fail' });
    expect(done.gates[0].endedTime).toBeGreaterThanOrEqual(done.gates[0].startedTime);
    expect(((await get('/models/gated/aliases/champion')).json() as Json).version).toBe('1');
    expect(await auditOf(r.id)).toEqual(['release.created', 'release.state', 'release.gate']);
  });

  it('waits for approvals by others, refuses a second active release with 409, and aborts', async () => {
    const policy = { gates: [{ kind: 'approval', count: 2 }] };
    const r = (await post('/releases', { model: 'approved', version: '2', environment: 'champion', policy, requestedBy: 'ana' })).json() as Json;
    expect((await until(r.id, ['awaiting_approval'])).gates[0]).toMatchObject({ kind: 'approval', verdict: 'pending' });

    const second = await post('/releases', { model: 'approved', version: '3', environment: 'champion' });
    expect(second.statusCode).toBe(409);
    expect(second.json().error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(r.id) });
    expect(second.json().error.message).toMatch(/version 2, awaiting_approval/);

    const self = await post(`/releases/${r.id}/approve`, { by: 'ana' });
    expect(self.statusCode).toBe(403);
    expect(self.json().error.message).toMatch(/ana requested release/);
    expect((await post(`/releases/${r.id}/approve`, { by: 'ben', comment: 'metrics fine' })).json()).toMatchObject({ state: 'awaiting_approval', approvals: [{ by: 'ben', comment: 'metrics fine' }] });
    const twice = await post(`/releases/${r.id}/approve`, { by: 'ben' });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().error).toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/already approved/) });
    expect((await post(`/releases/${r.id}/approve`, {})).statusCode).toBe(400);
    await post(`/releases/${r.id}/approve`, { by: 'cleo' });
    const done = await until(r.id, ['promoted']);
    expect(done.approvals.map((a: Json) => a.by)).toEqual(['ben', 'cleo']);
    expect(done.gates[0]).toMatchObject({ verdict: 'pass' });
    expect(await auditOf(r.id)).toContain('release.approved');

    // A new release waiting for approval, aborted: the alias stays, a second abort is refused.
    const next = (await post('/releases', { model: 'approved', version: '3', environment: 'champion', policy, requestedBy: 'ana' })).json() as Json;
    await until(next.id, ['awaiting_approval']);
    const aborted = await post(`/releases/${next.id}/abort`, { by: 'ben', reason: 'freeze' });
    expect(aborted.json()).toMatchObject({ state: 'aborted', reason: 'Aborted by ben: freeze' });
    expect((await post(`/releases/${next.id}/abort`, {})).statusCode).toBe(400);
    expect(((await get('/models/approved/aliases/champion')).json() as Json).version).toBe('2');
    expect((await auditOf(next.id)).at(-1)).toBe('release.aborted');
    // With none active, the model may be released again.
    const list = (await get('/releases?model=approved&state=aborted')).json() as Json;
    expect(list.releases.map((x: Json) => x.id)).toEqual([next.id]);
  });

  it('keeps every one of several approvals given at the same moment', async () => {
    const r = (await post('/releases', { model: 'approved', version: '3', environment: 'champion', policy: { gates: [{ kind: 'approval', count: 3 }] }, requestedBy: 'ana' })).json() as Json;
    await until(r.id, ['awaiting_approval']);
    const answers = await Promise.all(['dan', 'eve', 'fay'].map((by) => post(`/releases/${r.id}/approve`, { by })));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
    const done = await until(r.id, ['promoted']);
    expect(done.approvals.map((a: Json) => a.by).sort()).toEqual(['dan', 'eve', 'fay']);
  });

  it('lists newest first with pages and filters', async () => {
    const page1 = (await get('/releases?maxResults=2')).json() as Json;
    expect(page1.releases).toHaveLength(2);
    const page2 = (await get(`/releases?maxResults=2&pageToken=${page1.nextPageToken}`)).json() as Json;
    const all = (await get('/releases')).json() as Json;
    expect([...page1.releases, ...page2.releases].map((r: Json) => r.id)).toEqual(all.releases.slice(0, 4).map((r: Json) => r.id));
    expect(all.releases.map((r: Json) => r.createdTime)).toEqual([...all.releases.map((r: Json) => r.createdTime)].sort((a, b) => b - a));
    expect((await get('/releases?state=active')).json().releases).toEqual([]);
    expect((await get('/releases?state=sideways')).statusCode).toBe(400);
  });

  it('refuses bad input with a 4xx that names the problem, writing nothing', async () => {
    const before = await count();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ model: 'nope', version: '1', environment: 'champion' }, 404, /nope/],
      [{ model: 'bad', version: '9', environment: 'champion' }, 404, /9/],
      [{ model: 'bad', version: '1', environment: 'champion' }, 400, /already at 'champion'/],
      [{ model: 'bad', environment: 'champion' }, 400, /'version' or 'alias'/],
      [{ model: 'bad', version: '2', environment: 'champion', policy: { gates: [{ kind: 'vibes' }] } }, 400, /policy\.gates\.0\.kind/],
      [{ model: 'bad', version: '2', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [50, 10] } } }, 400, /rise step by step/],
      [{ model: 'bad', version: '2', environment: 'champion', policy: { strategy: { kind: 'canary', interval: '30' } } }, 400, /interval.*add a unit/],
      [{ model: 'bad', version: '2', environment: 'champion', policy: { gates: [{ kind: 'evaluation', name: 'acc', metrics: ['accuracy >= 0.9'] }] } }, 400, /Gate 'acc' \(evaluation\) needs a holdout/],
      [{ model: 'bad', version: '2', environment: 'champion', policy: { holdout: 'releases/holdouts/missing.csv', gates: [{ kind: 'drift' }] } }, 404, /releases\/holdouts\/missing\.csv/],
      [{ model: 'bad', version: '2', environment: 'champion', policy: { holdout: 'models/bc/model.onnx', gates: [{ kind: 'quality' }] } }, 400, /under releases\/holdouts\//],
      [{ model: 'bad', version: '2', environment: 'staging', policy: { holdout: 'releases/holdouts/bc.csv', gates: [{ kind: 'evaluation', metrics: ['accuracy >= champion - 0.02'] }] } }, 400, /first release of bad into 'staging'.*absolute thresholds/],
      // The server serves 'bad' by its champion alias (loading it on demand), never by 'staging': a canary there has no traffic to steer.
      [{ model: 'bad', version: '2', environment: 'staging', policy: { strategy: { kind: 'canary' } } }, 400, /needs `slipway server` serving models:\/bad@staging/],
    ];
    for (const [body, status, message] of cases) {
      const res = await post('/releases', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json().error.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await get('/releases/unknown')).statusCode).toBe(404);
    expect((await post('/releases/unknown/approve', { by: 'x' })).statusCode).toBe(404);
    expect((await post('/releases/unknown/abort', {})).statusCode).toBe(404);
    expect((await post('/models/nope/rollback', {})).statusCode).toBe(404);
    expect((await post('/models/bad/rollback', { environment: 'champion' })).json().error.message).toMatch(/give the version/);
    expect(await count()).toBe(before);
  });

  it('stores release policies per model and environment and uses them for new releases', async () => {
    const policy = { gates: [{ kind: 'command', run: 'exit 0' }], onRestart: 'resume' };
    const put = await t.app.inject({ method: 'PUT', url: '/api/v1/models/bad/release-policies/staging', payload: { policy } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ model: 'bad', environment: 'staging', policy: { onRestart: 'resume', strategy: { kind: 'direct' } } });
    expect((await get('/models/bad/release-policies/staging')).json().policy.gates).toEqual([{ kind: 'command', run: 'exit 0', timeout: '10m' }]);
    expect((await get('/release-policies?model=bad')).json().policies).toHaveLength(1);
    expect((await t.app.inject({ method: 'PUT', url: '/api/v1/models/nope/release-policies/staging', payload: { policy } })).statusCode).toBe(404);
    const r = (await post('/releases', { model: 'bad', version: '2', environment: 'staging' })).json() as Json;
    expect(r.policy.onRestart).toBe('resume');
    expect((await until(r.id, ['promoted', 'rejected'])).state).toBe('promoted');
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/models/bad/release-policies/staging' })).statusCode).toBe(204);
    expect((await get('/models/bad/release-policies/staging')).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/models/bad/release-policies/staging' })).statusCode).toBe(404);
  });
});
