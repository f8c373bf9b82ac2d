/**
 * Wire schema of POST /v2/models/{name}/explain: per-feature attributions of each row's
 * prediction, the baseline they add up from, and how they were computed.
 */
import { z } from 'zod';
import { named } from './common.js';

/** The answer of the explain route. */
export const ExplainResponse = named(
  z.object({
    model_name: z.string(),
    model_version: z.string(),
    output: z
      .object({
        name: z.string(),
        column: z.number().describe('The column of the output explained (for a classifier, the class).'),
        class: z.union([z.string(), z.number()]).optional().describe('The class label of that column, when the model names its classes.'),
        description: z.string().describe('Which output and column, and why that one (named by the request, or the default).'),
      })
      .describe('The output explained.'),
    method: z.enum(['exact', 'kernel', 'occlusion']).describe('exact: Shapley values over every coalition (up to 12 features); kernel: KernelSHAP; occlusion: text models, each token removed in turn.'),
    occlusion: z
      .object({
        replacement: z.literal('removal').describe('What stands in for an occluded token: nothing, it is removed.'),
        tokenization: z.string().describe("The tokens: the model's tokenizer, or words of a string-input graph."),
        max_tokens_per_row: z.number(),
      })
      .optional()
      .describe('Text models: how tokens were occluded. Occlusion values do not add up to prediction - baseline.'),
    sample_budget: z.number().nullable().describe('Coalitions KernelSHAP evaluated per row; null for exact values.'),
    coalitions: z.number().describe('Coalitions evaluated per row, besides the empty and the full one.'),
    background_size: z.number().describe('Background rows each coalition is averaged over.'),
    background_source: z.string(),
    features: z.array(z.string()).describe('Feature names, in the order the model reads them.'),
    baseline: z.number().describe('The expected output over the background: what the attributions add up from.'),
    explanations: z.array(
      z.object({
        prediction: z.number(),
        attributions: z
          .array(
            z.object({
              feature: z.string(),
              value: z.number(),
              start: z.number().nullable().optional().describe('Text models: where the token starts in the input, in Unicode characters (null: not placed).'),
              end: z.number().nullable().optional().describe('Text models: where it ends (exclusive).'),
            }),
          )
          .describe('One per feature (Shapley values sum to prediction - baseline); for a text model, one per token: prediction minus the output without it.'),
        truncated_tokens: z.number().optional().describe("Text models: tokens cut by the model's own truncation, not explained."),
      }),
    ),
  }),
  'ExplainResponse',
  'Per-feature attributions (Shapley values) of each row of an explain request.',
);
export type ExplainResponse = z.infer<typeof ExplainResponse>;
