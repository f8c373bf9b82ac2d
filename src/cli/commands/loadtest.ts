/**
 * `slipway loadtest`: load-test a served model or any HTTP endpoint, check SLO
 * thresholds (exit 1 when one fails), write an HTML report, compare with a
 * baseline, record the run, or search for the highest sustainable rate.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { CapacitySearchResult, CapacityStep, LoadTestOptions, LoadTestOutcome, LoadTestProgress, OptionNaming } from '../../loadtest/index.js';
import { authorizationFor } from '../connection.js';
import { EXIT, addHelpEpilogue, errTerminal, formatJson, formatStatus, formatVerdict, formatVerdictWord, outTerminal, positiveInt, processStreams, runAction, usageErrorsExit2, type OutputStreams } from '../output.js';
import { PLAIN, type Terminal } from '../terminal.js';

interface LoadtestFlags {
  url?: string;
  model?: string;
  server?: string;
  token?: string;
  protocol?: string;
  method?: string;
  header?: string[];
  body?: string;
  data?: string;
  dataFormat?: string;
  rowsPerRequest?: number;
  columns?: string;
  sample?: string;
  seed?: number;
  rate?: string;
  duration?: string;
  stages?: string;
  startRate?: string;
  steps?: string;
  clients?: number;
  warmup?: string;
  workers?: number;
  connections?: number;
  timeout?: string;
  maxInFlight?: number;
  lateTolerance?: string;
  slo?: string[];
  spec?: string;
  baseline?: string;
  toleranceP99?: string;
  toleranceThroughput?: string;
  record?: boolean;
  experiment?: string;
  report?: string;
  out?: string;
  capacity?: string;
  stepDuration?: string;
  json?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function nonNegativeInt(name: string): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return Number(raw);
  };
}

async function usage(message: string): Promise<never> {
  const { SlipwayError } = await import('../../core/errors.js');
  throw new SlipwayError('INVALID_ARGUMENT', message);
}

/** Turns flags (over an optional YAML spec) into load-test options. */
export async function optionsFromFlags(flags: LoadtestFlags, target: string | undefined): Promise<LoadTestOptions & Record<string, unknown>> {
  const { loadSpecFile, loadTestOptionsSchema } = await import('../../loadtest/index.js');
  const spec: Record<string, unknown> = flags.spec ? await loadSpecFile(flags.spec) : {};
  const o: Record<string, unknown> = { ...spec };
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) o[key] = value;
  };
  const targets = [target, flags.url, flags.model].filter((t) => t !== undefined);
  if (targets.length > 1) await usage('Give the target once: as an argument, --url or --model.');
  set('target', targets[0]);
  set('server', flags.server);
  // As every client command: the server named in the environment, when neither the flag nor the spec names one.
  const mlflowUri = process.env.MLFLOW_TRACKING_URI;
  if (o.server === undefined) set('server', process.env.SLIPWAY_SERVER || (mlflowUri && /^https?:\/\//i.test(mlflowUri) ? mlflowUri : undefined));
  // The server's credentials come from where every client command takes them, never from a spec file (which gets shared and committed).
  if (spec.serverAuthorization !== undefined) await usage(`${flags.spec} holds serverAuthorization; credentials do not belong in a spec file: remove it and give --token or SLIPWAY_TOKEN instead.`);
  if (flags.token !== undefined && o.server === undefined) await usage("--token is sent to the Slipway server only, and none is named: give --server (or SLIPWAY_SERVER); for the target's own credentials use --header 'Authorization: …'.");
  const authorization = o.server === undefined ? undefined : authorizationFor(flags, process.env, typeof o.server === 'string' ? o.server : undefined);
  if (authorization !== undefined) {
    const checked = loadTestOptionsSchema.shape.serverAuthorization.safeParse(authorization);
    if (!checked.success) await usage(`The server's credentials (--token, SLIPWAY_TOKEN, MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD) ${checked.error.issues[0]?.message ?? 'are not a valid header value'}.`);
    o.serverAuthorization = authorization;
  }
  set('protocol', flags.protocol);
  set('method', flags.method);
  if (flags.header) {
    const headers: Record<string, string> = { ...((spec.headers as Record<string, string> | undefined) ?? {}) };
    for (const h of flags.header) {
      const i = h.indexOf(':');
      if (i <= 0) await usage(`--header '${h}' must look like 'Name: value'.`);
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    o.headers = headers;
  }
  if (flags.body !== undefined) o.body = flags.body.startsWith('@') ? await readFile(flags.body.slice(1), 'utf8').catch(() => usage(`--body file ${flags.body?.slice(1)} cannot be read.`)) : flags.body;
  set('data', flags.data);
  set('dataFormat', flags.dataFormat);
  set('rowsPerRequest', flags.rowsPerRequest);
  if (flags.columns !== undefined) o.columns = flags.columns.split(',').map((c) => c.trim()).filter(Boolean);
  set('sampling', flags.sample);
  set('seed', flags.seed);
  set('rate', flags.rate);
  set('duration', flags.duration);
  if (flags.stages !== undefined) {
    // "100:10s,200:30s" = ramp to 100/s over 10 s, then to 200/s over 30 s.
    o.stages = await Promise.all(
      flags.stages.split(',').map(async (s) => {
        const [rate, duration, extra] = s.split(':');
        if (!rate || !duration || extra !== undefined) await usage(`--stages item '${s}' must look like RATE:DURATION, e.g. 200:30s.`);
        return { target: rate as string, duration: duration as string };
      }),
    );
  }
  set('startRate', flags.startRate);
  if (flags.steps !== undefined) {
    const parts = flags.steps.split(',');
    if (parts.length !== 4) await usage(`--steps '${flags.steps}' must look like START,STEP,COUNT,DURATION, e.g. 100,50,5,10s.`);
    const [start, step, count, duration] = parts as [string, string, string, string];
    if (!/^\d+$/.test(count.trim())) await usage(`--steps count '${count}' must be a positive integer.`);
    o.steps = { start, step, count: Number(count), duration };
  }
  set('clients', flags.clients);
  set('warmup', flags.warmup);
  set('workers', flags.workers);
  set('connections', flags.connections);
  set('timeout', flags.timeout);
  set('maxInFlight', flags.maxInFlight);
  set('lateTolerance', flags.lateTolerance);
  if (flags.slo) o.thresholds = [...((spec.thresholds as string[] | undefined) ?? []), ...flags.slo];
  set('baseline', flags.baseline);
  if (flags.toleranceP99 !== undefined || flags.toleranceThroughput !== undefined) {
    const num = async (raw: string | undefined, name: string): Promise<number | undefined> => {
      if (raw === undefined) return undefined;
      const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(raw.trim());
      if (!m) return usage(`${name} '${raw}' must be a fraction (0.1) or a percentage (10%).`);
      return Number(m[1]) / (m[2] ? 100 : 1);
    };
    o.baselineTolerance = { ...((spec.baselineTolerance as object | undefined) ?? {}), ...Object.fromEntries(Object.entries({ p99: await num(flags.toleranceP99, '--tolerance-p99'), throughput: await num(flags.toleranceThroughput, '--tolerance-throughput') }).filter(([, v]) => v !== undefined)) };
  }
  if (flags.record) o.record = flags.experiment ? { experiment: flags.experiment } : true;
  if (o.target === undefined) await usage('Missing target: give a URL or models:/NAME@ALIAS (argument, --url, --model or target in --spec).');
  return o as LoadTestOptions & Record<string, unknown>;
}

/** The flag of each spec key the CLI sets (a FILE placeholder where the value is a path). */
const FLAGS: Record<string, string> = {
  target: '--url', server: '--server', serverAuthorization: '--token', protocol: '--protocol', method: '--method', headers: '--header', body: '--body', data: '--data FILE', dataFormat: '--data-format',
  rowsPerRequest: '--rows-per-request', columns: '--columns', sampling: '--sample', seed: '--seed', rate: '--rate', duration: '--duration', stages: '--stages',
  startRate: '--start-rate', steps: '--steps', clients: '--clients', warmup: '--warmup', workers: '--workers', connections: '--connections', timeout: '--timeout',
  maxInFlight: '--max-in-flight', lateTolerance: '--late-tolerance', thresholds: '--slo', baseline: '--baseline', record: '--record', stepDuration: '--step-duration',
};

/** Messages name the flag and the spec key both, since a value may come from either: `--rate (spec key: rate)`. */
export const flagNaming: OptionNaming = {
  full: (key) => {
    const flag = FLAGS[key.split(/[.[]/)[0] as string];
    return flag ? `${flag} (spec key: ${key})` : `spec key '${key}'`;
  },
  brief: (key) => FLAGS[key.split(/[.[]/)[0] as string]?.split(' ')[0] ?? `spec key '${key}'`,
};

const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : '-');

/** The human summary of a result. */
export function formatSummary(r: LoadTestOutcome, terminal: Terminal = PLAIN): string {
  const l = r.latencyMs;
  const lines = [
    formatVerdict(r.passed, `${formatStatus(r.passed ? 'PASSED' : 'FAILED', terminal)}  ${r.target.method} ${r.target.url} (${r.target.protocol}${r.target.model ? `, model ${r.target.model.name}${r.target.model.version ? ` v${r.target.model.version}` : ''}` : ''})`, terminal),
    `load        ${r.settings.mode === 'open' ? `open, offered ${r.throughput.offered?.toFixed(1)}/s` : `closed, ${r.settings.clients} clients`} for ${(r.settings.durationMs / 1000).toFixed(1)} s (warm-up ${(r.settings.warmupMs / 1000).toFixed(1)} s excluded), ${r.settings.workers} workers`,
    `throughput  ${r.throughput.achieved.toFixed(1)}/s achieved${r.throughput.offered !== null ? ` of ${r.throughput.offered.toFixed(1)}/s offered` : ''}`,
    `requests    ${r.requests.sent} sent, ${r.requests.completed} answered, ${r.requests.errors} errors (${(r.errorRate * 100).toFixed(3)}%), ${r.requests.timeouts} timeouts, ${r.requests.dropped} dropped`,
    `latency     p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  p99.9 ${ms(l['p99.9'])}  max ${ms(l.max)}  mean ${ms(l.mean)}`,
    `generator   ${r.generator.behind ? `FELL BEHIND: ${r.generator.reason}` : `on schedule (late sends ${r.generator.late}${r.generator.meanLagMs !== null ? `, mean send lag ${r.generator.meanLagMs.toFixed(3)} ms` : ''}, worst ${r.generator.maxLateMs.toFixed(1)} ms)`}`,
  ];
  const errs = [...Object.entries(r.errorsByStatus).map(([k, v]) => `HTTP ${k}: ${v}`), ...Object.entries(r.errorsByKind).filter(([k]) => k !== 'http').map(([k, v]) => `${k}: ${v}`)];
  if (errs.length) lines.push(`errors      ${errs.join(', ')}`);
  for (const t of r.thresholds) lines.push(`threshold   ${formatVerdictWord(t.passed, t.passed ? 'pass' : 'FAIL', terminal)}  ${t.expression}  (measured ${t.metric === 'error_rate' ? `${(t.actual * 100).toFixed(3)}%` : t.metric === 'throughput' ? `${t.actual.toFixed(1)}/s` : ms(t.actual)})`);
  if (r.baseline) lines.push(`baseline    ${formatVerdictWord(r.baseline.passed, r.baseline.passed ? 'pass' : 'FAIL', terminal)}  p99 ${(r.baseline.change.p99 * 100).toFixed(1)}%, throughput ${(r.baseline.change.throughput * 100).toFixed(1)}% vs ${r.baseline.baseline.source}`);
  if (r.recordedRun) lines.push(`recorded    run ${r.recordedRun.runId} in experiment ${r.recordedRun.experimentId}`);
  for (const f of r.failures) lines.push(`failure     ${f}`);
  return lines.join('\n') + '\n';
}

/** One rung of the ladder, with why it broke. */
function formatStep(s: CapacityStep, terminal: Terminal): string {
  return `${formatVerdictWord(s.passed, s.passed ? 'held ' : 'broke', terminal)}  ${s.rate.toFixed(1)}/s  achieved ${s.achieved.toFixed(1)}/s  p50 ${ms(s.p50Ms)}  p99 ${ms(s.p99Ms)}  errors ${(s.errorRate * 100).toFixed(3)}%${s.reason ? `\n         why: ${s.reason}` : ''}`;
}

function formatCapacity(c: CapacitySearchResult, terminal: Terminal): string {
  const lines = c.steps.map((s) => `  ${formatStep(s, terminal)}`);
  const head = c.maxSustainableRate === null ? `No rate held ${c.thresholds.join(', ')}; even the first step broke.` : `Highest rate that held ${c.thresholds.join(', ')}: ${c.maxSustainableRate.toFixed(1)}/s${c.breakingRate !== null ? ` (broke at ${c.breakingRate.toFixed(1)}/s)` : ' (the ladder ended before anything broke)'}`;
  return `${head}\n${lines.join('\n')}\n`;
}

function progressLine(p: LoadTestProgress): string {
  const phase = p.elapsedMs < 0 ? 'warm-up' : `${(p.elapsedMs / 1000).toFixed(0)}s`;
  return `\r${phase.padStart(7)}  rate ${p.lastSecondRate}/s${p.offeredRate !== null ? ` (offered ${p.offeredRate}/s)` : ''}  p99 ${Number.isNaN(p.p99Ms) ? '-' : `${p.p99Ms.toFixed(1)} ms`}  errors ${p.errors}   `;
}

/** Runs the command; returns the exit code. */
export async function loadtestAction(target: string | undefined, flags: LoadtestFlags, io: OutputStreams = processStreams, tty = Boolean(process.stderr.isTTY)): Promise<number> {
  const lt = await import('../../loadtest/index.js');
  const options = await optionsFromFlags(flags, target);
  const showProgress = tty && !flags.json;
  const onProgress = showProgress ? (p: LoadTestProgress) => io.err(progressLine(p)) : undefined;
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    if (flags.capacity !== undefined) {
      const parts = flags.capacity.split(':');
      if (parts.length !== 3) await usage(`--capacity '${flags.capacity}' must look like START:STEP:MAX, e.g. 100:100:2000.`);
      const [startRate, stepRate, maxRate] = parts as [string, string, string];
      const { rate: _r, duration: _d, record: _rec, baseline: _b, ...base } = options;
      if (_r !== undefined || _rec !== undefined || _b !== undefined) await usage('--capacity chooses the rates itself; do not combine it with --rate, --record or --baseline.');
      const result = await lt.runCapacitySearch(
        { ...(base as LoadTestOptions), startRate, stepRate, maxRate, stepDuration: flags.stepDuration ?? _d ?? '10s' },
        { onProgress, signal: abort.signal, naming: flagNaming, onStep: showProgress ? (s) => io.err(`\r${' '.repeat(70)}\r  ${formatStep(s, errTerminal(io))}\n`) : undefined },
      );
      if (showProgress) io.err('\n');
      if (flags.out) await writeFile(flags.out, formatJson(result));
      if (flags.report) await writeFile(flags.report, lt.renderCapacityReport(result));
      io.out(flags.json ? formatJson(result) : formatCapacity(result, outTerminal(io)));
      return result.maxSustainableRate === null ? EXIT.FAILED : EXIT.OK;
    }
    const result = await lt.runLoadTest(options, { onProgress, signal: abort.signal, naming: flagNaming });
    if (showProgress) io.err('\n');
    if (flags.out) await writeFile(flags.out, formatJson(result));
    if (flags.report) await writeFile(flags.report, lt.renderHtmlReport(result));
    io.out(flags.json ? formatJson(result) : formatSummary(result, outTerminal(io)));
    return result.passed ? EXIT.OK : EXIT.FAILED;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Registers `slipway loadtest`. */
export function register(program: Command): void {
  const cmd = program
    .command('loadtest')
    .description('Load-test a model or endpoint against SLO thresholds (exit 1 when one fails)')
    .argument('[target]', 'URL, or models:/NAME@ALIAS with --server')
    .option('--url <url>', 'endpoint to load (V2 …/infer, MLflow …/invocations, or any URL)')
    .option('--model <uri>', 'served model, models:/NAME@ALIAS or models:/NAME/VERSION (needs --server)')
    .option('--server <url>', 'Slipway server: resolves models:/ targets, baselines and recordings (default: $SLIPWAY_SERVER, else an http(s) $MLFLOW_TRACKING_URI)')
    .option('--token <token>', "API token sent to --server as a bearer token, and with the load to the server's own origin unless --header gives an Authorization (default: $SLIPWAY_TOKEN, else $MLFLOW_TRACKING_TOKEN, else basic auth from $MLFLOW_TRACKING_USERNAME/$MLFLOW_TRACKING_PASSWORD)")
    .option('--protocol <protocol>', 'raw, v2 or mlflow (default: from the target)')
    .option('--method <method>', 'HTTP method (default POST for v2/mlflow, GET for raw)')
    .option('--header <header>', "extra header 'Name: value' (repeatable)", collect)
    .option('--body <text>', 'raw body template ({{rows}}, {{row}}), or @file')
    .option('--data <file>', 'rows to send: .csv, .jsonl or .parquet')
    .option('--data-format <format>', 'csv, jsonl or parquet (default: from the file name)')
    .option('--rows-per-request <n>', 'rows in each request', positiveInt('--rows-per-request'))
    .option('--columns <list>', 'comma-separated columns to send, in order')
    .option('--sample <mode>', 'sequential or random', undefined)
    .option('--seed <n>', 'seed of random sampling', nonNegativeInt('--seed'))
    .option('--rate <rate>', 'open model: constant arrival rate, e.g. 500 or 500/s')
    .option('--duration <duration>', 'measured duration, e.g. 30s')
    .option('--stages <list>', 'open model: ramping rate RATE:DURATION,… e.g. 100:10s,500:30s')
    .option('--start-rate <rate>', 'rate the first stage ramps from (default 0)')
    .option('--steps <spec>', 'open model: START,STEP,COUNT,DURATION e.g. 100,100,5,10s')
    .option('--clients <n>', 'closed model: concurrent clients', positiveInt('--clients'))
    .option('--warmup <duration>', 'leading time sent but not measured (default 0s)')
    .option('--workers <n>', 'generator threads (default: one per core)', positiveInt('--workers'))
    .option('--connections <n>', 'keep-alive connections (default: clients, or 64)', positiveInt('--connections'))
    .option('--timeout <duration>', 'per-request timeout (default 10s)')
    .option('--max-in-flight <n>', 'sends beyond this many open requests are dropped and counted (default 10000)', positiveInt('--max-in-flight'))
    .option('--late-tolerance <duration>', 'a send later than this counts as late (default 10ms)')
    .option('--slo <threshold>', "threshold such as p99<50ms (or k6's p(99)<50), error_rate<0.1%, throughput>2000/s (repeatable)", collect)
    .option('--spec <file>', 'YAML file with the same options (flags override it)')
    .option('--baseline <source>', 'previous result JSON file, or models:/NAME@ALIAS (latest recorded load test)')
    .option('--tolerance-p99 <fraction>', 'allowed p99 growth over the baseline (default 10%)')
    .option('--tolerance-throughput <fraction>', 'allowed throughput drop below the baseline (default 10%)')
    .option('--record', 'record the result as a tracking run on --server')
    .option('--experiment <name>', 'experiment that holds recordings (default slipway-loadtests)')
    .option('--report <file>', 'write the self-contained HTML report (with --capacity: the ladder and the step that broke)')
    .option('--out <file>', 'write the JSON result document')
    .option('--capacity <ladder>', 'capacity search START:STEP:MAX req/s; reports the highest rate that held every --slo')
    .option('--step-duration <duration>', 'measured duration of each capacity step (default --duration or 10s)')
    .option('--json', 'print the full result document as JSON')
    .action(runAction(async (target: string | undefined, flags: LoadtestFlags) => loadtestAction(target, flags)));
  usageErrorsExit2(cmd);
  addHelpEpilogue(cmd, {
    examples: [
      "slipway loadtest http://127.0.0.1:8080/v2/models/cancer/infer --data rows.csv --rate 500 --duration 30s --slo 'p99<50ms'",
      'slipway loadtest models:/cancer@champion --server http://127.0.0.1:5000 --data rows.csv --clients 8 --duration 30s --record',
      "slipway loadtest --spec loadtest.yaml --capacity 100:100:2000 --slo 'p99<50ms' --report report.html",
    ],
    exitCodes: { 1: 'a threshold failed, the generator fell behind its schedule, or the run regressed against its baseline', 2: 'bad usage, a threshold that does not parse, or unreadable data' },
    docs: ['loadtest.md', 'cli.md'],
  });
}
