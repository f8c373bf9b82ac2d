/**
 * What every command does before it does any work: a mistyped option is one line
 * with a suggestion, a taken port is one line before any model loads, and every
 * `--help` ends with examples, exit codes and where the docs are.
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../support/cli.js';

const MODEL = join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx');

/** The lines of a stream's text, without the trailing empty one. */
const lines = (text: string) => text.split('\n').filter((line, i, all) => line !== '' || i < all.length - 1);

describe('an unknown option', () => {
  it('is one line with the nearest option, exit 2, for serve, server, a subcommand and the root', async () => {
    const [serve, server, list, root] = await Promise.all([
      runCli(['serve', MODEL, '--prot', '9000']),
      runCli(['server', '--prot', '9000']),
      runCli(['models', 'list', '--filtr', 'x']),
      runCli(['--verison']),
    ]);
    expect([serve.code, server.code, list.code, root.code]).toEqual([2, 2, 2, 2]);
    expect(serve.stderr).toBe("error: unknown option '--prot' (Did you mean --port?)\n");
    expect(server.stderr).toBe("error: unknown option '--prot' (Did you mean --port?)\n");
    expect(list.stderr).toBe("error: unknown option '--filtr' (Did you mean --filter?)\n");
    expect(root.stderr).toBe("error: unknown option '--verison' (Did you mean --version?)\n");
    expect(serve.stdout + server.stdout + list.stdout + root.stdout).toBe('');
  });

  it('is one line and exit 2 in every command', async () => {
    const commands = [['artifacts', 'list'], ['audit', 'log'], ['experiments', 'list'], ['runs', 'list'], ['loadtest'], ['monitor', 'report', '--current', 'now.csv'], ['models', 'show', 'x']];
    const results = await Promise.all(commands.map((args) => runCli([...args, '--no-such-flag'])));
    for (const [i, res] of results.entries()) {
      expect({ command: commands[i], code: res.code, stderr: lines(res.stderr) }).toEqual({ command: commands[i], code: 2, stderr: ["error: unknown option '--no-such-flag'"] });
    }
  });
});

describe('a port that is already taken', () => {
  const home = tempHome('slipway-port-taken');
  let holder: Server;
  let port: number;

  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as { port: number }).port;
    // A registered model, so `slipway server` has a model it would load at start.
    const registered = await runCli(['models', 'register', MODEL, '--name', 'bc', '--alias', 'champion'], { SLIPWAY_HOME: home });
    expect(registered.code).toBe(0);
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  const expected = () => [`error: Port ${port} on 127.0.0.1 is already in use; choose another with --port (0 picks a free one).`];

  it('stops `slipway server` with one line and exit 1, without starting to load the registered model', async () => {
    const res = await runCli(['server', '--port', String(port)], { SLIPWAY_HOME: home });
    expect({ code: res.code, stderr: lines(res.stderr), stdout: res.stdout }).toEqual({ code: 1, stderr: expected(), stdout: '' });
  });

  it('stops `slipway serve` with one line and exit 1 before loading the model, for a file and a registered model', async () => {
    const [file, registered] = await Promise.all([
      runCli(['serve', MODEL, '--port', String(port)], { SLIPWAY_HOME: home }),
      runCli(['serve', 'models:/bc@champion', '--port', String(port)], { SLIPWAY_HOME: home }),
    ]);
    expect({ code: file.code, stderr: lines(file.stderr), stdout: file.stdout }).toEqual({ code: 1, stderr: expected(), stdout: '' });
    expect({ code: registered.code, stderr: lines(registered.stderr), stdout: registered.stdout }).toEqual({ code: 1, stderr: expected(), stdout: '' });
  });
});

describe('--help', () => {
  it('gives serve its own default port, next to the server\'s', async () => {
    const [serve, server] = await Promise.all([runCli(['serve', '--help']), runCli(['server', '--help'])]);
    expect(serve.stdout.replace(/\s+/g, ' ')).toContain('(default: 8080;');
    expect(serve.stdout).not.toContain('5000');
    expect(server.stdout.replace(/\s+/g, ' ')).toContain('(default: 5000, env SLIPWAY_PORT)');
  });

  it('ends with examples, exit codes and the docs page, for every command and subcommand', async () => {
    const commands = [
      [],
      ['artifacts'],
      ['artifacts', 'gc'],
      ['audit', 'verify'],
      ['experiments', 'list'],
      ['runs', 'show'],
      ['loadtest'],
      ['monitor', 'report'],
      ['monitor', 'reference', 'set'],
      ['models'],
      ['models', 'alias', 'set'],
      ['serve'],
      ['server'],
    ];
    const results = await Promise.all(commands.map((args) => runCli([...args, '--help'])));
    for (const [i, res] of results.entries()) {
      const name = ['slipway', ...(commands[i] as string[])].join(' ');
      expect({ name, code: res.code }).toEqual({ name, code: 0 });
      expect(res.stdout, name).toMatch(/\nExamples:\n {2}\$ slipway /);
      expect(res.stdout, name).toMatch(/\nExit codes:\n {2}0 {2}success\n {2}1 {2}\S.*\n {2}2 {2}\S.*\n/);
      expect(res.stdout, name).toMatch(/\nDocs: docs\/[a-z-]+\.md/);
      // A subcommand's examples are its own where it has some.
      if ((commands[i] as string[]).length > 1) expect(res.stdout, name).toContain(`$ ${name} `);
    }
  });
});
