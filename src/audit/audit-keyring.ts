/**
 * The keys that authenticate audit events and checkpoints. They live outside the
 * database, so someone who can only write to the database cannot forge a MAC.
 * The active key signs; retired keys stay in the keyring folder so events they
 * signed still verify after a rotation.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SlipwayError } from '../core/errors.js';

/** Where the audit keys live. */
export interface AuditKeyPaths {
  /** The active key; created with mode 0600 at first use. */
  keyFile: string;
  /** Folder of retired keys (`<id>.key`), kept for verification. */
  keyringDir: string;
}

/** One key: its id (stored with every event it signs) and its secret. */
export interface AuditKey {
  id: string;
  secret: Buffer;
}

interface KeyFileBody {
  id: string;
  secret: string;
  created: string;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** HMAC-SHA256 of `text` under `key`, hex. */
export function macOf(key: AuditKey, text: string): string {
  return createHmac('sha256', key.secret).update(text).digest('hex');
}

/** Constant-time comparison of two hex MACs. */
export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function refuseOpenPermissions(path: string): void {
  if (process.platform === 'win32') return;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Audit key file ${path} is readable or writable by group or others (mode ${mode.toString(8).padStart(3, '0')}); run \`chmod 600 ${path}\` so only its owner can use it.`,
      { path },
    );
  }
}

function readKeyFile(path: string): AuditKey {
  refuseOpenPermissions(path);
  let body: KeyFileBody;
  try {
    body = JSON.parse(readFileSync(path, 'utf8')) as KeyFileBody;
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `Audit key file ${path} is not a Slipway audit key: ${(err as Error).message}`, { path });
  }
  const secret = typeof body.secret === 'string' ? Buffer.from(body.secret, 'base64') : Buffer.alloc(0);
  if (typeof body.id !== 'string' || !KEY_ID.test(body.id) || secret.length < 32) {
    throw new SlipwayError('INVALID_ARGUMENT', `Audit key file ${path} is not a Slipway audit key (needs an id and a secret of at least 32 bytes).`, { path });
  }
  return { id: body.id, secret };
}

function newKeyBody(now: Date): KeyFileBody {
  const stamp = now.toISOString().slice(0, 10).replaceAll('-', '');
  return { id: `k${stamp}-${randomBytes(4).toString('hex')}`, secret: randomBytes(32).toString('base64'), created: now.toISOString() };
}

// Written to a temporary file, fsync'd, then linked into place: a reader never sees half a key,
// and of two processes creating the key at once exactly one wins (link fails with EEXIST).
function writeKeyFileExclusive(path: string, body: KeyFileBody): boolean {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(body)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** The active key and every retired key, by id. */
export class AuditKeyring {
  private active: AuditKey | undefined;
  private readonly byId = new Map<string, AuditKey>();

  private constructor(private readonly paths: AuditKeyPaths) {}

  /** Reads the keys that exist; creates none (verification must not invent a key). */
  static load(paths: AuditKeyPaths): AuditKeyring {
    const ring = new AuditKeyring(paths);
    if (existsSync(paths.keyringDir)) {
      for (const name of readdirSync(paths.keyringDir).sort()) {
        if (!name.endsWith('.key')) continue;
        const key = readKeyFile(join(paths.keyringDir, name));
        ring.byId.set(key.id, key);
      }
    }
    if (existsSync(paths.keyFile)) {
      ring.active = readKeyFile(paths.keyFile);
      ring.byId.set(ring.active.id, ring.active);
    }
    return ring;
  }

  /** The key to sign with, created (mode 0600) the first time one is needed. */
  signingKey(): AuditKey {
    if (this.active) return this.active;
    writeKeyFileExclusive(this.paths.keyFile, newKeyBody(new Date()));
    this.active = readKeyFile(this.paths.keyFile);
    this.byId.set(this.active.id, this.active);
    return this.active;
  }

  /** The key with this id, if the keyring holds it. */
  key(id: string): AuditKey | undefined {
    return this.byId.get(id);
  }

  /** The active key's id, if there is one yet. */
  activeId(): string | undefined {
    return this.active?.id;
  }

  /** How many keys the keyring holds. */
  get size(): number {
    return this.byId.size;
  }
}

/**
 * Retires the active key into the keyring folder and creates a new active key.
 * Running servers keep signing with the key they loaded until restarted; both keys verify.
 */
export function rotateAuditKey(paths: AuditKeyPaths): { retired: string | undefined; active: string } {
  let retired: string | undefined;
  if (existsSync(paths.keyFile)) {
    const old = readKeyFile(paths.keyFile);
    mkdirSync(paths.keyringDir, { recursive: true, mode: 0o700 });
    const body = JSON.parse(readFileSync(paths.keyFile, 'utf8')) as KeyFileBody;
    writeKeyFileExclusive(join(paths.keyringDir, `${old.id}.key`), body);
    retired = old.id;
  }
  const fresh = newKeyBody(new Date());
  const staged = join(dirname(paths.keyFile), `.${basename(paths.keyFile)}.new`);
  mkdirSync(dirname(paths.keyFile), { recursive: true });
  const fd = openSync(staged, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(fresh)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(staged, paths.keyFile);
  return { retired, active: fresh.id };
}
