/** Wire schemas of the audit routes. */
import { z } from 'zod';
import { RepeatedString, named, pageSize } from './common.js';

/** A stored audit event. */
export const AuditEvent = named(
  z.object({
    seq: z.number().int().describe('Position in the chain, gap-free from 1.'),
    time: z.number().int().describe('When the change was committed (epoch ms).'),
    actor: z.string().describe('Who made the change; "anonymous" until authentication is enabled.'),
    action: z.string().describe('What was done, e.g. run.create, model_version.transition_stage.'),
    entityType: z.string(),
    entityId: z.string(),
    requestId: z.string().nullable().describe('The HTTP request that made the change, when there was one.'),
    changeDigest: z.string().describe('sha256 of the canonical JSON of the change.'),
    prevHash: z.string().describe("The previous event's hash."),
    hash: z.string().describe('sha256 over this event\'s fields and prevHash.'),
    keyId: z.string().nullable().describe('The audit key that signed the event; null on events written before audit keys existed.'),
    mac: z.string().nullable().describe('HMAC-SHA256 of the hash under that key.'),
    states: z.string().nullable().describe('Canonical JSON of the entity-state digests the event vouches for (registered models, params).'),
  }),
  'AuditEvent',
  'One entry of the hash-chained audit trail.',
);
/** A stored audit event. */
export type AuditEvent = z.infer<typeof AuditEvent>;

/** An instant in a query: epoch milliseconds, or an ISO 8601 time such as 2024-05-01T12:00:00Z. */
const Instant = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const text = String(value).trim();
  const ms = /^\d+$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `must be epoch milliseconds or an ISO 8601 time such as 2024-05-01T12:00:00Z, got '${text}'` });
    return z.NEVER;
  }
  return ms;
});

/** Filters and paging for GET /audit/events. */
export const AuditEventsQuery = z.object({
  entityType: z.string().min(1).optional(),
  entityId: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  actor: z.string().min(1).optional(),
  after: z.coerce.number<number>().int().nonnegative().optional().describe('Only events with a larger seq (use the previous page\'s nextAfter).'),
  since: Instant.optional().describe('Only events committed at or after this time: epoch ms or ISO 8601.'),
  until: Instant.optional().describe('Only events committed before this time: epoch ms or ISO 8601.'),
  limit: pageSize(1000, 100),
});
/** Filters and paging for listing audit events. */
export type AuditEventsQuery = z.input<typeof AuditEventsQuery>;

/** A page of audit events. */
export const AuditEventPage = named(
  z.object({
    events: z.array(AuditEvent),
    nextAfter: z.number().int().optional().describe('Pass as `after` to get the next page; absent on the last page.'),
  }),
  'AuditEventPage',
  'Audit events, oldest first.',
);
/** A page of audit events. */
export type AuditEventPage = z.infer<typeof AuditEventPage>;

/** The chain's head: its last event. */
export const AuditHead = named(
  z.object({ seq: z.number().int().describe('The last event\'s seq.'), hash: z.string().describe('The last event\'s hash.') }),
  'AuditHead',
  'The last event of the chain. Keep it outside Slipway (as SEQ:HASH) and pass it to verify as expectHead to detect a rewritten or truncated chain.',
);
/** The chain's head. */
export type AuditHead = z.infer<typeof AuditHead>;

/** `SEQ:HASH` as `slipway audit head` prints it (and parseHead in src/audit reads it). */
const HEAD = /^\s*\d+:[0-9a-f]{64}\s*$/;

/** Query of GET /audit/verify. */
export const AuditVerifyQuery = z.object({
  expectHead: RepeatedString.pipe(
    z.array(z.string().regex(HEAD, { error: (iss) => `must be SEQ:HASH (a sequence number, a colon and 64 lowercase hex digits) as GET /audit/head gives it, got '${String(iss.input)}'` })),
  )
    .optional()
    .describe('A head kept outside Slipway, SEQ:HASH; repeat the parameter for several. Each is checked like a checkpoint: a different hash at that seq, or a chain that ends before it, is a problem.'),
});
/** Query of GET /audit/verify. */
export type AuditVerifyQuery = z.input<typeof AuditVerifyQuery>;

/** The result of verifying the chain. */
export const AuditVerification = named(
  z.object({
    ok: z.boolean().describe('True when no problem was found.'),
    checked: z.number().int().describe('How many events were checked.'),
    authenticated: z.number().int().describe('Events whose MAC verified under the keyring.'),
    unauthenticated: z.number().int().describe('Events without a MAC (written before audit keys existed).'),
    head: z.object({ seq: z.number().int(), hash: z.string() }).nullable().describe('The last event; null for an empty trail.'),
    checkpoints: z.number().int().describe('Checkpoints and expected heads the chain was checked against.'),
    states: z.object({ checked: z.number().int(), unchecked: z.number().int() }).describe('Registered models and params compared with the state the events describe.'),
    pendingMetricPoints: z.number().int().describe('Single-point metric writes not yet sealed into a run.log_metrics event.'),
    problems: z.array(
      z.object({
        seq: z.number().int(),
        kind: z.enum(['altered', 'missing', 'inserted', 'broken-link', 'forged', 'unauthenticated', 'unknown-key', 'truncated', 'checkpoint-mismatch', 'state-mismatch']),
        message: z.string(),
      }),
    ),
  }),
  'AuditVerification',
  'What verifying the audit trail found.',
);
/** The result of verifying the chain. */
export type AuditVerification = z.infer<typeof AuditVerification>;
