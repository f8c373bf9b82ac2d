/**
 * The native API's wire contract, as zod schemas. The server validates requests
 * and generates its OpenAPI document from them; the SDK takes its types from them
 * (type-only, so the SDK ships no validation code to browsers).
 */
import { z } from 'zod';

/** Schemas with a name in the OpenAPI document's `components.schemas`. */
export const apiSchemas = z.registry<z.core.JSONSchemaMeta>();

/** Registers `schema` under `id` (a component name) with a description. */
export function named<S extends z.ZodType>(schema: S, id: string, description: string): S {
  apiSchemas.add(schema, { id, description });
  return schema;
}

/** The error body every native route answers with on failure. */
export const ApiErrorBody = named(
  z.object({
    error: z.object({
      code: z.string().describe('A catalogued error code, e.g. NOT_FOUND, INVALID_ARGUMENT.'),
      message: z.string().describe('What went wrong, naming the offending field or id.'),
      details: z.record(z.string(), z.unknown()).optional().describe('Structured context, e.g. the invalid fields.'),
    }),
  }),
  'ApiError',
  'An error: a catalogued code, a message for people and optional details.',
);

/** String key → string value (tags, params). */
export const StringMap = named(z.record(z.string(), z.string()), 'StringMap', 'A map of string keys to string values.');

/** A page size in a query string: 1..max. */
export function pageSize(max: number, fallback: number) {
  return z.coerce.number<number>().int().min(1).max(max).default(fallback).describe(`Most results to return (1-${max}, default ${fallback}).`);
}

/** A query parameter that may be repeated (`?x=a&x=b`) or comma-separated (`?x=a,b`). */
export const RepeatedString = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''));

/** A non-empty string with surrounding spaces trimmed. */
export const Name = z.string().trim().min(1).max(500);

/** Epoch milliseconds. */
export const EpochMillis = z.number().int().nonnegative().describe('Milliseconds since the Unix epoch.');

/** One page of results and the token for the next page, when there is one. */
export interface Page {
  nextPageToken?: string;
}
