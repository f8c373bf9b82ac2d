/**
 * Load tests over HTTP: `POST /api/v1/loadtests` runs one and answers with the
 * result document; `GET /api/v1/loadtests` lists the recorded ones (tracking runs);
 * `POST /api/v1/loadtests/capacity` runs a capacity search.
 * One test runs at a time per server so two tests never skew each other, and tests
 * started here may only send to this server (its models, its own port) and the hosts
 * the operator allows (`loadtestAllowedHosts`, `outboundAllowedHosts`), so the API
 * cannot be used to aim the server's traffic at other machines or at other services on
 * this one; caller headers cannot replace `Host` or the connection headers.
 */
import type { DomainPlugin } from '../app.js';
import { SlipwayError } from '../../core/errors.js';
import { assertTargetAllowed, createLoadTestPolicy, withoutForbiddenHeaders } from '../../loadtest/target-allow-list.js';

/** Longest load test (warm-up included) the HTTP API accepts; longer ones belong in the CLI. */
const MAX_API_DURATION_MS = 10 * 60_000;

function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new SlipwayError('MALFORMED_REQUEST', 'The request body must be a JSON object of load-test options.');
  const options = body as Record<string, unknown>;
  // The load goes where the URL says: a caller's Host (or framing) header would address another service behind it.
  const headers = options.headers;
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) return { ...options, headers: withoutForbiddenHeaders(headers as Record<string, string>) };
  return options;
}

