import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { freshPostgresDatabase } from '../../test/support/dialects.js';
import { REGISTRY_CHANNEL } from '../store/change-feed.js';
import { PostgresChangeListener } from '../store/postgres/postgres-change-listener.js';
import { openStore, type Store } from '../store/store.js';
import { RegistryModelSource } from './registry-model-source.js';
import { RegistryService } from './registry-service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await sleep(10);
  }
  return Date.now() - started;
}

describe('registry changes across processes (PostgreSQL LISTEN/NOTIFY)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(): Promise<{ writer: RegistryService; heard: string[]; listener: PostgresChangeListener; followerStore: Store }> {
    const db = await freshPostgresDatabase();
    cleanups.push(() => db.drop());
    const a = await openStore(db.uri);
    const b = await openStore(db.uri);
    cleanups.push(() => a.close(), () => b.close());
    const writer = new RegistryService({ store: a });
    // Both registries live in this test's process; the follower must hear the writer's notices as another process would.
    const listener = new PostgresChangeListener((b.pool as pg.Pool).options, REGISTRY_CHANNEL, undefined, 'another process');
    cleanups.push(() => listener.close());
    // No polling: only the notices can tell the follower.
    const follower = new RegistryModelSource(new RegistryService({ store: b }), { changes: listener });
    cleanups.push(async () => follower.close());
    await follower.poll();
    const heard: string[] = [];
    follower.onChange((name) => heard.push(name));
    await waitFor(() => listener.connected, 5000);
    await writer.createRegisteredModel({ name: 'm' });
    await writer.createModelVersion({ name: 'm', source: 's3://bucket/m/1' });
    await writer.createModelVersion({ name: 'm', source: 's3://bucket/m/2' });
    await waitFor(() => heard.includes('m'), 2000);
    heard.length = 0;
    return { writer, heard, listener, followerStore: b };
  }

  it('an alias moved in one process is heard by another within a fraction of a second, once', async () => {
    const { writer, heard } = await setup();
    await writer.setAlias('m', 'champion', 1);
    expect(await waitFor(() => heard.includes('m'), 1000)).toBeLessThan(1000);
    heard.length = 0;
    await writer.setAlias('m', 'champion', 2);
    await waitFor(() => heard.includes('m'), 1000);
    await sleep(200);
    expect(heard).toEqual(['m']);
  });

  it('the listener reconnects after its connection is killed and catches up on what it missed', async () => {
    const { writer, heard, listener, followerStore } = await setup();
    const admin = new pg.Client({ connectionString: (followerStore.pool as pg.Pool).options.connectionString });
    await admin.connect();
    cleanups.push(() => admin.end());
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'slipway-listen' and datname = current_database()`);
    await waitFor(() => !listener.connected, 2000);
    // Changed while nobody listened: the resync after reconnecting finds it.
    await writer.setAlias('m', 'champion', 2);
    await waitFor(() => listener.connected, 5000);
    await waitFor(() => heard.includes('m'), 2000);
  });
});
