/** Opaque page tokens: base64url of a small JSON cursor, checked on the way back in. */
import { errors } from '../core/errors.js';

/** Encodes a cursor as an opaque token. */
export function encodePageToken(cursor: Record<string, number | string>): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** Decodes a token made by `encodePageToken`; `fields` are the numeric fields it must carry. */
export function decodePageToken<K extends string>(token: string | undefined, fields: readonly K[]): Record<K, number> | undefined {
  if (token === undefined || token === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw errors.invalid(`Invalid page token '${token.slice(0, 100)}': it could not be decoded.`);
  }
  if (parsed === null || typeof parsed !== 'object') throw errors.invalid(`Invalid page token '${token.slice(0, 100)}'.`);
  const out = {} as Record<K, number>;
  for (const f of fields) {
    const v = (parsed as Record<string, unknown>)[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw errors.invalid(`Invalid page token '${token.slice(0, 100)}'.`);
    out[f] = v;
  }
  return out;
}
