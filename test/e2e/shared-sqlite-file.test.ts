/**
 * Two `slipway server` processes on one SQLite file, both taking writes at once: every
 * write either got a 200 and is stored exactly once, or got a 503 (not acknowledged,
 * retried by the client as MLflow's does). Nothing else is answered and nothing acknowledged is lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from './server-process.js';

const WRITERS_PER_SERVER = 3;
const WRITE_FOR_MS = 3000;
const POINTS_PER_BATCH = 50;

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('two servers sharing one SQLite file', () => {
  let home: string | undefined;
  const running: ServerProcess[] = [];
  afterEach(() => {
    for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    if (home) removeHome(home);
  });

  it('stores every acknowledged write exactly once', async () => {
    home = freshHome();
    // One after the other, so the second finds the migrations applied.
    running.push(await startServerProcess(home));
    running.push(await startServerProcess(home));
    const apis = running.map((s) => `${s.url}/api/2.0/mlflow`);
    const first = apis[0] as string;
    const created = await post(`${first}/experiments/create`, { name: 'shared' });
    expect(created.status).toBe(200);
    const experimentId = created.json.experiment_id as string;

    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const acknowledgedSteps: number[][] = [];
    const acknowledgedExperiments: string[] = [];
    const deadline = Date.now() + WRITE_FOR_MS;
    const writer = async (api: string, w: number) => {
      const run = await post(`${api}/runs/create`, { experiment_id: experimentId, start_time: Date.now() });
      expect(run.status).toBe(200);
      const runId = (run.json.run as { info: { run_id: string } }).info.run_id;
      const steps: number[] = [];
      acknowledgedSteps[w] = steps;
      for (let batch = 0; Date.now() < deadline; batch++) {
        const metrics = Array.from({ length: POINTS_PER_BATCH }, (_, i) => ({ key: 'loss', value: i, step: batch * POINTS_PER_BATCH + i, timestamp: 1_700_000_000_000 + batch }));
        // Alternate the raw metric path with a Kysely transaction (experiment create).
        const res = batch % 4 === 3 ? await post(`${api}/experiments/create`, { name: `w${w}-b${batch}` }) : await post(`${api}/runs/log-batch`, { run_id: runId, metrics });
        count(res.status);
        if (res.status === 200 && batch % 4 === 3) acknowledgedExperiments.push(`w${w}-b${batch}`);
        else if (res.status === 200) steps.push(...metrics.map((m) => m.step));
      }
      return runId;
    };
    const runIds = await Promise.all(apis.flatMap((api, s) => Array.from({ length: WRITERS_PER_SERVER }, (_, i) => writer(api, s * WRITERS_PER_SERVER + i))));

    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(20);
    for (const [w, runId] of runIds.entries()) {
      const api = apis[w % apis.length] as string;
      // Page through the whole history: a fast machine writes more than one page (25,000 points) per run.
      const stored: number[] = [];
      let token: string | undefined;
      do {
        const page = (await (await fetch(`${api}/metrics/get-history?run_id=${runId}&metric_key=loss&max_results=25000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`)).json()) as { metrics?: Array<{ step: number }>; next_page_token?: string };
        stored.push(...(page.metrics ?? []).map((m) => m.step));
        token = page.next_page_token;
      } while (token);
      stored.sort((a, b) => a - b);
      expect(stored).toEqual([...(acknowledgedSteps[w] ?? [])].sort((a, b) => a - b));
    }
    // Every page: a fast machine creates more than one page of experiments, newest first.
    const names = new Set<string>();
    let pageToken: string | undefined;
    do {
      const search = await post(`${apis[1] as string}/experiments/search`, { max_results: 1000, ...(pageToken ? { page_token: pageToken } : {}) });
      for (const e of search.json.experiments as Array<{ name: string }>) names.add(e.name);
      pageToken = search.json.next_page_token as string | undefined;
    } while (pageToken);
    expect(acknowledgedExperiments.filter((n) => !names.has(n))).toEqual([]);
  }, 60_000);
});
