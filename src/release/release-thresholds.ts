/**
 * Checks the threshold texts a release policy holds before anything is sent: the
 * evaluation gate's (`accuracy >= champion - 0.02`) and the load-test gate's
 * (`p99 < 20ms`, `p99 <= champion * 1.25`). The server checks them again; checking
 * here lets `slipway release` and `slipway plan` name the file, line and flag.
 */
import { SlipwayError } from '../core/errors.js';
import { parseThreshold } from '../loadtest/threshold-parser.js';

/** Metrics an evaluation gate may name: classification, then regression (scikit-learn's spellings). */
export const RELEASE_METRIC_NAMES = [
  'accuracy',
  'balanced_accuracy',
  'precision',
  'recall',
  'f1',
  'precision_macro',
  'recall_macro',
  'f1_macro',
  'precision_weighted',
  'recall_weighted',
  'f1_weighted',
  'roc_auc',
  'roc_auc_ovr',
  'log_loss',
  'mae',
  'mse',
  'rmse',
  'r2',
  'mape',
  'max_error',
] as const;

const OPS = '(>=|<=|==|>|<)';
const NUMBER = '(-?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?)';
// `champion`, `champion - 0.02`, `champion * 1.05`, `champion + 0.1`, `champion / 2`
const CHAMPION = new RegExp(`^champion(?:\\s*([-+*/])\\s*${NUMBER}\\s*(?:ms|us|s)?)?$`, 'i');

function bad(kind: string, text: string, why: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', `Invalid ${kind} '${text}': ${why}`, { threshold: text });
}

/** Checks `<metric> <op> <number | champion [+-*\/] number>`; throws INVALID_ARGUMENT naming the text and what is wrong. */
export function checkMetricThreshold(text: string): void {
  const m = new RegExp(`^\\s*([a-z_][a-z0-9_]*)\\s*${OPS}\\s*(.+?)\\s*$`, 'i').exec(text);
  if (!m) throw bad('metric threshold', text, "expected '<metric> <op> <value>', e.g. 'accuracy >= 0.9' or 'rmse <= champion * 1.05'.");
  const [, metric, , bound] = m as unknown as [string, string, string, string];
  if (!(RELEASE_METRIC_NAMES as readonly string[]).includes(metric.toLowerCase())) {
    throw bad('metric threshold', text, `unknown metric '${metric}'; use one of ${RELEASE_METRIC_NAMES.join(', ')}.`);
  }
  if (new RegExp(`^${NUMBER}$`, 'i').test(bound) || CHAMPION.test(bound)) return;
  throw bad('metric threshold', text, `the bound '${bound}' must be a number or relative to the champion, e.g. 'champion - 0.02' or 'champion * 1.05'.`);
}

/** Checks a load-test SLO: an absolute one as `slipway loadtest --slo` reads it, or `<statistic> <op> champion * <factor>`. */
export function checkSloThreshold(text: string): void {
  const m = new RegExp(`^\\s*([a-z_][a-z0-9_.()]*)\\s*${OPS}\\s*(champion.*?)\\s*$`, 'i').exec(text);
  if (!m) {
    try {
      parseThreshold(text);
    } catch (err) {
      throw bad('SLO', text, (err as Error).message.replace(/^Invalid threshold '.*?': /, ''));
    }
    return;
  }
  const [, statistic, op, bound] = m as unknown as [string, string, string, string];
  if (op === '==') throw bad('SLO', text, "use one of <, <=, >, >=.");
  try {
    // The statistic is checked as the load test reads it, with a placeholder limit.
    parseThreshold(`${statistic}${op}1`);
  } catch (err) {
    throw bad('SLO', text, (err as Error).message.replace(/^Invalid threshold '.*?': /, ''));
  }
  if (!CHAMPION.test(bound)) throw bad('SLO', text, `the bound '${bound}' must look like 'champion * 1.25' or 'champion + 5ms'.`);
}
