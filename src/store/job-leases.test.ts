import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { JobRunner, type LeaseGrant } from '../core/job-leases.js';
import { silentLogger } from '../core/logger.js';
import { DIALECTS } from '../../test/support/dialects.js';
import { openJobLeases, type StoreJobLeases } from './job-leases.js';
import { openStore, type Store } from './store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await sleep(20);
  }
}

for (const dialect of DIALECTS) {
  describe(`job leases (${dialect.name})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    /** One store and two processes' leases on it (a second store handle, as another replica would have). */
    async function twoHolders(): Promise<{ store: Store; a: StoreJobLeases; b: StoreJobLeases; storeB: Store }> {
      const { store, uri, dispose } = await dialect.open();
      cleanups.push(dispose);
      const storeB = await openStore(uri);
      cleanups.push(() => storeB.close());
      const a = await openJobLeases(store, { holder: 'a' });
      const b = await openJobLeases(storeB, { holder: 'b' });
      cleanups.push(() => a.close(), () => b.close());
      return { store, a, b, storeB };
    }

    it('gives a lease to one holder at a time and raises the token at each change of holder', async () => {
      const { a, b } = await twoHolders();
      const ga = await a.acquire('job', 2000);
      expect(ga?.holder).toBe('a');
      expect(await b.acquire('job', 2000)).toBeUndefined();
      expect(await a.renew(ga as LeaseGrant, 2000)).toBeDefined();
      await a.release(ga as LeaseGrant);
      const gb = await b.acquire('job', 2000);
      expect(gb?.token).toBe((ga as LeaseGrant).token + 1);
      expect(await a.renew(ga as LeaseGrant, 2000)).toBeUndefined();
    });

    it('fenced work under a lease that changed hands is refused and leaves nothing behind', async () => {
      const { store, a, b } = await twoHolders();
      const ga = (await a.acquire('job', 2000)) as LeaseGrant;
      const write = (g: LeaseGrant, leases: StoreJobLeases, value: string) =>
        leases.fenced(g, (tx) => tx.insertInto('dataset_names').values({ name: value, last_version: g.token, created_time: 0 }).execute());
      await write(ga, a, 'first');
      await a.release(ga);
      const gb = (await b.acquire('job', 2000)) as LeaseGrant;
      await expect(write(ga, a, 'late')).rejects.toMatchObject({ code: 'CONFLICT' });
      await write(gb, b, 'second');
      const names = (await store.db.selectFrom('dataset_names').select('name').orderBy('name').execute()).map((r) => r.name);
      expect(names).toEqual(['first', 'second']);
    });

    it('the runner runs a job in one holder only and hands it over on close', async () => {
      const { a, b } = await twoHolders();
      const runs: string[] = [];
      const ra = new JobRunner({ leases: a, logger: silentLogger, ttlMs: 600 });
      const rb = new JobRunner({ leases: b, logger: silentLogger, ttlMs: 600 });
      cleanups.push(() => rb.close(), () => ra.close());
      ra.add({ name: 'tick', intervalMs: 50, run: async () => void runs.push('a') });
      await waitFor(() => runs.length > 0, 3000);
      rb.add({ name: 'tick', intervalMs: 50, run: async () => void runs.push('b') });
      await sleep(700);
      expect(runs.every((r) => r === 'a')).toBe(true);
      await ra.close();
      await waitFor(() => runs.includes('b'), 1000);
      expect(rb.holds('tick')).toBe(true);
    });

    it('a holder that stops renewing is taken over within the lease time, and its late work is refused', async () => {
      const { a, b } = await twoHolders();
      const ga = (await a.acquire('job', 500)) as LeaseGrant;
      // a stalls: no renewals. b keeps trying as a runner would.
      let gb: LeaseGrant | undefined;
      const started = Date.now();
      while (!gb && Date.now() - started < 3000) {
        gb = await b.acquire('job', 500);
        if (!gb) await sleep(100);
      }
      expect(gb).toBeDefined();
      expect(Date.now() - started).toBeLessThan(2000);
      await expect(a.fenced(ga, async () => 'late')).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await a.renew(ga, 500)).toBeUndefined();
    });

    if (dialect.name === 'postgres') {
      it('a holder whose connection dies loses its leases at once, and its runner stops the job', async () => {
        const { a, b, store } = await twoHolders();
        let aborted = false;
        const ra = new JobRunner({ leases: a, logger: silentLogger, ttlMs: 5000 });
        cleanups.push(() => ra.close());
        ra.add({ name: 'job', intervalMs: 10_000, run: async (ctx) => void ctx.signal.addEventListener('abort', () => (aborted = true)) });
        await waitFor(() => ra.holds('job'), 3000);
        const pid = (await store.db.selectFrom('job_leases').select('backend_pid').where('name', '=', 'job').executeTakeFirstOrThrow()).backend_pid;
        const admin = new pg.Client({ connectionString: (store.pool as pg.Pool).options.connectionString });
        await admin.connect();
        await admin.query('select pg_terminate_backend($1)', [pid]);
        await admin.end();
        await waitFor(() => !ra.holds('job'), 2000);
        expect(aborted).toBe(true);
        // Long before the 5 s lease time: the lock went with the connection.
        expect(await b.acquire('job', 5000)).toBeDefined();
      });
    }
  });
}

describe('job leases (sqlite): a holder process that ended', () => {
  it('is taken over at once, without waiting for its lease to run out', async () => {
    const { spawnSync } = await import('node:child_process');
    const { hostname } = await import('node:os');
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('no sqlite dialect');
    const { store, dispose } = await sqlite.open();
    try {
      // A process id that is certainly gone: a child that has exited.
      const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
      const dead = await openJobLeases(store, { holder: `${hostname()}:${gone}:dead` });
      expect(await dead.acquire('job', 60_000)).toBeDefined();
      const live = await openJobLeases(store, { holder: `${hostname()}:${process.pid}:live` });
      expect(await live.acquire('job', 60_000)).toBeDefined();
      // A live holder on this machine is not taken over.
      const third = await openJobLeases(store, { holder: 'x' });
      expect(await third.acquire('job', 60_000)).toBeUndefined();
    } finally {
      await dispose();
    }
  });
});

describe('job runner (sqlite): a renewal refused', () => {
  it('aborts the running job at once and stops running it', async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('no sqlite dialect');
    const { store, dispose } = await sqlite.open();
    const a = await openJobLeases(store, { holder: 'a' });
    const runner = new JobRunner({ leases: a, logger: silentLogger, ttlMs: 600 });
    try {
      let runs = 0;
      let aborted = false;
      runner.add({
        name: 'job',
        intervalMs: 50,
        run: async (ctx) => {
          runs++;
          ctx.signal.addEventListener('abort', () => (aborted = true), { once: true });
        },
      });
      await waitFor(() => runs > 0, 3000);
      // Another process takes the lease over (as after an expiry it did not see coming).
      await store.db.updateTable('job_leases').set({ expires_at: 0 }).where('name', '=', 'job').execute();
      const b = await openJobLeases(store, { holder: 'b' });
      expect(await b.acquire('job', 60_000)).toBeDefined();
      await waitFor(() => aborted, 1000);
      expect(runner.holds('job')).toBe(false);
      const after = runs;
      await sleep(300);
      expect(runs).toBe(after);
    } finally {
      await runner.close();
      await dispose();
    }
  });
});
