/**
 * The JSON body parser for every route. Fastify's default says only "not valid
 * JSON"; this one names the problem (position and token), treats an empty body
 * as no body, and still refuses prototype-poisoning keys.
 */
import { SlipwayError } from '../core/errors.js';

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
