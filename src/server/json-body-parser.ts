/**
 * The JSON body parser for every route. Fastify's default says only "not valid
 * JSON"; this one names the problem (position and token), treats an empty body
 * as no body, still refuses prototype-poisoning keys, and refuses nesting deeper
 * than any client sends before the recursive passes over the value could overflow the stack.
 */
import { SlipwayError } from '../core/errors.js';

/** Deepest nesting of arrays and objects a request body may have; no API field needs more than a few levels. */
export const MAX_JSON_DEPTH = 64;

/** Throws LIMIT_EXCEEDED when `text` nests arrays or objects deeper than `limit`; one linear pass, brackets in strings ignored. */
export function checkJsonDepth(text: string, limit: number = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) throw new SlipwayError('LIMIT_EXCEEDED', `The request body is nested more than ${limit} levels deep (at position ${i}); the limit is ${limit} levels.`, { limit });
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

function rejectPoisoning(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SlipwayError('MALFORMED_REQUEST', "The request body contains the forbidden key '__proto__'.");
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
    throw new SlipwayError('MALFORMED_REQUEST', "The request body contains the forbidden key 'constructor.prototype'.");
  }
  return value;
}

/** Parses a request body as JSON; throws MALFORMED_REQUEST naming what is wrong. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  checkJsonDepth(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SlipwayError('MALFORMED_REQUEST', `The request body is not valid JSON: ${(err as Error).message}.`);
  }
  // The reviver pass is slow, so only bodies that could carry a poisoning key pay for it.
  if (text.includes('__proto__') || text.includes('constructor')) JSON.parse(text, rejectPoisoning);
  return value;
}
