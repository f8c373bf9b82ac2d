/** `slipway audit log|verify`: read and check the hash-chained audit trail. */
import type { Command } from 'commander';
import { EXIT, addStoreOptions, formatJson, formatTime, positiveInt, printList, runAction, usageErrorsExit2, withLocalStore, type StoreFlags } from '../output.js';

interface LogFlags extends StoreFlags {
  entityType?: string;
  entityId?: string;
  action?: string;
  actor?: string;
  after?: number;
  limit: number;
  json?: boolean;
}

/** Registers `slipway audit`. */
export function register(program: Command): void {
  const audit = program.command('audit').description('List and verify the tamper-evident audit trail');

  addStoreOptions(
    audit
      .command('log')
      .description('List audit events, oldest first')
      .option('--entity-type <type>', 'only events on this entity type (experiment, run, registered_model, model_version, …)')
      .option('--entity-id <id>', 'only events on this entity id')
      .option('--action <action>', 'only this action (e.g. run.create)')
      .option('--actor <actor>', 'only events by this actor')
      .option('--after <seq>', 'only events after this sequence number (paging)', positiveIntOrZero)
      .option('--limit <n>', 'most events to list', positiveInt('--limit'), 100)
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: LogFlags) => {
      const { listAuditEvents } = await import('../../audit/audit-trail.js');
      // One extra row tells whether another page follows.
      const rows = await withLocalStore(flags, (store) =>
        listAuditEvents(store.db, {
          entityType: flags.entityType,
          entityId: flags.entityId,
          action: flags.action,
          actor: flags.actor,
          after: flags.after,
          limit: flags.limit + 1,
        }),
      );
      const events = rows.slice(0, flags.limit);
      printList(
        events,
        [
          { header: 'SEQ', value: (e) => e.seq, alignRight: true },
          { header: 'TIME', value: (e) => formatTime(e.time) },
          { header: 'ACTOR', value: (e) => e.actor },
          { header: 'ACTION', value: (e) => e.action },
          { header: 'ENTITY', value: (e) => `${e.entity_type}/${e.entity_id}` },
          { header: 'REQUEST', value: (e) => e.request_id },
          { header: 'DIGEST', value: (e) => e.change_digest.slice(0, 12) },
        ],
        { json: flags.json, emptyText: '(no audit events)' },
      );
      const last = events[events.length - 1];
      if (rows.length > flags.limit && last) process.stderr.write(`note: more events follow; continue with --after ${last.seq}\n`);
    }),
  );

  addStoreOptions(
    audit
      .command('verify')
      .description('Recompute the hash chain; exit 1 and list every altered, missing or inserted event')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: StoreFlags & { json?: boolean }) => {
      const { verifyAuditTrail } = await import('../../audit/audit-trail.js');
      const result = await withLocalStore(flags, (store) => verifyAuditTrail(store.db));
      if (flags.json) {
        process.stdout.write(formatJson(result));
      } else if (result.ok) {
        process.stdout.write(`ok: ${result.checked} audit events verified, the chain is intact\n`);
      } else {
        for (const p of result.problems) process.stdout.write(`${p.kind.padEnd(11)}  seq ${p.seq}  ${p.message}\n`);
        process.stderr.write(`error: the audit trail failed verification: ${result.problems.length} problem(s) in ${result.checked} events\n`);
      }
      return result.ok ? EXIT.OK : EXIT.FAILED;
    }),
  );

  usageErrorsExit2(audit);
}

function positiveIntOrZero(raw: string): number {
  return raw.trim() === '0' ? 0 : positiveInt('--after')(raw);
}
