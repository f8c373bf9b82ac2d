/** `slipway audit log|verify`: read and check the hash-chained audit trail. */
import type { Command } from 'commander';
import { SlipwayError } from '../../core/errors.js';
import { EXIT, addHelpEpilogue, addStoreOptions, formatJson, formatTime, positiveInt, printList, resolveStoreConfig, runAction, usageErrorsExit2, withLocalStore, type StoreFlags } from '../output.js';

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
        { readOnly: true },
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
      .description('Check the hash chain, the MACs, the checkpoints and the registry and param rows; exit 1 and list every problem')
      .option('--expect-head <head>', 'also check a head kept outside Slipway: SEQ:HASH as printed by `audit head`, or a file holding it (repeatable)', collect, [])
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: StoreFlags & { json?: boolean; expectHead: string[] }) => {
      const [{ verifyAuditTrail }, { parseHead }, { existsSync, readFileSync }] = await Promise.all([
        import('../../audit/audit-trail.js'),
        import('../../audit/audit-checkpoints.js'),
        import('node:fs'),
      ]);
      const expectHeads = flags.expectHead.map((raw) => {
        const text = parseHead(raw) ? raw : existsSync(raw) ? (readFileSync(raw, 'utf8').trim().split('\n').pop() ?? '') : raw;
        const head = parseHead(text);
        if (!head) throw new SlipwayError('INVALID_ARGUMENT', `--expect-head must be SEQ:HASH (a sequence number, a colon and 64 hex digits) or a file holding it, got '${raw}'.`);
        return head;
      });
      const result = await withLocalStore(flags, (store) => verifyAuditTrail(store.db, { expectHeads }), { readOnly: true });
      if (flags.json) {
        process.stdout.write(formatJson(result));
      } else if (result.ok) {
        const notes = [
          `${result.authenticated} authenticated, ${result.unauthenticated} without a MAC (written before audit keys)`,
          `${result.checkpoints} checkpoint(s) matched`,
          `${result.states.checked} registry/param state(s) matched${result.states.unchecked > 0 ? `, ${result.states.unchecked} predate state digests` : ''}`,
        ];
        process.stdout.write(`ok: ${result.checked} audit events verified, the chain is intact\n  ${notes.join('; ')}\n`);
      } else {
        for (const p of result.problems) process.stdout.write(`${p.kind.padEnd(19)}  seq ${p.seq}  ${p.message}\n`);
        process.stderr.write(`error: the audit trail failed verification: ${result.problems.length} problem(s) in ${result.checked} events\n`);
      }
      return result.ok ? EXIT.OK : EXIT.FAILED;
    }),
  );

  addStoreOptions(
    audit
      .command('head')
      .description('Print the chain head as SEQ:HASH, to keep outside Slipway and pass to `audit verify --expect-head`')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: StoreFlags & { json?: boolean }) => {
      const head = await withLocalStore(flags, (store) => store.db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst(), { readOnly: true });
      if (!head) throw new SlipwayError('NOT_FOUND', 'The audit trail is empty: there is no head yet.');
      process.stdout.write(flags.json ? formatJson({ seq: Number(head.seq), hash: head.hash }) : `${Number(head.seq)}:${head.hash}\n`);
    }),
  );

  audit
    .command('rotate-key')
    .description('Retire the active audit key into the keyring folder and create a new one; restart servers to sign with it')
    .option('--config <file>', 'config file (default: ./slipway.yaml when present)')
    .option('--json', 'print JSON')
    .action(
      runAction(async (flags: { config?: string; json?: boolean }) => {
        const [{ rotateAuditKey }, config] = await Promise.all([import('../../audit/audit-keyring.js'), resolveStoreConfig({ config: flags.config })]);
        const rotated = rotateAuditKey(config.audit);
        if (flags.json) process.stdout.write(formatJson(rotated));
        else process.stdout.write(`active audit key: ${rotated.active}${rotated.retired ? `\nretired to ${config.audit.keyringDir}: ${rotated.retired}` : ''}\n`);
      }),
    );

  usageErrorsExit2(audit);
  addHelpEpilogue(audit, {
    examples: [
      'slipway audit log --entity-type registered_model --limit 20',
      'slipway audit verify --expect-head audit-head.txt',
      'slipway audit head > audit-head.txt',
      'slipway audit rotate-key',
    ],
    exitCodes: { 1: 'audit verify found a problem (tampering, a broken chain, a head that does not match), or a runtime failure' },
    docs: ['cli.md'],
  });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveIntOrZero(raw: string): number {
  return raw.trim() === '0' ? 0 : positiveInt('--after')(raw);
}
