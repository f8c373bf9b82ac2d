#!/usr/bin/env node
/**
 * The `slipway` command. Each command lives in its own file under commands/ and
 * loads its domain with `await import()` only when it runs, so `--help` is instant.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import * as artifacts from './commands/artifacts.js';
import * as audit from './commands/audit.js';
import * as experiments from './commands/experiments.js';
import * as loadtest from './commands/loadtest.js';
import * as models from './commands/models.js';
import * as monitor from './commands/monitor.js';
import * as runs from './commands/runs.js';
import * as serve from './commands/serve.js';
import * as server from './commands/server.js';
import { EXIT } from './output.js';

/** A command module registers its subcommands on the root program. */
export type CommandModule = { register(program: Command): void };

/** Every command module; each domain adds its line here. */
const COMMANDS: CommandModule[] = [
  artifacts,
  audit,
  experiments,
  loadtest,
  models,
  monitor,
  runs,
  serve,
  server,
];

/** Builds the root program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('slipway')
    .description('DevOps for machine-learning models: track, register, serve, load-test and monitor.')
    .version('0.1.0')
    .showHelpAfterError()
    // Root options (--version) are read only before the subcommand, so `models show NAME --version 2` reaches the subcommand.
    .enablePositionalOptions();
  for (const mod of COMMANDS) mod.register(program);
  // An unknown command or root option is a usage mistake (exit 2), as it is inside every command.
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE));
  return program;
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = 1;
    });
}
