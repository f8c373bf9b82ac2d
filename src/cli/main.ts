#!/usr/bin/env node
/**
 * The `slipway` command. Each command lives in its own file under commands/ and
 * loads its domain with `await import()` only when it runs, so `--help` is instant.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import * as access from './commands/access.js';
import * as artifacts from './commands/artifacts.js';
import * as audit from './commands/audit.js';
import * as completion from './commands/completion.js';
import * as data from './commands/data.js';
import * as datasets from './commands/datasets.js';
import * as deploy from './commands/deploy.js';
import * as environment from './commands/environment.js';
import * as experiments from './commands/experiments.js';
import * as explain from './commands/explain.js';
import * as lineage from './commands/lineage.js';
import * as loadtest from './commands/loadtest.js';
import * as models from './commands/models.js';
import * as monitor from './commands/monitor.js';
import * as pipeline from './commands/pipeline.js';
import * as release from './commands/release.js';
import * as runs from './commands/runs.js';
import * as serve from './commands/serve.js';
import * as server from './commands/server.js';
import { helpEpilogueText, printError, usageErrorsExit2 } from './output.js';

/** A command module registers its subcommands on the root program. */
export type CommandModule = { register(program: Command): void };

/** Every command module; each domain adds its line here. */
const COMMANDS: CommandModule[] = [
  access,
  artifacts,
  audit,
  completion,
  data,
  datasets,
  deploy,
  environment,
  experiments,
  explain,
  lineage,
  loadtest,
  models,
  monitor,
  pipeline,
  release,
  runs,
  serve,
  server,
];

/** Builds the root program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('slipway')
    .description('DevOps for machine-learning models: track, register, serve, load-test and monitor.')
    .version('0.1.0')
    // Root options (--version) are read only before the subcommand, so `models show NAME --version 2` reaches the subcommand.
    .enablePositionalOptions();
  for (const mod of COMMANDS) mod.register(program);
  // Only the root's own help: each command adds its epilogue in its file.
  program.addHelpText(
    'after',
    helpEpilogueText({
      examples: ['slipway server', 'slipway models register model.onnx --name cancer --alias champion', 'slipway serve models:/cancer@champion', 'slipway serve --help'],
      docs: ['cli.md'],
    }),
  );
  // An unknown command or option is a usage mistake: one line with a suggestion, exit 2, for the root and every command.
  usageErrorsExit2(program);
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
  // A reader that stops early (`slipway audit log | head -1`) closes the pipe: stop writing, quietly, as other tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      printError(err);
      process.exitCode = 1;
    });
}
