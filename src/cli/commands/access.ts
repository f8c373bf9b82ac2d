/**
 * `slipway users …`, `slipway tokens …`, `slipway permissions …` and `slipway login`: manage
 * who may use a server with access control, and sign this command line in to one.
 */
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import type { ApiToken, PermissionGrant, User } from '../../client/schemas/access.js';
import { parseDuration } from '../../core/duration.js';
import { SlipwayError } from '../../core/errors.js';
import { addConnectionOptions, addTargetOptions, resolveTarget, withConnection, type ConnectionFlags } from '../connection.js';
import { storeCredential } from '../credentials.js';
import { formatJson, formatTime, printList, runAction, type Column } from '../output.js';

const USER_COLUMNS: Column<User>[] = [
  { header: 'ID', value: (u) => u.id, alignRight: true },
  { header: 'USERNAME', value: (u) => u.username },
  { header: 'ADMIN', value: (u) => (u.isAdmin ? 'yes' : 'no') },
  { header: 'RIGHTS', value: (u) => u.rights.join(', ') },
  { header: 'CREATED', value: (u) => formatTime(u.createdTime) },
];

const TOKEN_COLUMNS: Column<ApiToken>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'USER', value: (t) => t.username },
  { header: 'NAME', value: (t) => t.name },
  { header: 'CREATED', value: (t) => formatTime(t.createdTime) },
  { header: 'EXPIRES', value: (t) => (t.expiresTime === null ? 'never' : formatTime(t.expiresTime)) },
  { header: 'LAST USED', value: (t) => formatTime(t.lastUsedTime) },
  { header: 'REVOKED', value: (t) => formatTime(t.revokedTime) },
];

const PERMISSION_COLUMNS: Column<PermissionGrant>[] = [
  { header: 'KIND', value: (p) => p.kind },
  { header: 'OBJECT', value: (p) => p.objectId },
  { header: 'USER', value: (p) => p.username },
  { header: 'PERMISSION', value: (p) => p.permission },
];

