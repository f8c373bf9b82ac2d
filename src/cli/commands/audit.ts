/** `slipway audit log|verify|head|rotate-key`: read and check the hash-chained audit trail, on a server or the embedded store. */
import type { Command } from 'commander';
import type { AuditEventsQuery } from '../../client/schemas/audit.js';
import { parseDuration } from '../../core/duration.js';
import { SlipwayError } from '../../core/errors.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { EXIT, addHelpEpilogue, errorLine, formatJson, formatTime, formatVerdict, positiveInt, printList, resolveStoreConfig, runAction, usageErrorsExit2 } from '../output.js';

interface LogFlags extends ConnectionFlags {
  entityType?: string;
  entityId?: string;
  action?: string;
  actor?: string;
  after?: number;
  since?: number;
  until?: number;
  limit?: number;
  format?: string;
  json?: boolean;
}

const DAY_MS = 86_400_000;

/**
 * Reads `--since`/`--until`: an ISO 8601 time, epoch milliseconds, or a duration meaning "that long ago"
 * (`90s`, `15m`, `24h`, `7d`), against `now`.
 */
export function parseAuditTime(flag: string, raw: string, now: number = Date.now()): number {
  const text = raw.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  } else if (/^\d{11,}$/.test(text)) {
    return Number(text);
  } else {
    const days = /^(\d+(?:\.\d+)?)d$/.exec(text);
    if (days) return now - Number(days[1]) * DAY_MS;
    try {
      return now - parseDuration(text, { name: flag });
    } catch {
      // Falls through to the message below, which names every accepted form.
    }
  }
  throw new SlipwayError('INVALID_ARGUMENT', `${flag} must be an ISO 8601 time (2024-05-01T12:00:00Z), epoch milliseconds, or a duration meaning "ago" such as 30m, 24h or 7d; got '${raw}'.`);
}

/** Registers `slipway audit`. */
export function register(program: Command): void {
  const audit = program.command('audit').description('List and verify the tamper-evident audit trail');

  addConnectionOptions(
    audit
      .command('log')
      .description('List audit events, oldest first, or export them as JSON lines (--format jsonl)')
      .option('--entity-type <type>', 'only events on this entity type (experiment, run, registered_model, model_version, …)')
      .option('--entity-id <id>', 'only events on this entity id')
      .option('--action <action>', 'only this action (e.g. run.create)')
      .option('--actor <actor>', 'only events by this actor')
      .option('--since <time>', 'only events at or after this time: ISO 8601, epoch ms, or a duration ago (24h, 7d)', (raw: string) => parseAuditTime('--since', raw))
      .option('--until <time>', 'only events before this time: ISO 8601, epoch ms, or a duration ago (1h)', (raw: string) => parseAuditTime('--until', raw))
      .option('--after <seq>', 'only events after this sequence number (paging)', positiveIntOrZero)
      .option('--limit <n>', 'most events to list (default 100; with --format jsonl, every matching event)', positiveInt('--limit'))
      .option('--format <format>', 'table (default) or jsonl: one JSON event per line, every matching event, fetched page by page (for SIEM ingestion)')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: LogFlags) => {
      const format = flags.format ?? 'table';
      if (format !== 'table' && format !== 'jsonl') throw new SlipwayError('INVALID_ARGUMENT', `--format must be table or jsonl, got '${flags.format}'.`);
      if (format === 'jsonl' && flags.json) throw new SlipwayError('INVALID_ARGUMENT', '--json and --format jsonl are two output formats: give one of them.');
      if (flags.since !== undefined && flags.until !== undefined && flags.since >= flags.until) {
        throw new SlipwayError('INVALID_ARGUMENT', `--since (${new Date(flags.since).toISOString()}) must be before --until (${new Date(flags.until).toISOString()}).`);
      }
      const filter: AuditEventsQuery = { entityType: flags.entityType, entityId: flags.entityId, action: flags.action, actor: flags.actor, since: flags.since, until: flags.until };
      if (format === 'jsonl') {
        const written = await withConnection(flags, (client) => exportJsonLines(client.audit.events, filter, flags.after, flags.limit), { readOnly: true });
        process.stderr.write(`exported ${written} audit event(s)\n`);
        return;
      }
      const page = await withConnection(flags, (client) => client.audit.events({ ...filter, after: flags.after, limit: flags.limit ?? 100 }), { readOnly: true });
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
      'slipway audit log --actor ana --since 24h',
      'slipway audit log --since 2024-05-01T00:00:00Z --until 2024-06-01T00:00:00Z --format jsonl > audit.jsonl',
      'slipway audit verify --expect-head audit-head.txt',
      'slipway audit verify --server http://127.0.0.1:5000 --json',
      'slipway audit head > audit-head.txt',
      'slipway audit rotate-key',
    ],
    exitCodes: { 1: 'audit verify found a problem (tampering, a broken chain, a head that does not match), or a runtime failure' },
    docs: ['cli.md'],
  });
}

/** Writes every matching event as one JSON line, a page at a time, waiting for stdout to drain; returns how many. */
async function exportJsonLines(
  events: (q: AuditEventsQuery) => Promise<{ events: unknown[]; nextAfter?: number }>,
  filter: AuditEventsQuery,
  after: number | undefined,
  max: number | undefined,
): Promise<number> {
  let written = 0;
  let from = after;
  for (;;) {
    const want = max === undefined ? 1000 : Math.min(1000, max - written);
    if (want <= 0) return written;
    const page = await events({ ...filter, after: from, limit: want });
    if (page.events.length > 0) {
      const text = page.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
      if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      written += page.events.length;
    }
    if (page.nextAfter === undefined) return written;
    from = page.nextAfter;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveIntOrZero(raw: string): number {
  return raw.trim() === '0' ? 0 : positiveInt('--after')(raw);
}
