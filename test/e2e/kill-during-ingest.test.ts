import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from './server-process.js';

const WRITERS = 4;
const POINTS_PER_BATCH = 200;

async function call<T>(url: string, method: 'GET' | 'POST', body?: unknown): Promise<T> {
  const res = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  if (res.status !== 200) throw new Error(`${method} ${url} → ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

interface Point {
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

async function history(base: string, runId: string, key: string): Promise<Point[]> {
  const out: Point[] = [];
  let token: string | undefined;
  do {
    const q = new URLSearchParams({ run_id: runId, metric_key: key, max_results: '25000' });
    if (token) q.set('page_token', token);
    const page = await call<{ metrics?: Point[]; next_page_token?: string }>(`${base}/api/2.0/mlflow/metrics/get-history?${q}`, 'GET');
    out.push(...(page.metrics ?? []));
    token = page.next_page_token || undefined;
  } while (token);
  return out;
}

describe('kill -9 during log-batch ingest', () => {
  let home: string | undefined;
  const running: ServerProcess[] = [];
  afterEach(() => {
    for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    if (home) removeHome(home);
  });

  it('keeps every acknowledged batch, whole, after a restart', async () => {
    home = freshHome();
    const server = await startServerProcess(home);
    running.push(server);
    const api = `${server.url}/api/2.0/mlflow`;
    const { experiment_id } = await call<{ experiment_id: string }>(`${api}/experiments/create`, 'POST', { name: 'crash-test' });
    const runIds: string[] = [];
    for (let w = 0; w < WRITERS; w++) {
      const { run } = await call<{ run: { info: { run_id: string } } }>(`${api}/runs/create`, 'POST', { experiment_id, start_time: Date.now() });
      runIds.push(run.info.run_id);
    }

    // Each writer posts batches until the server dies; a batch counts only once it got a 200.
    const acknowledged: number[][] = runIds.map(() => []);
    let sent = 0;
    const writer = async (w: number) => {
      for (let batch = 0; batch < 100_000; batch++) {
        const metrics = Array.from({ length: POINTS_PER_BATCH }, (_, i) => ({ key: 'loss', value: batch + i / 1000, step: batch * POINTS_PER_BATCH + i, timestamp: 1_700_000_000_000 + batch }));
        const params = [{ key: `batch_${batch}`, value: `w${w}` }];
        try {
          const res = await fetch(`${api}/runs/log-batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run_id: runIds[w], metrics, params }) });
          sent++;
          if (res.status !== 200) throw new Error(`log-batch → ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
          acknowledged[w]?.push(batch);
        } catch (err) {
          if ((err as Error).message.startsWith('log-batch')) throw err;
          return; // the server is gone
        }
      }
    };
    const writers = runIds.map((_, w) => writer(w));
    // Let the writers get going, then pull the plug while batches are in flight.
    const deadline = Date.now() + 10_000;
    while (sent < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    server.child.kill('SIGKILL');
    await Promise.all(writers);
    expect(await server.exited).toBe('SIGKILL');
    const total = acknowledged.reduce((n, a) => n + a.length, 0);
    expect(total).toBeGreaterThanOrEqual(20);

    const restarted = await startServerProcess(home);
    running.push(restarted);
    const base = restarted.url;
    for (let w = 0; w < WRITERS; w++) {
      const runId = runIds[w] as string;
      const points = await history(base, runId, 'loss');
      const byBatch = new Map<number, Point[]>();
      for (const p of points) {
        const b = Math.floor(p.step / POINTS_PER_BATCH);
        byBatch.set(b, [...(byBatch.get(b) ?? []), p]);
      }
      // Every acknowledged batch is there, whole and with its values.
      for (const b of acknowledged[w] ?? []) {
        const got = byBatch.get(b) ?? [];
        expect(got.length, `run ${w} batch ${b}`).toBe(POINTS_PER_BATCH);
        expect(got.every((p) => Math.abs(p.value - (b + (p.step - b * POINTS_PER_BATCH) / 1000)) < 1e-9)).toBe(true);
      }
      // A batch cut off by the kill is either fully stored or absent, never half.
      for (const [b, got] of byBatch) expect(got.length, `run ${w} batch ${b}`).toBe(POINTS_PER_BATCH);
      const { run } = await call<{ run: { data: { params?: Array<{ key: string }> } } }>(`${base}/api/2.0/mlflow/runs/get?run_id=${runId}`, 'GET');
      const params = new Set((run.data.params ?? []).map((p) => p.key));
      for (const b of acknowledged[w] ?? []) expect(params.has(`batch_${b}`), `run ${w} param of batch ${b}`).toBe(true);
    }
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  }, 60_000);

  it('shows no partial artifact after a kill -9 mid-upload, and gc clears the leftover', async () => {
    home = freshHome();
    const server = await startServerProcess(home);
    running.push(server);
    const url = (path: string) => `${server.url}/api/2.0/mlflow-artifacts/artifacts/${path}`;
    const v1 = Buffer.alloc(256 * 1024, 1);
    expect((await fetch(url('0/r/artifacts/model.bin'), { method: 'PUT', body: v1 })).status).toBe(200);

    // Two uploads still streaming when the server dies: a new version of model.bin and a new file.
    let chunks = 0;
    const slowBody = () =>
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (chunks++ === 8) server.child.kill('SIGKILL');
          if (chunks > 1000) return controller.close();
          await new Promise((r) => setTimeout(r, 10));
          controller.enqueue(new Uint8Array(64 * 1024).fill(2));
        },
      });
    const uploads = ['0/r/artifacts/model.bin', '0/r/artifacts/new.bin'].map((p) =>
      fetch(url(p), { method: 'PUT', body: slowBody(), duplex: 'half' } as RequestInit).then(
        (r) => r.status,
        () => 'aborted',
      ),
    );
    expect(await Promise.all(uploads)).toEqual(['aborted', 'aborted']);
    expect(await server.exited).toBe('SIGKILL');

    const restarted = await startServerProcess(home);
    running.push(restarted);
    const again = (path: string) => `${restarted.url}/api/2.0/mlflow-artifacts/artifacts/${path}`;
    const kept = Buffer.from(await (await fetch(again('0/r/artifacts/model.bin'))).arrayBuffer());
    expect(kept.equals(v1)).toBe(true);
    expect((await fetch(again('0/r/artifacts/new.bin'))).status).toBe(404);
    const listing = (await (await fetch(`${restarted.url}/api/2.0/mlflow-artifacts/artifacts?path=0/r/artifacts`)).json()) as unknown;
    expect(listing).toEqual({ files: [{ path: 'model.bin', is_dir: false, file_size: v1.length }] });
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);

    const gc = await runCli(['artifacts', 'gc', '--min-age', '0', '--json', '--artifacts-destination', join(home, 'home', 'artifacts')]);
    expect(gc.code).toBe(0);
    const collected = JSON.parse(gc.stdout) as { removedTempFiles: number; removedBlobs: number };
    expect(collected.removedBlobs).toBe(0);
    expect(collected.removedTempFiles).toBeGreaterThanOrEqual(1);
    expect(readdirSync(join(home, 'home', 'artifacts', 'tmp'))).toEqual([]);
  }, 60_000);
});
