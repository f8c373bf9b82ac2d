/** `slipway data push|pull|fetch`: move cached objects to and from a remote named in slipway.yaml. */
import type { Command } from 'commander';

/** Registers the remote subcommands on `slipway data`. */
export function registerRemoteCommands(data: Command): void {
  void data;
}
