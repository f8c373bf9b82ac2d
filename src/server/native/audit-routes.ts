/** GET /api/v1/audit/events and /audit/verify: read and check the audit trail. */
import { listAuditEvents, verifyAuditTrail, type AuditEvent as StoredEvent } from '../../audit/audit-trail.js';
import { AuditEventPage, AuditEventsQuery, AuditVerification, type AuditEvent } from '../../client/schemas/audit.js';
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
      summary: 'List audit events, oldest first, filtered by entity, action or actor; page with `after`.',
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
      path: '/audit/verify',
      tag: 'audit',
      operationId: 'verifyAuditTrail',
      summary: 'Recompute the hash chain, check MACs, checkpoints and entity states; report every problem.',
      response: AuditVerification,
      async handler() {
        return verifyAuditTrail(ctx.store.db);
      },
    }),
  ];
}
