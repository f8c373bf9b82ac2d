/**
 * The JSON body parser for every route. Fastify's default says only "not valid
 * JSON"; this one names the problem (position and token), treats an empty body
 * as no body, still refuses prototype-poisoning keys, and refuses nesting deeper
 * than any client sends before the recursive passes over the value could overflow the stack.
 */
import { SlipwayError } from '../core/errors.js';

/** Deepest nesting of arrays and objects a request body may have; no API field needs more than a few levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * Throws LIMIT_EXCEEDED when `value` nests arrays or objects deeper than `limit`. It walks the
 * parsed value with an explicit stack: V8's JSON.parse itself does not recurse, and visiting
 * containers costs a fraction of a pass over every character of a large body.
 */
export function checkJsonDepth(value: unknown, limit: number = MAX_JSON_DEPTH): void {
  if (value === null || typeof value !== 'object') return;
  const stack: Array<{ node: object; depth: number }> = [{ node: value, depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (top.depth > limit) throw new SlipwayError('LIMIT_EXCEEDED', `The request body is nested more than ${limit} levels deep; the limit is ${limit} levels.`, { limit });
    const { node, depth } = top;
    if (Array.isArray(node)) {
      for (const child of node) if (child !== null && typeof child === 'object') stack.push({ node: child as object, depth: depth + 1 });
    } else {
      for (const key in node) {
        const child = (node as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') stack.push({ node: child, depth: depth + 1 });
      }
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SlipwayError('MALFORMED_REQUEST', `The request body is not valid JSON: ${(err as Error).message}.`);
  }
  // Before any recursive pass (the reviver below, error messages, digests) meets the value.
  checkJsonDepth(value);
  // The reviver pass is slow, so only bodies that could carry a poisoning key pay for it.
  if (text.includes('__proto__') || text.includes('constructor')) JSON.parse(text, rejectPoisoning);
  return value;
}
