/**
 * Tokens `slipway login` stores for later commands: `$SLIPWAY_HOME/credentials.json`, mode
 * 0600 (in a 0700 folder when this creates it), one entry per server URL. Only the token is
 * kept, never a password.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../core/errors.js';

/** What is stored for one server. */
export interface StoredCredential {
  username: string;
  token: string;
  tokenId: string;
  /** When it was stored (epoch ms). */
  created: number;
}

interface CredentialsFile {
  servers: Record<string, StoredCredential>;
}

/** Where the credentials file lives. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(join(env.SLIPWAY_HOME || '.slipway', 'credentials.json'));
}

/** The server URL as the file keys it: no trailing slash. */
export function serverKey(url: string): string {
  return url.replace(/\/+$/, '');
}

function readFile(path: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>;
    return { servers: typeof parsed.servers === 'object' && parsed.servers !== null ? parsed.servers : {} };
  } catch {
    throw new SlipwayError('INVALID_ARGUMENT', `The credentials file ${path} is not valid JSON; remove it and run 'slipway login' again.`);
  }
}

/** The token stored for `serverUrl`, if any. */
export function storedCredential(serverUrl: string, env: NodeJS.ProcessEnv = process.env): StoredCredential | undefined {
  try {
    return readFile(credentialsPath(env)).servers[serverKey(serverUrl)];
  } catch {
    // An unreadable file must not break commands that give their own credentials.
    return undefined;
  }
}

/** Stores the token for `serverUrl`, replacing an earlier one; returns the file's path. */
export function storeCredential(serverUrl: string, credential: StoredCredential, env: NodeJS.ProcessEnv = process.env): string {
  const path = credentialsPath(env);
  const dir = resolve(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = readFile(path);
  file.servers[serverKey(serverUrl)] = credential;
  // Written whole to a private temporary file first, so no reader sees it half-written or readable by others.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}
