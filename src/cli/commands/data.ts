/** `slipway data …`: version files and folders by content, with pointer files for git and remotes for sharing. */
import type { Command } from 'commander';
import { registerRemoteCommands } from './data-remote.js';

/** Registers `slipway data`. */
export function register(program: Command): void {
  const data = program.command('data').description('Version data files and folders by content: add, status, checkout, diff, gc, push, pull, fetch');
  registerRemoteCommands(data);
}
