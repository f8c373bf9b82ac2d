/**
 * A plain folder laid out as `objects/ab/<62 hex>` behind the object cache's interface, for testing
 * remote transfers on their own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import type { Manifest } from './data-types.js';
import type { FetchCache } from './remote-cache-batch.js';

/** An object cache over a plain folder, checking digests on the way in as the real cache does. */
export class FolderObjectCache implements FetchCache {
  constructor(readonly root: string) {}

  pathOf(sha256: string): string {
    return join(this.root, 'objects', sha256.slice(0, 2), sha256.slice(2));
  }

  async has(sha256: string): Promise<boolean> {
    return (await lstat(this.pathOf(sha256)).catch(() => undefined))?.isFile() ?? false;
  }

  async putBytes(sha256: string, bytes: Uint8Array): Promise<void> {
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new SlipwayError('INTEGRITY_ERROR', `Content does not match ${sha256}.`);
    const target = this.pathOf(sha256);
    await mkdir(join(target, '..'), { recursive: true });
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, bytes, { mode: 0o444 });
    await rename(temp, target);
  }

  async putFile(sha256: string, file: string): Promise<void> {
    await this.putBytes(sha256, await readFile(file));
  }

  async readManifest(sha256: string): Promise<Manifest> {
    return JSON.parse(await readFile(this.pathOf(sha256), 'utf8')) as Manifest;
  }

  async adoptCopies(copies: ReadonlyArray<{ sha256: string; temp: string }>): Promise<number> {
    for (const c of copies) {
      await mkdir(join(this.pathOf(c.sha256), '..'), { recursive: true });
      await rename(c.temp, this.pathOf(c.sha256));
    }
    return copies.length;
  }

  /** Stores `bytes` and returns their digest. */
  async add(bytes: Uint8Array): Promise<string> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.putBytes(sha256, bytes);
    return sha256;
  }
}
