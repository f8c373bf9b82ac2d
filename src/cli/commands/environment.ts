/** `slipway env check MODEL_URI`: the environment a model was built in against the one it is about to run in. */
import type { Command } from 'commander';

/** Registers `slipway env`. */
export function register(program: Command): void {
  void program;
}
