/**
 * MLflow 2.12's rules on the tracking routes, over real HTTP on both backends: search_experiments'
 * default order and paging, get-history-bulk-interval's sampling and checks, and the "Invalid value X
 * for parameter 'p' supplied" messages with X as MLflow prints it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';

const API = '/api/2.0/mlflow';
const AJAX = '/ajax-api/2.0/mlflow';

describe.each(DIALECTS)('MLflow tracking rules on $name', (dialect) => {
  let t: TestApp;
  let base: string;
  let now = 1_700_000_000_000;

  beforeAll(async () => {
    t = await openTestApp(dialect, { now: () => now });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => t.close());

  async function send(method: 'GET' | 'POST', path: string, body?: string | object): Promise<{ status: number; json: Record<string, unknown> }> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }
  const post = (path: string, body: string | object) => send('POST', `${API}${path}`, body);

  async function newRun(): Promise<string> {
    const res = await post('/runs/create', { experiment_id: '0' });
    return (res.json.run as { info: { run_id: string } }).info.run_id;
  }

  it('search_experiments: newest created first, ties by id; a delete does not move an experiment; pages follow the same order', async () => {
    const ids: string[] = [];
    for (const name of ['a', 'ab', 'Abc']) {
      now += 10;
      ids.push((await post('/experiments/create', { name })).json.experiment_id as string);
    }
    now += 10;
    // Same creation time as 'later': the lower id comes first.
    const tieA = (await post('/experiments/create', { name: 'tie-1' })).json.experiment_id as string;
    const tieB = (await post('/experiments/create', { name: 'tie-2' })).json.experiment_id as string;
    expect(Number(tieA)).toBeLessThan(Number(tieB));
    now += 10;
    expect((await post('/experiments/delete', { experiment_id: ids[1] })).status).toBe(200);
    const names = async (body: object): Promise<{ names: string[]; token?: string }> => {
      const res = await post('/experiments/search', body);
      expect(res.status).toBe(200);
      return { names: (res.json.experiments as Array<{ name: string }>).map((e) => e.name), token: res.json.next_page_token as string | undefined };
    };
    expect((await names({ max_results: 1000, view_type: 'ALL' })).names).toEqual(['tie-1', 'tie-2', 'Abc', 'ab', 'a', 'Default']);
    expect((await names({ view_type: 'ACTIVE_ONLY' })).names).toEqual(['tie-1', 'tie-2', 'Abc', 'a', 'Default']);
    // Paging walks the same sequence.
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await names({ max_results: 2, view_type: 'ALL', ...(token ? { page_token: token } : {}) });
      seen.push(...page.names);
      token = page.token;
    } while (token);
    expect(seen).toEqual(['tie-1', 'tie-2', 'Abc', 'ab', 'a', 'Default']);
    // An explicit order breaks ties by id descending, as MLflow's stores do.
    expect((await names({ order_by: ['creation_time DESC'], filter: "name LIKE 'tie-%'" })).names).toEqual(['tie-2', 'tie-1']);
    // The native API lists in the same default order.
    const native = (await (await fetch(`${base}/api/v1/experiments?view=ALL`)).json()) as { experiments: Array<{ name: string }> };
    expect(native.experiments.map((e) => e.name)).toEqual(['tie-1', 'tie-2', 'Abc', 'ab', 'a', 'Default']);
  });

  it('get-history-bulk-interval samples steps over all the runs together and lists runs in the order asked', async () => {
    const r1 = await newRun();
    const r2 = await newRun();
    await post('/runs/log-batch', { run_id: r1, metrics: Array.from({ length: 10 }, (_, i) => ({ key: 'm', value: 10.0, timestamp: 1, step: i })) });
    await post('/runs/log-batch', { run_id: r2, metrics: Array.from({ length: 20 }, (_, i) => ({ key: 'm', value: 10.0, timestamp: 1, step: i })) });
    const steps = async (query: string): Promise<Array<[string, number]>> => {
      const res = await send('GET', `${AJAX}/metrics/get-history-bulk-interval?${query}`);
      expect(res.status).toBe(200);
      return (res.json.metrics as Array<{ run_id: string; step: number }>).map((m) => [m.run_id, m.step]);
    };
    expect(await steps(`run_ids=${r1}&metric_key=m&max_results=5`)).toEqual([0, 2, 4, 6, 8, 9].map((s) => [r1, s]));
    expect(await steps(`run_ids=${r1}&metric_key=m&start_step=0&end_step=4&max_results=5`)).toEqual([0, 1, 2, 3, 4].map((s) => [r1, s]));
    // r2 asked for second although its id may sort first; r1's last step (9) is kept for every run.
    expect(await steps(`run_ids=${r1}&run_ids=${r2}&metric_key=m&max_results=5`)).toEqual([
      ...[0, 4, 8, 9].map((s) => [r1, s]),
      ...[0, 4, 8, 9, 12, 16, 19].map((s) => [r2, s]),
    ]);
    expect(await steps(`run_ids=${r2}&run_ids=${r1}&metric_key=m&max_results=5`)).toEqual([
      ...[0, 4, 8, 9, 12, 16, 19].map((s) => [r2, s]),
      ...[0, 4, 8, 9].map((s) => [r1, s]),
    ]);
    // Without max_results, MLflow's default of 2500 steps keeps all 20.
    expect((await steps(`run_ids=${r2}&metric_key=m`)).length).toBe(20);
  });

  it('get-history-bulk-interval refuses bad requests with MLflow messages', async () => {
    const cases: Array<[string, string]> = [
      ['metric_key=key', "Missing value for required parameter 'run_ids'."],
      [`${Array.from({ length: 101 }, (_, i) => `run_ids=id_${i}`).join('&')}&metric_key=key`, 'GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids.'],
      ['run_ids=123&metric_key=key&max_results=0', 'max_results must be between 1 and 2500; got 0.'],
      ['run_ids=123&metric_key=key&max_results=2501', 'max_results must be between 1 and 2500; got 2501.'],
      ['run_ids=123&metric_key=', "Missing value for required parameter 'metric_key'."],
      ['run_ids=123&max_results=5', "Missing value for required parameter 'metric_key'."],
      ['run_ids=123&metric_key=key&start_step=1&end_step=0', 'end_step must be greater than start_step. Found start_step=1 and end_step=0.'],
      ['run_ids=123&metric_key=key&start_step=1&max_results=5', 'If either start step or end step are specified, both must be specified.'],
      ['run_ids=123&metric_key=key&end_step=3', 'If either start step or end step are specified, both must be specified.'],
    ];
    for (const [query, message] of cases) {
      const res = await send('GET', `${AJAX}/metrics/get-history-bulk-interval?${query}`);
      expect({ query: query.slice(0, 60), status: res.status, body: res.json }).toEqual({ query: query.slice(0, 60), status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    }
  });

  it('quotes a bad value the way MLflow prints it, from the request as sent', async () => {
    const runId = await newRun();
    const cases: Array<[string, string, string]> = [
      ['/experiments/create', '{"name": "x", "artifact_location": 9.0, "tags": [{"key": "key", "value": "value"}]}', "Invalid value 9.0 for parameter 'artifact_location' supplied: it must be a string."],
      ['/experiments/create', '{"name": "x", "artifact_location": 1e400}', "Invalid value inf for parameter 'artifact_location' supplied: it must be a string."],
      ['/experiments/create', '{"name": "x", "artifact_location": "my_location", "tags": "5"}', "Invalid value 5 for parameter 'tags' supplied: it must be a list of objects."],
      ['/experiments/create', '{"name": 123}', "Invalid value 123 for parameter 'name' supplied: it must be a string."],
      ['/experiments/create', '{"name": ""}', "Missing value for required parameter 'name'."],
      ['/runs/log-metric', `{"run_id": "${runId}", "key": "foo", "value": 31, "timestamp": 59, "step": "foo"}`, "Invalid value foo for parameter 'step' supplied: it must be an integer."],
      ['/runs/log-metric', `{"run_id": "${runId}", "key": "foo", "value": 31, "timestamp": "foo", "step": 41}`, "Invalid value foo for parameter 'timestamp' supplied: it must be an integer."],
      ['/runs/log-metric', `{"run_id": "${runId}", "key": "foo", "value": 31, "timestamp": 12345678901234567890}`, "Invalid value 12345678901234567890 for parameter 'timestamp' supplied: it must be an integer."],
      ['/runs/log-metric', `{"run_id": "${runId}", "key": "foo", "value": [1.0, true, null], "timestamp": 1}`, "Invalid value [1.0, True, None] for parameter 'value' supplied: it must be a number."],
      ['/runs/set-tag', `{"run_id": "${runId}", "key": "param", "value": 41}`, "Invalid value 41 for parameter 'value' supplied: it must be a string."],
      ['/runs/log-batch', `{"run_id": "${runId}", "metrics": "foo"}`, "Invalid value foo for parameter 'metrics' supplied: it must be a list."],
      ['/runs/log-batch', `{"run_id": "${runId}", "params": "foo"}`, "Invalid value foo for parameter 'params' supplied: it must be a list of objects."],
      ['/runs/log-batch', `{"run_id": "${runId}", "tags": "foo"}`, "Invalid value foo for parameter 'tags' supplied: it must be a list of objects."],
      ['/runs/log-batch', `{"run_id": "${runId}", "metrics": [{"key": "mae", "value": 2.5}]}`, "Invalid value [{'key': 'mae', 'value': 2.5}] for parameter 'metrics' supplied: metric 0 has no 'timestamp'."],
      ['/runs/log-batch', `{"run_id": "${runId}", "metrics": [{"key": "ok", "value": 1.0, "timestamp": 1}, {"value": 2.0, "timestamp": 1}]}`, "Invalid value [{'key': 'ok', 'value': 1.0, 'timestamp': 1}, {'value': 2.0, 'timestamp': 1}] for parameter 'metrics' supplied: metric 1 has no 'key'."],
      ['/runs/log-batch', `{"run_id": "${runId}", "params": [{"value": "v"}]}`, "Invalid value [{'value': 'v'}] for parameter 'params' supplied: param 0 has no 'key'."],
      ['/runs/log-batch', `{"run_id": "${runId}", "tags": [{"key": "", "value": "it's"}]}`, `Invalid value [{'key': '', 'value': "it's"}] for parameter 'tags' supplied: tag 0 has no 'key'.`],
      ['/runs/log-inputs', `{"run_id": "${runId}"}`, "Missing value for required parameter 'datasets'."],
      ['/runs/log-inputs', `{"run_id": "${runId}", "datasets": {"a": 1.50}}`, "Invalid value {'a': 1.5} for parameter 'datasets' supplied: it must be a list of objects."],
    ];
    for (const [path, body, message] of cases) {
      const res = await post(path, body);
      expect({ path, body, status: res.status, json: res.json }).toEqual({ path, body, status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    }
    // Nothing of a refused batch was written; a batch whose metric has a timestamp but no step is taken.
    expect((await post('/runs/log-batch', { run_id: runId, metrics: [{ key: 'mae', value: 2.5, timestamp: 123456789 }] })).status).toBe(200);
    const run = (await send('GET', `${API}/runs/get?run_id=${runId}`)).json.run as { data: { metrics: unknown[]; params?: unknown[] } };
    expect(run.data.metrics).toEqual([{ key: 'mae', value: 2.5, timestamp: 123456789, step: 0 }]);
    expect(run.data.params).toBeUndefined();
    // Empty tag and param values stay allowed (MLflow only requires them to be strings).
    expect((await post('/runs/set-tag', { run_id: runId, key: 'empty', value: '' })).status).toBe(200);
    expect((await post('/runs/log-parameter', { run_id: runId, key: 'empty', value: '' })).status).toBe(200);
    expect((await post('/runs/log-inputs', { run_id: runId, datasets: [] })).status).toBe(200);
  });
});
