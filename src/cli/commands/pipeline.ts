/** `slipway repro`, `slipway dag`: run the stages of slipway.yaml whose inputs changed, and show their graph. */
import type { Command } from 'commander';
import { registerPipelineReports } from './pipeline-report.js';

/** Registers `slipway repro` and `slipway dag` (and the metrics and params comparisons). */
export function register(program: Command): void {
  registerPipelineReports(program);
}
