/** `slipway datasets …`: dataset versions registered in the store, with schema, profile and lineage. */
import type { Command } from 'commander';

/** Registers `slipway datasets`. */
export function register(program: Command): void {
  void program;
}
