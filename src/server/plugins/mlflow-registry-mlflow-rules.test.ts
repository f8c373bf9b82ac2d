/**
 * The registry's MLflow routes over real HTTP, on SQLite and PostgreSQL, where MLflow 2.12's own
 * test suites hold Slipway to MLflow's rules: versions of runs this server does not know, the
 * download URI, the default order of search_model_versions with its paging, the checks of a
 * version's source (local paths against the run's artifact folder), and the version-number message.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';

const MLP_FILE = join(import.meta.dirname, '../../../test/fixtures/breast_cancer_mlp.onnx');
const MLP = readFileSync(MLP_FILE);
const ROW = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: new Array(30).fill(0.5) }] };
const RELATIVE =
  'If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.';
const LOCAL =
  'To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.';

// Response bodies are untyped JSON that each test navigates.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

/** A clock the tests move: every reading advances it by 1 ms, except while frozen (to make equal timestamps). */
function steppingClock(start: number) {
  let now = start;
  let frozen = false;
  return {
    now: (): number => (frozen ? now : ++now),
    /** Stops the clock a second ahead of every reading so far, until `run` settles. */
    async frozenDuring(run: () => Promise<void>): Promise<void> {
      now += 1000;
      frozen = true;
      try {
        await run();
      } finally {
        frozen = false;
      }
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`MLflow's rules on the registry routes, ${dialect.name}, over HTTP`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-registry-rules-'));
    const runRoot = join(dir, 'mlruns');
    const allowed = join(dir, 'allowed');
    const outside = join(dir, 'outside');
    const clock = steppingClock(1_800_000_000_000);
    let t: TestApp;
    let base: string;

    const api = async (method: 'GET' | 'POST' | 'PATCH', path: string, fields: Record<string, unknown> = {}): Promise<{ status: number; body: Body }> => {
      const query = method === 'GET' ? `?${new URLSearchParams(fields as Record<string, string>).toString()}` : '';
      const res = await fetch(`${base}${path}${query}`, {
        method,
        ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Body) };
    };
    const mlflow = (method: 'GET' | 'POST' | 'PATCH', path: string, fields?: Record<string, unknown>) => api(method, `/api/2.0/mlflow${path}`, fields);
    const createVersion = (name: string, source: string, runId?: string) => mlflow('POST', '/model-versions/create', { name, source, ...(runId ? { run_id: runId } : {}) });
    const createRun = async (experimentId: string): Promise<{ id: string; artifactUri: string }> => {
      const res = await mlflow('POST', '/runs/create', { experiment_id: experimentId, start_time: clock.now() });
      expect(res.status).toBe(200);
      return { id: res.body.run.info.run_id as string, artifactUri: res.body.run.info.artifact_uri as string };
    };

    beforeAll(async () => {
      for (const d of [runRoot, allowed, outside]) mkdirSync(d);
      copyFileSync(MLP_FILE, join(allowed, 'cancer.onnx'));
      t = await openTestApp(dialect, clock, { defaultArtifactRoot: pathToFileURL(runRoot).href, modelSourceAllowedDirs: allowed });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    }, 30_000);
    afterAll(async () => {
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('registers a version whose runs:/ source names a run unknown here, as MLflow does, and serving says why it cannot serve it', async () => {
      expect((await mlflow('POST', '/registered-models/create', { name: 'CreateMVTest' })).status).toBe(200);
      const created = await createVersion('CreateMVTest', 'runs:/run_id/model', 'run_id_1');
      expect(created.status).toBe(200);
      expect(created.body.model_version).toMatchObject({ name: 'CreateMVTest', version: '1', source: 'runs:/run_id/model', run_id: 'run_id_1', status: 'READY' });
      const got = await mlflow('GET', '/model-versions/get', { name: 'CreateMVTest', version: '1' });
      expect(got.body.model_version).toMatchObject({ source: 'runs:/run_id/model', run_id: 'run_id_1', status: 'READY' });
      expect((await mlflow('GET', '/model-versions/get-download-uri', { name: 'CreateMVTest', version: '1' })).body).toEqual({ artifact_uri: 'runs:/run_id/model' });

      const served = await api('POST', '/v2/models/CreateMVTest/infer', ROW);
      expect(served.status).toBe(404);
      expect(served.body.error).toContain("its files are at runs:/run_id/model, in run 'run_id', which this server does not know, so they were never read");

      // The copy of a version (the client's copy_model_version sends models:/NAME/VERSION) downloads from the same place.
      expect((await mlflow('POST', '/registered-models/alias', { name: 'CreateMVTest', alias: 'test_alias', version: '1' })).status).toBe(200);
      const copy = await createVersion('CreateMVTest', 'models:/CreateMVTest/1', 'run_id_1');
      expect(copy.body.model_version).toMatchObject({ version: '2', source: 'models:/CreateMVTest/1' });
      expect((await mlflow('GET', '/model-versions/get-download-uri', { name: 'CreateMVTest', version: '2' })).body).toEqual({ artifact_uri: 'runs:/run_id/model' });
    });

    it("reads and serves a version of a run it knows, and answers the source (not the store path) as its download URI, also for a copy made through an alias", async () => {
      const run = await createRun('0');
      expect(run.artifactUri).toMatch(/^mlflow-artifacts:\/0\//);
      const put = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${run.artifactUri.slice('mlflow-artifacts:/'.length)}/model/model.onnx`, { method: 'PUT', body: MLP });
      expect(put.status).toBe(200);
      await mlflow('POST', '/registered-models/create', { name: 'known' });
      const v1 = await createVersion('known', `runs:/${run.id}/model`, run.id);
      expect(v1.body.model_version).toMatchObject({ version: '1', status: 'READY', run_id: run.id });
      expect((await mlflow('GET', '/model-versions/get-download-uri', { name: 'known', version: '1' })).body).toEqual({ artifact_uri: `runs:/${run.id}/model` });
      await mlflow('POST', '/registered-models/alias', { name: 'known', alias: 'a', version: '1' });
      const copy = await createVersion('known', 'models:/known@a');
      expect(copy.body.model_version.version).toBe('2');
      expect((await mlflow('GET', '/model-versions/get-download-uri', { name: 'known', version: '2' })).body).toEqual({ artifact_uri: `runs:/${run.id}/model` });
      const served = await api('POST', '/v2/models/known/infer', ROW);
      expect(served.status).toBe(200);
      expect(served.body.outputs[0]).toMatchObject({ name: 'probabilities', shape: [1, 1] });
      // The native API still shows where the files are.
      const native = await api('GET', '/api/v1/models/known/versions/2');
      expect(native.body.storageLocation).toBe(`${run.artifactUri}/model`);
    });

    it('orders search_model_versions by last update, newest first, then name and version, and pages that order exactly', async () => {
      for (const name of ['order-b', 'order-a']) await mlflow('POST', '/registered-models/create', { name });
      for (const name of ['order-a', 'order-b', 'order-a', 'order-b']) expect((await createVersion(name, 's3://bucket/model')).status).toBe(200);
      // Updating version 1 of order-a makes it the most recently updated.
      expect((await mlflow('PATCH', '/model-versions/update', { name: 'order-a', version: '1', description: 'touched' })).status).toBe(200);
      // Two versions updated in the same millisecond: name ASC breaks the tie.
      await clock.frozenDuring(async () => {
        await mlflow('PATCH', '/model-versions/update', { name: 'order-b', version: '1', description: 'same instant' });
        await mlflow('PATCH', '/model-versions/update', { name: 'order-a', version: '2', description: 'same instant' });
      });
      const expected = ['order-a/2', 'order-b/1', 'order-a/1', 'order-b/2'];
      const filter = "name LIKE 'order-%'";
      const all = await mlflow('GET', '/model-versions/search', { filter });
      expect(all.body.model_versions.map((v: Body) => `${v.name}/${v.version}`)).toEqual(expected);

      for (const size of [1, 3]) {
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await mlflow('GET', '/model-versions/search', { filter, max_results: String(size), ...(token ? { page_token: token } : {}) });
          expect(page.status).toBe(200);
          seen.push(...(page.body.model_versions ?? []).map((v: Body) => `${v.name}/${v.version}`));
          token = page.body.next_page_token as string | undefined;
        } while (token);
        expect(seen).toEqual(expected);
      }
      // An explicit order keeps its own keys, with name ASC and version DESC behind them.
      const byName = await mlflow('GET', '/model-versions/search', { filter, order_by: 'name DESC' });
      expect(byName.body.model_versions.map((v: Body) => `${v.name}/${v.version}`)).toEqual(['order-b/2', 'order-b/1', 'order-a/2', 'order-a/1']);
      // The native API lists one model's versions newest version first, as documented.
      const native = await api('GET', '/api/v1/models/order-a/versions');
      expect(native.body.versions.map((v: Body) => v.version)).toEqual(['2', '1']);
    });

    it("refuses relative path references in a source URI with MLflow's message, and accepts what MLflow accepts", async () => {
      const run = await createRun('0');
      await mlflow('POST', '/registered-models/create', { name: 'model' });
      for (const source of [
        'mlflow-artifacts:/models',
        'mlflow-artifacts:/models/',
        'mlflow-artifacts:/models///',
        'mlflow-artifacts:/models/foo///bar',
        'mlflow-artifacts://host:9000/models',
        'mlflow-artifacts://host:9000/models/artifact/..../',
      ]) {
        const res = await createVersion('model', source, run.id);
        expect({ source, status: res.status, body: res.body.model_version?.source }).toEqual({ source, status: 200, body: source });
      }
      for (const source of [
        'mlflow-artifacts://host:9000/models/../../../',
        'http://host:9000/models/../../../',
        'https://host/api/2.0/mlflow-artifacts/artifacts/../../../',
        's3a://my_bucket/api/2.0/mlflow-artifacts/artifacts/../../../',
        'ftp://host:8888/api/2.0/mlflow-artifacts/artifacts/../../../',
        'mlflow-artifacts://host:9000/models/..%2f..%2fartifacts',
        'mlflow-artifacts://host:9000/models/artifact%00',
        `runs:/${run.id}/model/../../other`,
      ]) {
        const res = await createVersion('model', source, run.id);
        expect({ source, status: res.status, code: res.body.error_code }).toEqual({ source, status: 400, code: 'INVALID_PARAMETER_VALUE' });
        expect(res.body.message).toBe(`Invalid model version source: '${source}'. ${RELATIVE}`);
      }
      // A file: URI naming another machine is MLflow's 500, which its own tests expect.
      const remote = await createVersion('model', 'file://123.456.789.123/path/to/source', run.id);
      expect(remote.status).toBe(500);
      expect(remote.body).toMatchObject({ error_code: 'INTERNAL_ERROR' });
      expect(remote.body.message).toContain('file://123.456.789.123/path/to/source is not a valid remote uri');
    });

    it("accepts a local source only inside the artifact folder of the run named by run_id (MLflow's rule) or a folder the operator allowed, and answers 400 otherwise", async () => {
      // An experiment in the folder of the server's file:// artifact root, as --default-artifact-root gives them.
      const exp = await mlflow('POST', '/experiments/create', { name: 'local-root', artifact_location: `${pathToFileURL(runRoot).href}/local-root` });
      const run = await createRun(exp.body.experiment_id as string);
      const other = await createRun(exp.body.experiment_id as string);
      expect(run.artifactUri).toBe(`${pathToFileURL(runRoot).href}/local-root/${run.id}/artifacts`);
      const runDir = new URL(run.artifactUri).pathname;
      mkdirSync(join(runDir, 'model'), { recursive: true });
      copyFileSync(MLP_FILE, join(runDir, 'model', 'model.onnx'));
      // A link planted in the run's folder that leads out of it.
      symlinkSync(outside, join(runDir, 'escape'));
      await mlflow('POST', '/registered-models/create', { name: 'local' });

      for (const [source, runId] of [
        [runDir, run.id],
        [run.artifactUri, run.id],
        [`${run.artifactUri}/model`, run.id],
        [`${run.artifactUri}/.`, run.id],
        [`${run.artifactUri}/model/..`, run.id],
        [`file://${join(allowed, 'cancer.onnx')}`, undefined],
      ] as const) {
        const res = await createVersion('local', source, runId);
        expect({ source, status: res.status }).toEqual({ source, status: 200 });
        expect(res.body.model_version).toMatchObject({ source, status: 'READY' });
      }
      const read = await api('GET', '/api/v1/models/local/versions/3');
      expect(read.body.signature.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 30] }]);

      for (const [source, runId, shown] of [
        [runDir, undefined, runDir],
        [run.artifactUri, undefined, run.artifactUri],
        ['/tmp', run.id, '/tmp'],
        ['file:///tmp', undefined, 'file:///tmp'],
        [join(runDir, 'model'), other.id, join(runDir, 'model')],
        [join(runDir, 'escape', 'model.onnx'), run.id, join(outside, 'model.onnx')],
        [join(allowed, '..', 'outside'), undefined, join(allowed, '..', 'outside')],
      ] as const) {
        const res = await createVersion('local', source, runId);
        expect({ source, status: res.status, code: res.body.error_code }).toEqual({ source, status: 400, code: 'INVALID_PARAMETER_VALUE' });
        expect(res.body.message).toBe(`Invalid model version source: '${shown}'. ${LOCAL}`);
      }
      const unknownRun = await createVersion('local', runDir, 'no-such-run');
      expect(unknownRun).toMatchObject({ status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Run with id=no-such-run not found' } });
    });

    it('records a version in a run folder serving may not read unread, and serving names the folder and the setting', async () => {
      const elsewhere = join(dir, 'elsewhere');
      const exp = await mlflow('POST', '/experiments/create', { name: 'unallowed', artifact_location: pathToFileURL(elsewhere).href });
      const run = await createRun(exp.body.experiment_id as string);
      const runDir = new URL(run.artifactUri).pathname;
      mkdirSync(join(runDir, 'model'), { recursive: true });
      copyFileSync(MLP_FILE, join(runDir, 'model', 'model.onnx'));
      await mlflow('POST', '/registered-models/create', { name: 'unread' });
      const res = await createVersion('unread', join(runDir, 'model'), run.id);
      expect(res.body.model_version).toMatchObject({ version: '1', status: 'READY' });
      expect((await api('GET', '/api/v1/models/unread/versions/1')).body.signature).toBeUndefined();
      const served = await api('POST', '/v2/models/unread/infer', ROW);
      expect(served.status).toBe(404);
      expect(served.body.error).toContain(`its files are in the local folder ${join(runDir, 'model')}, outside the artifact store and the folders allowed by --model-source-allowed-dirs`);
    });

    it("answers a version that is not a number with MLflow's message", async () => {
      const res = await mlflow('GET', '/model-versions/get', { name: 'CreateMVTest', version: 'something not correct' });
      expect(res).toEqual({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: "Model version must be an integer, got 'something not correct'" } });
    });
  });
}
