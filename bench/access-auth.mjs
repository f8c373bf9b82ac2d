// Cost of access control per request with cached credentials: authenticate (Basic and Bearer)
// plus authorize on a model, against the baseline of the same loop without them, in one run.
// Run after `npm run build`: node bench/access-auth.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessService } from '../dist/access/access-service.js';
import { openStore } from '../dist/store/store.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-access-'));
const store = await openStore(`sqlite:///${join(dir, 'bench.db')}`);
const access = new AccessService({ store });
await access.ensureAdmin('bench-admin-password');
await access.createUser({ username: 'bench', password: 'bench-password' });
const token = await access.createToken('bench', { name: 'bench' });
const basic = `Basic ${Buffer.from('bench:bench-password').toString('base64')}`;
const bearer = `Bearer ${token.secret}`;
const requirement = { kind: 'registered_model', name: 'fraud', level: 'READ' };
const lookups = { experimentOfRun: async () => undefined };
await access.authenticate(basic, '127.0.0.1');
await access.authenticate(bearer, '127.0.0.1');
await access.authorize(await access.authenticate(basic, '127.0.0.1'), requirement, lookups);

const N = 200_000;
function percentiles(samples) {
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length * 0.5)], p99: samples[Math.floor(samples.length * 0.99)] };
}
async function measure(name, fn) {
  const samples = new Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    const r = fn();
    if (r && typeof r.then === 'function') await r;
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const { p50, p99 } = percentiles(samples);
  console.log(`${name.padEnd(44)} p50 ${p50.toFixed(2)} µs   p99 ${p99.toFixed(2)} µs`);
  return p50;
}

const base = await measure('baseline (empty per-request step)', () => undefined);
const b = await measure('authenticate Basic (cached) + authorize', () => {
  const p = access.authenticate(basic, '127.0.0.1');
  return access.authorize(p, requirement, lookups);
});
const t = await measure('authenticate Bearer (cached) + authorize', () => {
  const p = access.authenticate(bearer, '127.0.0.1');
  return access.authorize(p, requirement, lookups);
});
console.log(`added at p50: Basic ${(b - base).toFixed(2)} µs, Bearer ${(t - base).toFixed(2)} µs (target ≤ 5 µs)`);
await store.close();
rmSync(dir, { recursive: true, force: true });
