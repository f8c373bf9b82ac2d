/** The tracking domain: experiments, runs, metrics, params, tags, dataset inputs and run search. */
export * from './tracking-types.js';
export { TrackingService, RUN_NAME_TAG, USER_TAG, LOG_MODEL_HISTORY_TAG, type TrackingOptions } from './tracking-service.js';
export { TRACKING_LIMITS } from './tracking-limits.js';
export { downsampleMinMax, DEFAULT_MAX_POINTS, MAX_MAX_POINTS, type DownsampledPoints, type HistoryAxis } from './metric-downsampling.js';
export { parseSearchFilter, parseOrderBy, type SearchClause, type OrderTerm, type SearchEntity, type SearchOperator } from './search-filter-parser.js';
export { generateRunName } from './run-name-generator.js';
