/** Release evaluation: both models on one holdout, scikit-learn's metrics, thresholds against the champion. */
export {
  DEFAULT_EVALUATION_BATCH_SIZE,
  evaluateOnHoldout,
  evaluateTable,
  type EvaluatedModel,
  type EvaluateOnHoldoutOptions,
  type EvaluationResult,
  type EvaluationTask,
  type ModelEvaluation,
} from './evaluate.js';
export {
  binaryRocAuc,
  classificationEvaluation,
  classificationFromScores,
  confusionMatrix,
  logLoss,
  predictedLabels,
  regressionEvaluation,
  rocAucOf,
  type ClassificationEvaluation,
  type ClassScores,
} from './metrics.js';
export {
  CLASSIFICATION_METRIC_NAMES,
  checkMetricThresholds,
  METRIC_NAMES,
  metricTask,
  needsChampion,
  parseMetricThreshold,
  REGRESSION_METRIC_NAMES,
  type MetricThreshold,
  type ThresholdCheck,
} from './thresholds.js';
