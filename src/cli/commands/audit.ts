/** `slipway audit log|verify|head|rotate-key`: read and check the hash-chained audit trail, on a server or the embedded store. */
import type { Command } from 'commander';
import { SlipwayError } from '../../core/errors.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { EXIT, addHelpEpilogue, errorLine, formatJson, formatTime, formatVerdict, positiveInt, printList, resolveStoreConfig, runAction, usageErrorsExit2 } from '../output.js';

interface LogFlags extends ConnectionFlags {
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

  addConnectionOptions(
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
      const page = await withConnection(
        flags,
        (client) =>
          client.audit.events({ entityType: flags.entityType, entityId: flags.entityId, action: flags.action, actor: flags.actor, after: flags.after, limit: flags.limit }),
        { readOnly: true },
      );
      const events = page.events;
      printList(
        events,
        [
          { header: 'SEQ', value: (e) => e.seq, alignRight: true },
          { header: 'TIME', value: (e) => formatTime(e.time) },
          { header: 'ACTOR', value: (e) => e.actor },
          { header: 'ACTION', value: (e) => e.action },
          { header: 'ENTITY', value: (e) => `${e.entityType}/${e.entityId}` },
          { header: 'REQUEST', value: (e) => e.requestId },
          { header: 'DIGEST', value: (e) => e.changeDigest.slice(0, 12) },
        ],
        { json: flags.json, emptyText: '(no audit events)' },
      );
      if (page.nextAfter !== undefined) process.stderr.write(`note: more events follow; continue with --after ${page.nextAfter}\n`);
    }),
  );

  addConnectionOptions(
    audit
      .command('verify')
      .description('Check the hash chain, the MACs, the checkpoints and the registry and param rows; exit 1 and list every problem')
      .option('--expect-head <head>', 'also check a head kept outside Slipway: SEQ:HASH as printed by `audit head`, or a file holding it (repeatable)', collect, [])
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ConnectionFlags & { json?: boolean; expectHead: string[] }) => {
      const [{ parseHead }, { existsSync, readFileSync }] = await Promise.all([import('../../audit/audit-checkpoints.js'), import('node:fs')]);
      const expectHeads = flags.expectHead.map((raw) => {
        const text = parseHead(raw) ? raw : existsSync(raw) ? (readFileSync(raw, 'utf8').trim().split('\n').pop() ?? '') : raw;
        const head = parseHead(text);
        if (!head) throw new SlipwayError('INVALID_ARGUMENT', `--expect-head must be SEQ:HASH (a sequence number, a colon and 64 hex digits) or a file holding it, got '${raw}'.`);
        return `${head.seq}:${head.hash}`;
      });
      const result = await withConnection(flags, (client) => client.audit.verify(expectHeads.length > 0 ? { expectHead: expectHeads } : {}), { readOnly: true });
      if (flags.json) {
        process.stdout.write(formatJson(result));
      } else if (result.ok) {
        const notes = [
          `${result.authenticated} authenticated, ${result.unauthenticated} without a MAC (written before audit keys)`,
          `${result.checkpoints} checkpoint(s) matched`,
          `${result.states.checked} registry/param state(s) matched${result.states.unchecked > 0 ? `, ${result.states.unchecked} predate state digests` : ''}`,
        ];
        process.stdout.write(`${formatVerdict(true, `ok: ${result.checked} audit events verified, the chain is intact`)}\n  ${notes.join('; ')}\n`);
      } else {
        for (const p of result.problems) process.stdout.write(`${p.kind.padEnd(19)}  seq ${p.seq}  ${p.message}\n`);
        process.stderr.write(errorLine(`the audit trail failed verification: ${result.problems.length} problem(s) in ${result.checked} events`));
      }
      return result.ok ? EXIT.OK : EXIT.FAILED;
    }),
  );

  addConnectionOptions(
    audit
      .command('head')
      .description('Print the chain head as SEQ:HASH, to keep outside Slipway and pass to `audit verify --expect-head`')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ConnectionFlags & { json?: boolean }) => {
      const head = await withConnection(flags, (client) => client.audit.head(), { readOnly: true });
      process.stdout.write(flags.json ? formatJson(head) : `${head.seq}:${head.hash}\n`);
    }),
  );

  audit
    .command('rotate-key')
    .description('Retire the active audit key into the keyring folder and create a new one; restart servers to sign with it (an admin command: it works on the key files of this machine)')
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
      'slipway audit verify --server http://127.0.0.1:5000 --json',
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
