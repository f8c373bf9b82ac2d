/** The audit trail's queries: events (filtered, paged), the chain's head and its verification. */
import type { AuditEventPage, AuditHead, AuditVerification } from '../../../src/client/schemas/audit.js';
import { ApiError, api, getJson } from './http';

/** The filters of the event list, as the URL and GET /audit/events name them. */
export interface AuditFilters {
  entityType?: string;
  entityId?: string;
  action?: string;
  actor?: string;
  since?: string;
  until?: string;
}

/** The filter names, in the order the page shows them. */
export const AUDIT_FILTER_KEYS = ['action', 'actor', 'entityType', 'entityId', 'since', 'until'] as const;

/** Events per page. */
export const AUDIT_PAGE_SIZE = 100;

/** One page of events after `after` (0 for the first). */
export function fetchAuditEvents(filters: AuditFilters, after: number, signal?: AbortSignal): Promise<AuditEventPage> {
  return getJson<AuditEventPage>(api('audit', 'events'), { ...filters, after: after > 0 ? after : undefined, limit: AUDIT_PAGE_SIZE }, signal);
}

/** The chain's head, or null when nothing has been recorded yet (the server's 404). */
export async function fetchAuditHead(signal?: AbortSignal): Promise<AuditHead | null> {
  try {
    return await getJson<AuditHead>(api('audit', 'head'), undefined, signal);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}

/** Verifies the chain, checking it against the heads given as SEQ:HASH too. */
export function verifyAudit(expectHeads: string[]): Promise<AuditVerification> {
  return getJson<AuditVerification>(api('audit', 'verify'), { expectHead: expectHeads.length > 0 ? expectHeads : undefined });
}
