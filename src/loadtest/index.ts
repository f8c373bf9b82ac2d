/** Load testing of models: the library surface (release gates and the faces use this). */
export { runLoadTest, type LoadTestOutcome, type LoadTestProgress, type RunHooks } from './load-test-runner.js';
export { runCapacitySearch, type CapacitySearchOptions, type CapacitySearchResult, type CapacityStep } from './capacity-search.js';
export { loadTestOptionsSchema, validateLoadTestOptions, type LoadTestOptions } from './load-test-options.js';
export type { LoadTestResult, LatencyStats, SecondStats } from './load-test-result.js';
export { parseThreshold, parseThresholds, evaluateThresholds, formatThresholdValue, type Threshold, type ThresholdVerdict } from './threshold-parser.js';
export { parseDuration, parseRate } from './duration-parser.js';
export { renderHtmlReport, renderCapacityReport } from './html-report.js';
export { loadSpecFile } from './load-test-spec.js';
export { compareWithBaseline, type BaselineComparison } from './baseline-comparison.js';
export { recordLoadTest, listRecordedLoadTests, LOADTEST_EXPERIMENT, type RecordedRun, type RecordedLoadTest } from './run-recorder.js';
export { specKeyNaming, type OptionNaming } from './option-naming.js';
