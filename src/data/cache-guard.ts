/**
 * Keeps `data gc` and `data add` apart. An add puts objects in the cache before it writes the
 * pointers that name them, so a gc between the two would remove them. Each add leaves a marker file
 * in `.slipway/locks/` while it runs, and gc holds `.slipway/locks/cache-gc` while it runs; each side
 * creates its own file first and then looks for the other's, so of two that start together at least
 * one sees the other and stops. A marker whose process is gone (on this host) is ignored and removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import type { Workspace } from './workspace.js';

const GC_LOCK = 'cache-gc';
const WRITER_PREFIX = 'cache-add-';

interface Marker {
  pid: number;
  host: string;
  since: number;
}

function locksDir(ws: Workspace): string {
  const dir = join(ws.dir, 'locks');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function markerText(): string {
  return JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() } satisfies Marker);
}

// The marker's owner when it still runs; a marker of a process gone from this host is removed.
function liveMarker(path: string): Marker | undefined {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(path, 'utf8')) as Marker;
  } catch {
    return undefined;
  }
  if (marker.host === hostname() && marker.pid !== process.pid) {
    try {
      process.kill(marker.pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        try {
          unlinkSync(path);
        } catch {
          // Another process removed it first.
        }
        return undefined;
      }
    }
  }
  return marker;
}

function release(path: string): () => void {
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
}

/** Marks this process as adding to the cache until the returned function is called; refused while a gc runs. */
export function beginCacheAdd(ws: Workspace): () => void {
  const dir = locksDir(ws);
  const mine = join(dir, `${WRITER_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(mine, markerText());
  const gc = liveMarker(join(dir, GC_LOCK));
  if (gc) {
    release(mine)();
    throw new SlipwayError('CONFLICT', `slipway data gc (pid ${gc.pid}) is running in this workspace; add once it has finished.`, { pid: gc.pid });
  }
  return release(mine);
}

/** Holds the workspace's gc lock until the returned function is called; refused while another gc or an add runs. */
export function beginCacheGc(ws: Workspace): () => void {
  const dir = locksDir(ws);
  const path = join(dir, GC_LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, markerText(), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = liveMarker(path);
      if (holder) throw new SlipwayError('CONFLICT', `Another slipway data gc (pid ${holder.pid}) is running in this workspace.`, { pid: holder.pid });
      if (attempt > 0) throw new SlipwayError('CONFLICT', `The gc lock ${path} cannot be taken; remove it if no gc is running.`);
    }
  }
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(WRITER_PREFIX)) continue;
    const writer = liveMarker(join(dir, name));
    if (writer) {
      release(path)();
      throw new SlipwayError('CONFLICT', `slipway data add (pid ${writer.pid}) is adding to the cache in this workspace; gc could remove what it has not yet recorded. Run gc once it has finished.`, { pid: writer.pid });
    }
  }
  return release(path);
}
