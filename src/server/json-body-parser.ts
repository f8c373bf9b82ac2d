/**
 * The JSON body parser for every route. Fastify's default says only "not valid
 * JSON"; this one names the problem (position and token), treats an empty body
 * as no body, still refuses prototype-poisoning keys, and refuses nesting deeper
 * than any client sends before the recursive passes over the value could overflow the stack.
 * Routes whose error messages quote a value exactly as it was sent (MLflow's "Invalid value 9.0 for
 * parameter …": JSON.parse turns 9.0 into 9) parse with `parseJsonBodyKeepingText` instead and read the
 * text back with `jsonBodyText` on their error paths only.
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

// Keyed by the parsed body, so the text lives exactly as long as the request's body does.
const bodyTexts = new WeakMap<object, string>();

/**
 * Parses a request body as `parseJsonBody` does and remembers its text for `jsonBodyText`. Costs a
 * WeakMap entry per request and keeps the text alive as long as the parsed body: meant for routes with
 * small bodies or short-lived ones (the MLflow tracking routes), not for bodies kept in queues.
 */
export function parseJsonBodyKeepingText(text: string): unknown {
  const value = parseJsonBody(text);
  if (value !== null && typeof value === 'object') bodyTexts.set(value, text);
  return value;
}

/** The text a body parsed by `parseJsonBodyKeepingText` was parsed from; undefined for any other value. */
export function jsonBodyText(body: unknown): string | undefined {
  return body !== null && typeof body === 'object' ? bodyTexts.get(body) : undefined;
}
