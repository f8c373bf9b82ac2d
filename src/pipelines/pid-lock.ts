/**
 * Lock files that say who holds them (pid, host, start time), each written whole under a name of
 * its own (O_EXCL) and linked to the lock's name, which fails when it is taken. A lock whose
 * holder is a dead process on this host is stale and taken over; one held by a live process (or
 * by another host, which cannot be checked) is refused with its holder's details.
 */
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  since: string;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? '') };
  } catch {
    // Unreadable or half-written (its holder is between open and write): treated below.
  }
  return undefined;
}

/** Who holds the lock at `path` when it is held (a live process on this host, or any on another); undefined when it is free or stale. */
export async function liveHolder(path: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(path);
  if (!holder) return undefined;
  return holder.host !== hostname() || alive(holder.pid) ? holder : undefined;
}

/**
 * Tries to take the lock at `path`: the held lock, or the live holder that keeps it. A stale
 * lock (its pid is dead on this host) is moved aside and taken over.
 */
export async function tryLock(path: string): Promise<{ lock: HeldLock } | { holder: LockHolder }> {
  await mkdir(dirname(path), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    // The lock appears whole: written to a file of our own (O_EXCL), then linked to its name, which fails when taken.
    const mine = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
    const handle = await open(mine, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(me)}\n`);
    } finally {
      await handle.close();
    }
    try {
      await link(mine, path);
      let released = false;
      return {
        lock: {
          path,
          release: async () => {
            if (released) return;
            released = true;
            await unlink(path).catch(() => {});
          },
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(mine).catch(() => {});
    }
    const holder = await readHolder(path);
    if (!holder) {
      // Unreadable (damaged, or gone between our link and our read): look again a moment later.
      if (attempt < 20) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      return { holder: { pid: 0, host: 'unknown', since: 'unknown' } };
    }
    if (holder.host !== me.host || alive(holder.pid) || attempt >= 3) return { holder };
    // Stale: moved aside by rename, so of two processes taking it over at once only one moves it.
    const aside = `${path}.stale-${process.pid}-${attempt}`;
    const moved = await rename(path, aside).then(
      () => true,
      () => false,
    );
    if (moved) {
      const was = await readHolder(aside);
      // Another process took the stale lock over between our read and our rename: give its lock back.
      if (!was || was.pid !== holder.pid || was.since !== holder.since) await link(aside, path).catch(() => {});
      await unlink(aside).catch(() => {});
    }
  }
}

/** Waits (polling) until the lock at `path` is free, up to `timeoutMs`; undefined when it never was. */
export async function waitLock(path: string, timeoutMs: number): Promise<HeldLock | { holder: LockHolder }> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const got = await tryLock(path);
    if ('lock' in got) return got.lock;
    if (Date.now() >= deadline) return got;
    await new Promise((r) => setTimeout(r, delay));
  }
}