/** Reads a secret: typed without echo on a terminal, else the first line of standard input. */
export async function readSecret(prompt: string, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    if (line === '') throw new SlipwayError('MISSING_ARGUMENT', `${prompt.replace(/:\s*$/, '')} is missing: type it on a terminal or pipe it on standard input.`);
    return line;
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let value = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done(() => resolve(value));
          if (ch === '\u0003') return done(() => reject(new SlipwayError('INVALID_ARGUMENT', 'Cancelled.')));
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      const done = (fn: () => void) => {
        stdin.off('data', onData);
        fn();
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

function parseLevel(raw: string): 'NO_PERMISSIONS' | 'READ' | 'EDIT' | 'MANAGE' {
  const level = raw.trim().toUpperCase();
  if (level === 'NO_PERMISSIONS' || level === 'READ' || level === 'EDIT' || level === 'MANAGE') return level;
  throw new SlipwayError('INVALID_ARGUMENT', `--level must be READ, EDIT, MANAGE or NO_PERMISSIONS; got '${raw}'.`);
}

/** `--expires-in`: seconds, or a duration such as 12h, 30d. */
function parseExpiresIn(raw: string): number {
  const days = /^(\d+(?:\.\d+)?)d$/.exec(raw.trim());
  const ms = days ? Number(days[1]) * 86_400_000 : parseDuration(raw, { name: '--expires-in' });
  return Math.max(1, Math.round(ms / 1000));
}

interface ObjectFlags extends ConnectionFlags {
  experiment?: string;
  model?: string;
  user?: string;
  level?: string;
  json?: boolean;
}

function objectOf(flags: ObjectFlags, required: boolean): { experimentId?: string; model?: string } {
  if (flags.experiment !== undefined && flags.model !== undefined) throw new SlipwayError('INVALID_ARGUMENT', 'Give one of --experiment and --model, not both.');
  if (flags.experiment !== undefined) return { experimentId: flags.experiment };
  if (flags.model !== undefined) return { model: flags.model };
  if (required) throw new SlipwayError('MISSING_ARGUMENT', 'Name the object: --experiment ID or --model NAME.');
  return {};
}

function requireUser(flags: ObjectFlags): string {
  if (!flags.user) throw new SlipwayError('MISSING_ARGUMENT', 'Name the user: --user USERNAME.');
  return flags.user;
}

/** Registers `users`, `tokens`, `permissions` and `login`. */
export function register(program: Command): void {
  const users = program.command('users').description('Create, list, delete users and change passwords and admin rights (access control)');
  addConnectionOptions(
    users.command('create <username>').description('Create a user; the password is typed (hidden) or read from standard input').option('--admin', 'make the user an admin').option('--json', 'print JSON'),
  ).action(
    runAction(async (username: string, flags: ConnectionFlags & { admin?: boolean; json?: boolean }) => {
      const password = await readSecret(`Password for ${username}: `);
      const user = await withConnection(flags, (c) => c.users.create({ username, password, isAdmin: !!flags.admin }));
      process.stdout.write(flags.json ? formatJson(user) : `created user ${user.username}${user.isAdmin ? ' (admin)' : ''}\n`);
    }),
  );
  addConnectionOptions(users.command('list').description('List users (admins only)').option('--json', 'print JSON')).action(
    runAction(async (flags: ConnectionFlags & { json?: boolean }) => {
      printList(await withConnection(flags, (c) => c.users.list(), { readOnly: true }), USER_COLUMNS, { json: flags.json });
    }),
  );
  addConnectionOptions(users.command('delete <username>').description('Delete a user with their tokens and permissions (never the last admin)')).action(
    runAction(async (username: string, flags: ConnectionFlags) => {
      await withConnection(flags, (c) => c.users.delete(username));
      process.stdout.write(`deleted user ${username}\n`);
    }),
  );
  addConnectionOptions(users.command('set-admin <username> <true|false>').description('Give or take admin rights').option('--json', 'print JSON')).action(
    runAction(async (username: string, value: string, flags: ConnectionFlags & { json?: boolean }) => {
      if (value !== 'true' && value !== 'false') throw new SlipwayError('INVALID_ARGUMENT', `set-admin takes true or false; got '${value}'.`);
      const user = await withConnection(flags, (c) => c.users.update(username, { isAdmin: value === 'true' }));
      process.stdout.write(flags.json ? formatJson(user) : `${username} is ${user.isAdmin ? 'now' : 'no longer'} an admin\n`);
    }),
  );
  addConnectionOptions(users.command('passwd <username>').description("Change a password (your own, or anyone's as an admin); typed hidden or read from standard input")).action(
    runAction(async (username: string, flags: ConnectionFlags) => {
      const password = await readSecret(`New password for ${username}: `);
      await withConnection(flags, (c) => c.users.update(username, { password }));
      process.stdout.write(`changed the password of ${username}\n`);
    }),
  );

  const tokens = program.command('tokens').description('Create, list and revoke API tokens');
  addConnectionOptions(
    tokens
      .command('create')
      .description('Create an API token and print its secret, shown only this once')
      .requiredOption('--name <name>', 'what the token is for, e.g. ci-deploy')
      .option('--user <username>', "whose token (admins only for another user's)")
      .option('--expires-in <duration>', 'lifetime: a duration such as 12h or 30d (default: never expires)', parseExpiresIn)
      .option('--json', 'print JSON (with the secret)'),
  ).action(
    runAction(async (flags: ConnectionFlags & { name: string; user?: string; expiresIn?: number; json?: boolean }) => {
      const token = await withConnection(flags, (c) => c.tokens.create({ name: flags.name, ...(flags.user ? { username: flags.user } : {}), ...(flags.expiresIn ? { expiresInSeconds: flags.expiresIn } : {}) }));
      if (flags.json) return void process.stdout.write(formatJson(token));
      process.stdout.write(`${token.secret}\n`);
      process.stderr.write(`token ${token.id} for ${token.username}: store the secret above now, it is not shown again\n`);
    }),
  );
  addConnectionOptions(
    tokens.command('list').description('List your tokens (admins: --user U or --all)').option('--user <username>', "another user's tokens (admins)").option('--all', "every user's tokens (admins)").option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ConnectionFlags & { user?: string; all?: boolean; json?: boolean }) => {
      const list = await withConnection(flags, (c) => c.tokens.list({ ...(flags.user ? { username: flags.user } : {}), ...(flags.all ? { all: 'true' } : {}) }), { readOnly: true });
      printList(list, TOKEN_COLUMNS, { json: flags.json });
    }),
  );
  addConnectionOptions(tokens.command('revoke <id>').description('Revoke a token; it stops working at once')).action(
    runAction(async (id: string, flags: ConnectionFlags) => {
      await withConnection(flags, (c) => c.tokens.revoke(id));
      process.stdout.write(`revoked token ${id}\n`);
    }),
  );

  const permissions = program.command('permissions').description("Set, show and delete users' permissions on experiments and registered models");
  const objectOptions = (cmd: Command) => cmd.option('--experiment <id>', 'an experiment id').option('--model <name>', 'a registered model name').option('--user <username>', 'the user');
  addConnectionOptions(objectOptions(permissions.command('set').description("Set a user's permission on an experiment or a model")).requiredOption('--level <level>', 'READ, EDIT, MANAGE or NO_PERMISSIONS').option('--json', 'print JSON')).action(
    runAction(async (flags: ObjectFlags) => {
      const grant = await withConnection(flags, (c) => c.permissions.set({ ...objectOf(flags, true), username: requireUser(flags), permission: parseLevel(flags.level ?? '') }));
      process.stdout.write(flags.json ? formatJson(grant) : `${grant.username} has ${grant.permission} on ${grant.kind === 'experiment' ? 'experiment' : 'model'} ${grant.objectId}\n`);
    }),
  );
  addConnectionOptions(objectOptions(permissions.command('get').description('Show stored permissions of a user and/or an object, and the default')).option('--json', 'print JSON')).action(
    runAction(async (flags: ObjectFlags) => {
      const list = await withConnection(flags, (c) => c.permissions.list({ ...objectOf(flags, false), ...(flags.user ? { username: flags.user } : {}) }), { readOnly: true });
      if (flags.json) return void process.stdout.write(formatJson(list));
      printList(list.permissions, PERMISSION_COLUMNS, { emptyText: '(no stored permissions)' });
      process.stdout.write(`objects without a stored permission: ${list.defaultPermission}\n`);
    }),
  );
  addConnectionOptions(objectOptions(permissions.command('delete').description("Delete a user's permission on an object (they fall back to the default)"))).action(
    runAction(async (flags: ObjectFlags) => {
      const object = objectOf(flags, true);
      await withConnection(flags, (c) => c.permissions.delete({ ...object, username: requireUser(flags) }));
      process.stdout.write(`deleted the permission of ${flags.user} on ${object.experimentId !== undefined ? `experiment ${object.experimentId}` : `model ${object.model}`}\n`);
    }),
  );

  addTargetOptions(
    program
      .command('login')
      .description("Sign in to a server: asks the password (or reads it from standard input), creates a token named cli@<host> and stores it in $SLIPWAY_HOME/credentials.json (mode 0600) for later commands")
      .option('--username <name>', 'who signs in (default: the login name of this account)'),
  ).action(
    runAction(async (flags: ConnectionFlags & { username?: string }) => {
      const target = resolveTarget(flags);
      if (target.kind !== 'server') throw new SlipwayError('INVALID_ARGUMENT', 'slipway login signs in to a server: give --server URL (or SLIPWAY_SERVER).');
      const username = flags.username ?? userInfo().username;
      const password = await readSecret(`Password for ${username} at ${target.url}: `);
      const { SlipwayClient } = await import('../../client/slipway-client.js');
      const { nodeHttpFetch } = await import('../node-http-fetch.js');
      const client = new SlipwayClient({ url: target.url, fetch: nodeHttpFetch, headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } });
      const { asSlipwayError } = await import('../connection.js');
      const token = await client.tokens.create({ name: `cli@${hostname()}` }).catch((err: unknown) => {
        throw asSlipwayError(err);
      });
      const path = storeCredential(target.url, { username: token.username, token: token.secret, tokenId: token.id, created: token.createdTime });
      process.stdout.write(`logged in to ${target.url} as ${token.username}; token ${token.id} stored in ${path}\n`);
    }),
  );
}
