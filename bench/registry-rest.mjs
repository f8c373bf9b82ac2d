/**
 * Model-registry round trips over MLflow REST, one request at a time on one keep-alive connection:
 * create_model_version (Slipway also reads the ONNX signature), get_model_version_by_alias,
 * search_model_versions with a name + tag filter, and search_registered_models with a LIKE filter.
 * Reports p50/p90/p99 for Slipway and, measured the same way in the same run, the real MLflow server.
 *
 *   npm run build && node bench/registry-rest.mjs [--versions 300] [--models 300] [--requests 500] [--duration 10] [--url URL]
 *
 * --url URL   measure only that MLflow-REST server instead of starting both.
 * The MLflow baseline is started as described in tracking-common.mjs (MLFLOW_SERVER_CMD).
 * Every loop stops at its count or at --duration seconds, whichever comes first.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { URLSearchParams, fileURLToPath } from 'node:url';
import { request } from 'undici';
import { fmt, parseFlags, percentiles, restClient, startMlflow, startSlipway } from './tracking-common.mjs';

const opts = parseFlags({ url: '', versions: 300, models: 300, requests: 500, duration: 10 });
const MODEL = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'breast_cancer_mlp.onnx'));

async function timed(count, fn) {
  const samples = [];
  const stopAt = performance.now() + opts.duration * 1000;
  for (let i = 0; i < count && performance.now() < stopAt; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  return percentiles(samples);
}

async function measure(server) {
  const api = restClient(server.url, 1);
  const name = `bench-${Date.now()}`;
  const q = (params) => new URLSearchParams(params).toString();
  try {
    // The same ONNX file for both servers, uploaded through the mlflow-artifacts proxy.
    const put = await request(`${server.url}/api/2.0/mlflow-artifacts/artifacts/bench/${name}/model/model.onnx`, { method: 'PUT', body: MODEL });
    await put.body.text();
    if (put.statusCode !== 200) throw new Error(`artifact upload -> ${put.statusCode}`);
    await api.post('registered-models/create', { name });
    const source = `mlflow-artifacts:/bench/${name}/model`;
    const create = await timed(opts.versions, (i) =>
      api.post('model-versions/create', { name, source, ...(i % 10 === 0 ? { tags: [{ key: 'k', value: 'v' }] } : {}) }),
    );
    await api.post('registered-models/alias', { name, alias: 'champion', version: '1' });
    const alias = await timed(opts.requests, () => api.get(`registered-models/alias?${q({ name, alias: 'champion' })}`));
    const versions = await timed(opts.requests, () => api.get(`model-versions/search?${q({ filter: `name = '${name}' and tags.k = 'v'` })}`));
    for (let i = 0; i < opts.models; i++) await api.post('registered-models/create', { name: `${name}-m-${i}` });
    const models = await timed(opts.requests, () =>
      api.get(`registered-models/search?${q({ filter: `name LIKE '${name}-m-1%'`, max_results: '100' })}`),
    );
    const rows = { create, alias, versions, models };
    for (const [what, p] of Object.entries(rows)) {
      console.log(`${server.name.padEnd(8)} ${what.padEnd(9)} n=${String(p.n).padStart(4)}  p50 ${p.p50.toFixed(2)} ms  p90 ${p.p90.toFixed(2)} ms  p99 ${p.p99.toFixed(2)} ms`);
    }
    return rows;
  } finally {
    await api.close();
  }
}

const LABELS = {
  create: 'create_model_version',
  alias: 'get_model_version_by_alias',
  versions: "search_model_versions (name + tag)",
  models: "search_registered_models (LIKE)",
};

if (opts.url) {
  await measure({ name: 'target', url: opts.url.replace(/\/$/, '') });
} else {
  const slipway = await startSlipway();
  let s;
  try {
    s = await measure(slipway);
  } finally {
    await slipway.stop();
  }
  const mlflow = await startMlflow();
  let m;
  if (mlflow) {
    try {
      m = await measure(mlflow);
    } finally {
      await mlflow.stop();
    }
  } else {
    console.log('MLflow baseline skipped: set MLFLOW_SERVER_CMD or make `python3 -m mlflow` importable.');
  }
  console.log(`\np50 per call                            Slipway       MLflow    speed-up`);
  for (const [key, label] of Object.entries(LABELS)) {
    const a = s[key].p50;
    const b = m?.[key].p50;
    console.log(`${label.padEnd(36)} ${fmt(a, 2).padStart(9)} ms ${b === undefined ? '       -' : `${fmt(b, 2).padStart(9)} ms`} ${b === undefined ? '' : `${(b / a).toFixed(1).padStart(8)}x`}`);
  }
}
