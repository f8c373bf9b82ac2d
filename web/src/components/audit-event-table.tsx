/** The audit events as a table: one row per event, its full record behind a disclosure. */
import type { ReactNode } from 'react';
import type { AuditEvent } from '../../../src/client/schemas/audit.js';
import { formatTime } from './format';
import { Link, href } from '../router';
import type { AuditFilters } from '../api/audit';

/** The event's stored fields beyond the columns, with `states` parsed when it is JSON. */
function detailsOf(e: AuditEvent): Record<string, unknown> {
  let states: unknown = e.states;
  if (typeof e.states === 'string') {
    try {
      states = JSON.parse(e.states);
    } catch {
      // Shown as stored: verification reports a state that does not parse.
    }
  }
  return { requestId: e.requestId, changeDigest: e.changeDigest, prevHash: e.prevHash, hash: e.hash, keyId: e.keyId, mac: e.mac, states };
}

/** Props of AuditEventTable. */
export interface AuditEventTableProps {
  events: AuditEvent[];
  /** The filters in force, kept in the links that narrow the list to one actor, action or entity. */
  filters: AuditFilters;
}

/** The table of events, oldest first as the server pages them. */
export function AuditEventTable({ events, filters }: AuditEventTableProps): ReactNode {
  const narrow = (extra: AuditFilters): string => href('/audit', { ...filters, ...extra });
  return (
    <table className="data audit-events">
      <caption className="visually-hidden">Audit events, oldest first</caption>
      <thead>
        <tr>
          <th scope="col" className="num">
            Seq
          </th>
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Entity</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.seq}>
            <td className="num mono">{e.seq}</td>
            <td className="nowrap">
              <time dateTime={new Date(e.time).toISOString()}>{formatTime(e.time)}</time>
            </td>
            <td>
              <Link to={narrow({ actor: e.actor })} title={`Only events by ${e.actor}`}>
                {e.actor}
              </Link>
            </td>
            <td>
              <Link to={narrow({ action: e.action })} className="mono" title={`Only ${e.action} events`}>
                {e.action}
              </Link>
            </td>
            <td className="audit-entity">
              <span className="muted">{e.entityType}</span>{' '}
              <Link to={narrow({ entityType: e.entityType, entityId: e.entityId })} className="mono" title={`Only events of ${e.entityType} ${e.entityId}`}>
                {e.entityId}
              </Link>
            </td>
            <td>
              <details className="audit-details">
                <summary>
                  <span className="visually-hidden">Event {e.seq}: </span>JSON
                </summary>
                <pre className="preview">{JSON.stringify(detailsOf(e), null, 2)}</pre>
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
