/** GET /api/v1/audit/events, /audit/head and /audit/verify: read and check the audit trail. */
import { parseHead } from '../../audit/audit-checkpoints.js';
import { auditHead, listAuditEvents, verifyAuditTrail, type AuditEvent as StoredEvent } from '../../audit/audit-trail.js';
import { AuditEventPage, AuditEventsQuery, AuditHead, AuditVerification, AuditVerifyQuery, type AuditEvent } from '../../client/schemas/audit.js';
import { errors } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import { nativeRoute, type NativeRoute } from './native-route.js';

function toWire(e: StoredEvent): AuditEvent {
  return {
    seq: Number(e.seq),
    time: Number(e.time),
    actor: e.actor,
    action: e.action,
    entityType: e.entity_type,
    entityId: e.entity_id,
    requestId: e.request_id,
    changeDigest: e.change_digest,
    prevHash: e.prev_hash,
    hash: e.hash,
    keyId: e.key_id ?? null,
    mac: e.mac ?? null,
    states: e.states ?? null,
  };
}

/** The audit routes. */
export function auditRoutes(ctx: ServerContext): NativeRoute[] {
  return [
    nativeRoute({
      method: 'GET',
      path: '/audit/events',
      tag: 'audit',
      operationId: 'listAuditEvents',
      summary: 'List audit events, oldest first, filtered by entity, action, actor and time (since, until); page with `after`.',
      query: AuditEventsQuery,
      response: AuditEventPage,
      async handler({ query }) {
        // One extra row tells whether another page follows without a count query.
        const rows = await listAuditEvents(ctx.store.db, { ...query, limit: query.limit + 1 });
        const events = rows.slice(0, query.limit).map(toWire);
        const last = events[events.length - 1];
        return rows.length > query.limit && last ? { events, nextAfter: last.seq } : { events };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/audit/head',
      tag: 'audit',
      operationId: 'getAuditHead',
      summary: "The chain's head (its last event's seq and hash), to keep outside Slipway and pass back to verify as expectHead.",
      response: AuditHead,
      async handler() {
        const head = await auditHead(ctx.store.db);
        if (!head) throw errors.notFound('The audit trail is empty: no change has been recorded yet, so there is no head.');
        return head;
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/audit/verify',
      tag: 'audit',
      operationId: 'verifyAuditTrail',
      summary: 'Recompute the hash chain, check MACs, checkpoints, expected heads and entity states; report every problem.',
      query: AuditVerifyQuery,
      response: AuditVerification,
      async handler({ query }) {
        const expectHeads = (query.expectHead ?? []).map((text) => {
          const head = parseHead(text);
          // The schema has checked the form already; this only narrows the type.
          if (!head) throw errors.invalid(`Invalid request: query parameter 'expectHead': must be SEQ:HASH, got '${text}'.`, { field: 'expectHead' });
          return head;
        });
        return verifyAuditTrail(ctx.store.db, { expectHeads });
      },
    }),
  ];
}