const loadtest: DomainPlugin = async (app, ctx) => {
  let running = false;
  const ownPort = (): number => {
    const address = app.server.address();
    return address !== null && typeof address === 'object' ? address.port : ctx.config.port;
  };
  const policy = createLoadTestPolicy([...ctx.config.outboundAllowedHosts, ...ctx.config.loadtestAllowedHosts], () => [ownPort()]);
  // models:/ targets, baselines and recordings resolve against this very server unless the request names another.
  const ownServer = (): string => {
    const port = ownPort();
    const host = ctx.config.host === '0.0.0.0' || ctx.config.host === '::' ? '127.0.0.1' : ctx.config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  };

  // Checked before anything is sent (resolving a target already reads its metadata).
  const assertAllowed = async (body: Record<string, unknown>): Promise<void> => {
    const own = new URL(ownServer()).origin;
    const sameOrigin = (raw: string): boolean => URL.canParse(raw) && new URL(raw).origin === own;
    if (typeof body.server === 'string' && !sameOrigin(body.server)) await assertTargetAllowed(policy, body.server, 'server');
    if (typeof body.target === 'string' && !body.target.startsWith('models:/') && !sameOrigin(body.target)) await assertTargetAllowed(policy, body.target, 'target');
  };

  const exclusive = async <T>(work: () => Promise<T>): Promise<T> => {
    const busy = () => new SlipwayError('INVALID_STATE', 'A load test is already running on this server; wait for it to finish.');
    if (running) throw busy();
    running = true;
    // The workers of one server run one load test at a time between them, as one process does.
    let release: (() => void) | undefined;
    try {
      if (ctx.cluster) {
        release = await ctx.cluster.lock('loadtest');
        if (!release) throw busy();
      }
      return await work();
    } finally {
      release?.();
      running = false;
    }
  };

  app.post('/api/v1/loadtests', async (request) => {
    const lt = await import('../../loadtest/index.js');
    const body = requireObject(request.body);
    const options = lt.validateLoadTestOptions({ server: ownServer(), ...body });
    const { planLoad } = await import('../../loadtest/load-test-options.js');
    const plan = planLoad(options);
    if (plan.warmupMs + plan.durationMs > MAX_API_DURATION_MS) throw new SlipwayError('LIMIT_EXCEEDED', 'Load tests run over the HTTP API may last at most 10 minutes including warm-up; use the CLI for longer ones.');
    if (options.data !== undefined) throw new SlipwayError('INVALID_ARGUMENT', "The HTTP API takes inline 'rows', not a 'data' file path.", { field: 'data' });
    // A result file would make the server read a path of the caller's choosing from its own disk.
    if (options.baseline !== undefined && !options.baseline.startsWith('models:/')) {
      throw new SlipwayError('INVALID_ARGUMENT', "The HTTP API takes a 'baseline' of the form models:/NAME@ALIAS or models:/NAME/VERSION, not a result file path; compare with a file from the CLI.", { field: 'baseline' });
    }
    await assertAllowed(body);
    return exclusive(() => lt.runLoadTest(options, { logger: ctx.logger }));
  });

  app.get('/api/v1/loadtests', async (request) => {
    const lt = await import('../../loadtest/index.js');
    const q = (request.query ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(q)) {
      if (!['model', 'version', 'experiment', 'max_results'].includes(k)) throw new SlipwayError('INVALID_ARGUMENT', `Unknown query parameter '${k}'; use model, version, experiment or max_results.`, { field: k });
      if (typeof v !== 'string') throw new SlipwayError('INVALID_ARGUMENT', `Query parameter '${k}' must be given once.`, { field: k });
    }
    const max = q.max_results === undefined ? 100 : Number(q.max_results);
    if (!Number.isInteger(max) || max < 1 || max > 1000) throw new SlipwayError('INVALID_ARGUMENT', `max_results must be an integer from 1 to 1000, got '${String(q.max_results)}'.`, { field: 'max_results' });
    if (q.version !== undefined && q.model === undefined) throw new SlipwayError('MISSING_ARGUMENT', "Missing value for required parameter 'model' (version filters a model's load tests).", { field: 'model' });
    // The runs are read back through this server's own tracking API, as the caller: with access control on, that call
    // needs the caller's credentials (it went without and was refused), and it sees only what the caller may read.
    const authorization = request.headers.authorization;
    const access = typeof authorization === 'string' && authorization !== '' ? { authorization } : {};
    const loadtests = await lt.listRecordedLoadTests(ownServer(), { model: q.model as string | undefined, version: q.version as string | undefined, experiment: q.experiment as string | undefined, maxResults: max }, access);
    return { loadtests };
  });

  app.post('/api/v1/loadtests/capacity', async (request) => {
    const lt = await import('../../loadtest/index.js');
    const body = requireObject(request.body);
    if (body.data !== undefined) throw new SlipwayError('INVALID_ARGUMENT', "The HTTP API takes inline 'rows', not a 'data' file path.", { field: 'data' });
    for (const field of ['startRate', 'stepRate', 'maxRate'] as const) {
      if (body[field] === undefined) throw new SlipwayError('MISSING_ARGUMENT', `Missing value for required parameter '${field}'.`, { field });
      if (typeof body[field] !== 'number' && typeof body[field] !== 'string') throw new SlipwayError('INVALID_ARGUMENT', `'${field}' must be a rate such as 100 or "100/s".`, { field });
    }
    const { startRate, stepRate, maxRate, stepDuration, ...rest } = body as Record<string, string | number>;
    const stepMs = lt.parseDuration(stepDuration ?? '10s', 'stepDuration');
    const steps = Math.floor((lt.parseRate(maxRate as string | number, 'maxRate') - lt.parseRate(startRate as string | number, 'startRate')) / Math.max(lt.parseRate(stepRate as string | number, 'stepRate'), 1e-9)) + 1;
    if (steps * stepMs > MAX_API_DURATION_MS) throw new SlipwayError('LIMIT_EXCEEDED', 'A capacity search over the HTTP API may last at most 10 minutes (steps × stepDuration); use the CLI for longer ones.');
    // Validate the shared options up front so a bad field fails before any load is sent.
    lt.validateLoadTestOptions({ server: ownServer(), ...rest, rate: startRate, duration: stepDuration ?? '10s' });
    await assertAllowed(body);
    return exclusive(() => lt.runCapacitySearch({ server: ownServer(), ...(rest as object), startRate: startRate as string | number, stepRate: stepRate as string | number, maxRate: maxRate as string | number, stepDuration: stepDuration ?? '10s' } as Parameters<typeof lt.runCapacitySearch>[0], { logger: ctx.logger }));
  });
};

export default loadtest;
