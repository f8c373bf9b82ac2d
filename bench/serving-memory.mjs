/**
 * Memory of many served models, against same-run baselines.
 *
 *   npm run build && node bench/serving-memory.mjs [models]
 *
 * Starts `slipway serve` with one ~1.2 MB MLP (64→512→512→10, random weights),
 * loads 19 more (different weights) through the repository API, sends requests to
 * every model so each session has allocated its working memory, then reads the
 * process's resident set (Linux /proc). Baselines measured in the same run: a bare
 * node:http process, and `slipway serve` with a single model.
 * Target: 20 served models within 300 MB RSS.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { request } from 'undici';
import { buildMlp } from './onnx-builder.mjs';
import { fmt, scratch, startBare, startServe } from './serving-common.mjs';

const count = Number(process.argv[2] ?? 20);
console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);

function rssMiB(pid) {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

const files = Array.from({ length: count }, (_, i) => {
  const path = join(scratch, `model-${i}.onnx`);
  writeFileSync(path, buildMlp([64, 512, 512, 10], { seed: 100 + i }));
  return path;
});
const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 64], data: new Array(256).fill(0.5) }] });
const post = async (url, payload) => {
  const res = await request(url, { method: 'POST', body: payload, headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${text}`);
  return text;
};

const bare = await startBare('{}');
const serve = await startServe(files[0], ['--name', 'm0']);
try {
  await new Promise((r) => setTimeout(r, 500));
  const bareRss = rssMiB(bare.pid);
  for (let k = 0; k < 50; k++) await post(`${serve.url}/v2/models/m0/infer`, body);
  const oneRss = rssMiB(serve.pid);
  for (let i = 1; i < count; i++) await post(`${serve.url}/v2/repository/models/m${i}/load`, JSON.stringify({ parameters: { uri: files[i] } }));
  for (let k = 0; k < 50; k++) await Promise.all(files.map((_, i) => post(`${serve.url}/v2/models/m${i}/infer`, body)));
  const index = JSON.parse(await post(`${serve.url}/v2/repository/index`, '{"ready": true}'));
  const allRss = rssMiB(serve.pid);
  console.log(`memory, ${count} served MLPs of ${fmt(statSync(files[0]).size / 1e6, 2)} MB each (${index.length} ready)`);
  console.log(`  bare node:http process         : ${fmt(bareRss, 1)} MiB RSS`);
  console.log(`  slipway serve, 1 model         : ${fmt(oneRss, 1)} MiB RSS`);
  console.log(`  slipway serve, ${count} models       : ${fmt(allRss, 1)} MiB RSS (target <= 300 MB = ${fmt(300e6 / 2 ** 20, 1)} MiB)`);
  console.log(`  per additional model           : ${fmt((allRss - oneRss) / (count - 1), 2)} MiB`);
} finally {
  await serve.stop();
  await bare.stop();
}
