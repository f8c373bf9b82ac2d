/**
 * Audit tampering detection: builds a store through the real services (SQLite, and
 * PostgreSQL at 127.0.0.1:5432 when it answers), applies each tampering case with
 * direct SQL, runs verification and prints detected/total. The baseline is the same
 * run judged by the hash chain alone (altered/missing/inserted/broken-link), which
 * is what verification checked before keys, checkpoints and states.
 *
 *   npm run build && node bench/audit-tampering.mjs [--pg postgresql://postgres@127.0.0.1:5432]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AuditKeyring } from '../dist/audit/audit-keyring.js';
import { attachAuditTrail, eventHash, listAuditEvents, verifyAuditTrail } from '../dist/audit/audit-trail.js';
import { RegistryService } from '../dist/registry/registry-service.js';
import { openStore } from '../dist/store/store.js';
import { TrackingService } from '../dist/tracking/tracking-service.js';

const pgFlag = process.argv.indexOf('--pg');
const PG = pgFlag > 0 ? process.argv[pgFlag + 1] : 'postgresql://postgres@127.0.0.1:5432';
const CHAIN_KINDS = new Set(['altered', 'missing', 'inserted', 'broken-link']);

async function rehash(db, fromSeq, stripMacs) {
  const events = await listAuditEvents(db, { limit: 1_000_000 });
  let prev = events.find((e) => Number(e.seq) === fromSeq - 1)?.hash ?? '0'.repeat(64);
  for (const e of events) {
    if (Number(e.seq) < fromSeq) continue;
    const next = { ...e, actor: Number(e.seq) === fromSeq ? 'mallory' : e.actor, prev_hash: prev };
    const hash = eventHash(next);
    await db.updateTable('audit_events').set({ actor: next.actor, prev_hash: prev, hash, ...(stripMacs ? { key_id: null, mac: null } : {}) }).where('seq', '=', e.seq).execute();
    prev = hash;
  }
}

async function forgeAppend(db, withMac) {
  const last = (await listAuditEvents(db, { limit: 1_000_000 })).pop();
  const e = { seq: Number(last.seq) + 1, time: Date.now(), actor: 'mallory', action: 'registered_model.delete', entity_type: 'registered_model', entity_id: 'fraud', request_id: null, change_digest: 'd', prev_hash: last.hash, states: null };
  await db.insertInto('audit_events').values({ ...e, hash: eventHash(e), key_id: withMac ? last.key_id : null, mac: withMac ? 'ab'.repeat(32) : null }).execute();
}

const CASES = [
  ['delete the newest event', (db, s) => s`delete from audit_events where seq = (select max(seq) from audit_events)`.execute(db)],
  ['delete the newest 5 events', (db, s) => s`delete from audit_events where seq > (select max(seq) - 5 from audit_events)`.execute(db)],
  ['delete every event', (db, s) => s`delete from audit_events`.execute(db)],
  ['edit an event, re-hash the chain', (db) => rehash(db, 3, false)],
  ['edit an event, re-hash, strip MACs', (db) => rehash(db, 3, true)],
  ['forged append with a made-up MAC', (db) => forgeAppend(db, true)],
  ['forged append without a MAC', (db) => forgeAppend(db, false)],
  ['edit params.value', (db, s) => s`update params set value = '0.5' where key = 'lr'`.execute(db)],
  ['edit model_versions.source', (db, s) => s`update model_versions set source = 's3://evil/model' where version = 1`.execute(db)],
  ['move an alias', (db, s) => s`update registered_model_aliases set version = 2 where alias = 'champion'`.execute(db)],
  ['change a stage', (db, s) => s`update model_versions set current_stage = 'Production' where version = 2`.execute(db)],
];

async function freshUri(backend) {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-audit-'));
    return { uri: `sqlite:///${join(dir, 'slipway.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `slipway_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    uri: `${PG}/${name}`,
    drop: async () => {
      const c = new pg.Client({ connectionString: `${PG}/postgres` });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function runCase(backend, apply) {
  const home = mkdtempSync(join(tmpdir(), 'slipway-bench-audit-home-'));
  const target = await freshUri(backend);
  const opts = { keyFile: join(home, 'audit.key'), keyringDir: join(home, 'audit-keys'), checkpointFile: join(home, 'audit-checkpoints.jsonl') };
  const store = await openStore(target.uri);
  try {
    const trail = attachAuditTrail(store, opts);
    const tracking = new TrackingService(store);
    const registry = new RegistryService({ store });
    const run = await tracking.createRun({ experimentId: '0', runName: 'bench' });
    await tracking.logParam(run.info.runId, 'lr', '0.1');
    for (let i = 0; i < 20; i++) await tracking.logMetric(run.info.runId, { key: 'loss', value: 1 / (i + 1), timestamp: i, step: i });
    await tracking.logBatch(run.info.runId, { metrics: [{ key: 'acc', value: 0.9, timestamp: 1, step: 1 }], params: [{ key: 'depth', value: '6' }] });
    await registry.createRegisteredModel({ name: 'fraud' });
    await registry.createModelVersion({ name: 'fraud', source: 's3://bucket/fraud/1' });
    await registry.createModelVersion({ name: 'fraud', source: 's3://bucket/fraud/2' });
    await registry.setAlias('fraud', 'champion', 1);
    await registry.transitionStage('fraud', 2, 'Staging', false);
    await trail.close();
    const { sql } = await import('kysely');
    const clean = await verifyAuditTrail(store.db, { keyring: AuditKeyring.load(opts), checkpointFile: opts.checkpointFile });
    if (!clean.ok) throw new Error(`untouched store failed verification: ${JSON.stringify(clean.problems)}`);
    await apply(store.db, sql);
    const v = await verifyAuditTrail(store.db, { keyring: AuditKeyring.load(opts), checkpointFile: opts.checkpointFile });
    return { detected: !v.ok, chainOnly: v.problems.some((p) => CHAIN_KINDS.has(p.kind)), kinds: [...new Set(v.problems.map((p) => p.kind))] };
  } finally {
    await store.close();
    await target.drop();
    rmSync(home, { recursive: true, force: true });
  }
}

async function pgAvailable() {
  const c = new pg.Client({ connectionString: `${PG}/postgres`, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

const backends = ['sqlite', ...((await pgAvailable()) ? ['postgres'] : [])];
let total = 0;
let detected = 0;
let baseline = 0;
for (const backend of backends) {
  for (const [name, apply] of CASES) {
    const r = await runCase(backend, apply);
    total++;
    if (r.detected) detected++;
    if (r.chainOnly) baseline++;
    console.log(`${backend.padEnd(8)}  ${name.padEnd(38)}  ${r.detected ? 'detected' : 'MISSED  '}  chain only: ${r.chainOnly ? 'detected' : 'missed'}  (${r.kinds.join(', ')})`);
  }
}
if (!backends.includes('postgres')) console.log(`PostgreSQL at ${PG} did not answer: SQLite only.`);
console.log(`\ndetected ${detected}/${total} tampering cases (${((100 * detected) / total).toFixed(0)} %); baseline, hash chain alone: ${baseline}/${total}`);
process.exitCode = detected === total ? 0 : 1;
