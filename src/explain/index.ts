/** Per-prediction explanations: Shapley values of tabular models against a reference background, token occlusion of text models. */
export { explainRows, planFor, type AttributionOptions, type AttributionResult, type RowAttribution, type RowScorer } from './attribution-engine.js';
export { backgroundFromProfile, MAX_BACKGROUND_SIZE } from './background.js';
export { exactAttributions, exactPlan, kernelAttributions, kernelPlan, type AttributionMethod, type CoalitionPlan } from './coalitions.js';
export { chooseOutput, DEFAULT_EXPLAIN_LIMITS, ExplainService, isTextModel, referenceMissing, tabularInput, type ExplainedModel, type ExplainLimits, type ExplainResponse, type ExplainServiceInit, type OcclusionInfo, type RowExplanation } from './explain-service.js';
export { globalImportance, type FeatureImportance, type ImportanceInput } from './global-importance.js';
export { explainTexts, MAX_TEXT_TOKENS, placeTokens, tokenOcclusion, tokenReader, wordOcclusion, type TextAttributionResult, type TextOcclusion, type TokenAttribution, type TokenReader } from './text-occlusion.js';
