/**
 * Monitoring under /api/v1/monitoring: profiles, reference profiles of model versions,
 * reports, live windows, ground truth and performance, alert rules. Also starts live
 * monitoring: a sampling observer on every served request, windows flushed in the
 * background and on shutdown, gauges on the shared Prometheus registry.
 */
import type { FastifyRequest } from 'fastify';
import { SlipwayError } from '../../core/errors.js';
import { parseModelUri } from '../../core/model-source.js';
import {
  AlertEngine,
  DatasetProfile,
  LiveMonitor,
  MonitoringMetrics,
  attachReference,
  buildReport,
  createAlertRule,
  createWebhookPolicy,
  deleteAlertRule,
  detachReference,
  getReference,
  listAlertStatus,
  listReferences,
  listWindows,
  parseGroundTruth,
  parseMonitorSpec,
  prepareSide,
  profileTable,
  recordGroundTruth,
  reportToHtml,
  reportToJson,
  TextSummary,
  tableFromRows,
  windowPerformance,
  type ColumnKind,
  type MutationMeta,
  type ReportSide,
  type StoredWindow,
} from '../../monitoring/index.js';
import { alertActionOf } from './releases.js';
import { reportImportance } from './report-importance.js';
import type { DomainPlugin } from '../app.js';
import { getMetricsRegistry } from '../metrics-registry.js';
import { datasetsOf, registryOf, trackingOf } from '../native/services.js';
import type { ServerContext } from '../context.js';
import { pruneMonitoring } from '../../monitoring/live/retention.js';
import { RegistryModelSource } from '../../registry/registry-model-source.js';

const PREFIX = '/api/v1/monitoring';
const MAX_ROWS = 1_000_000;
/** Windows one report may merge (a week of one-minute windows). */
const MAX_REPORT_WINDOWS = 10_080;
/** The latest time a Date holds (year 275760): later ones cannot be named in a message or compared as dates. */
const MAX_TIME_MS = 8.64e15;

function meta(ctx: ServerContext, request: FastifyRequest): MutationMeta {
  const actor = (request as FastifyRequest & { actor?: unknown }).actor;
  return { ...(typeof actor === 'string' ? { actor } : {}), requestId: request.id, time: ctx.clock.now() };
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new SlipwayError('MALFORMED_REQUEST', 'Expected a JSON object body.');
  return body as Record<string, unknown>;
}

function rowsOf(value: unknown, field: string): Array<Record<string, unknown>> {
  if (!Array.isArray(value)) throw new SlipwayError('INVALID_ARGUMENT', `'${field}' must be an array of row objects.`);
  if (value.length > MAX_ROWS) throw new SlipwayError('LIMIT_EXCEEDED', `'${field}' has ${value.length} rows; at most ${MAX_ROWS}.`);
  value.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new SlipwayError('INVALID_ARGUMENT', `${field}[${i}] must be an object of column values.`);
  });
  return value as Array<Record<string, unknown>>;
}

function optionalTime(q: Record<string, unknown>, key: string): number | undefined {
  const raw = q[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > MAX_TIME_MS) throw new SlipwayError('INVALID_ARGUMENT', `Query parameter '${key}' must be epoch milliseconds.`);
  return n;
}

// A repeated key arrives as an array; a filter takes one value.
function optionalName(q: Record<string, unknown>, key: string): string | undefined {
  const raw = q[key];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new SlipwayError('INVALID_ARGUMENT', `Query parameter '${key}' must be given once.`);
  return raw;
}

function kindsOf(value: unknown): Record<string, ColumnKind> | undefined {
  if (value === undefined) return undefined;
  const spec = parseMonitorSpec({ kinds: value }, 'kinds');
  return spec.kinds;
}

/** How often the alerts lease holder looks for windows written since its last pass. */
const ALERT_JOB_INTERVAL_MS = 1000;
/** How often the retention lease holder prunes predictions and labels past the retention. */
const RETENTION_JOB_INTERVAL_MS = 600_000;

const monitoring: DomainPlugin = async (app, ctx) => {
  const metrics = MonitoringMetrics.for(getMetricsRegistry());
  const webhookPolicy = createWebhookPolicy(ctx.config.outboundAllowedHosts);
  const live = new LiveMonitor(ctx.store, ctx.clock, ctx.logger, {
      windowMs: ctx.config.monitoringWindowMs,
      sampleRate: ctx.config.monitoringSampleRate,
      webhookPolicy,
      ...(ctx.jobs ? { alertEvaluation: 'job' as const } : {}),
      // Looked up when a rule fires: the releases plugin runs the action (rollback, command) and records it.
      onAlertAction: async (rule, action, firing) => {
        const hook = alertActionOf(ctx);
        if (!hook) throw new Error(`alert '${rule.name}' has a ${action.kind} action, but this server runs no releases`);
        await hook(rule, action, firing);
      },
    }, metrics);
  ctx.inferenceObservers.push(live.sampler);
  live.start();
  const jobs = ctx.jobs;
  if (jobs) {
    // Every replica closes its own part of each window; the holder of this lease alone evaluates the rules.
    jobs.add({
      name: 'monitoring.alerts',
      intervalMs: ALERT_JOB_INTERVAL_MS,
      onAcquired: async () => live.resetAlertCursor(),
      run: async ({ grant }) => live.evaluateChangedAlerts((work) => jobs.leases.fenced(grant, work)),
    });
    const retentionMs = ctx.config.monitoringRetentionMs;
    if (retentionMs > 0) {
      jobs.add({
        name: 'monitoring.retention',
        intervalMs: RETENTION_JOB_INTERVAL_MS,
        run: async ({ grant, signal }) => {
          const pruned = await pruneMonitoring(ctx.store, ctx.clock.now() - retentionMs, (work) => jobs.leases.fenced(grant, work), signal);
          if (pruned.predictions + pruned.labels > 0) ctx.logger.info(pruned, 'monitoring: pruned predictions and labels past the retention');
        },
      });
    }
  }
  // Graceful shutdown closes the open windows; closing the app alone (tests, embedders) just stops the timer.
  ctx.onClose.push(() => live.close());
  app.addHook('onClose', async () => live.stop());
  const alerts: AlertEngine = live.alerts;

  const resolveVersion = async (name: string, version: string): Promise<{ name: string; version: string }> => {
    if (/^\d+$/.test(version)) return { name, version };
    // A stage (Staging, Production…) as MLflow names it in a URI; anything else is an alias (champion).
    const stage = /^(none|staging|production|archived)$/i.test(version);
    const ref = parseModelUri(`models:/${encodeURIComponent(name)}${stage ? '/' : '@'}${encodeURIComponent(version)}`);
    const v = await registryOf(ctx).resolveRef(ref ?? { name, version });
    return { name: v.name, version: v.version };
  };
  const resolveUri = async (uri: unknown): Promise<{ name: string; version: string }> => {
    let ref: ReturnType<typeof parseModelUri>;
    try {
      ref = typeof uri === 'string' ? parseModelUri(uri) : undefined;
    } catch {
      // A stray '%' in the name: not a model URI, rather than a URIError answered as 500.
      ref = undefined;
    }
    if (!ref) throw new SlipwayError('INVALID_ARGUMENT', `'model' must be models:/NAME@ALIAS or models:/NAME/VERSION, got '${String(uri)}'.`);
    const v = await registryOf(ctx).resolveRef(ref);
    return { name: v.name, version: v.version };
  };

  // A registered dataset version's stored profile as a reference: named ({ dataset: { name, version } }), or the
  // one the version's run trained on ({ fromTrainingData: true }: its input with context 'training').
  const referenceDataset = async (body: Record<string, unknown>, runId: string | undefined): Promise<{ profile: DatasetProfile; source: string }> => {
    if (body.dataset !== undefined && body.fromTrainingData !== undefined) throw new SlipwayError('INVALID_ARGUMENT', "Send either 'dataset' or 'fromTrainingData', not both.");
    let ref: { name: string; version: number | 'latest' };
    if (body.fromTrainingData !== undefined) {
      if (body.fromTrainingData !== true) throw new SlipwayError('INVALID_ARGUMENT', "'fromTrainingData' must be true.");
      if (!runId) throw new SlipwayError('NOT_FOUND', 'The model version was not registered from a run, so its training data is unknown; name the dataset with { dataset: { name, version } }.');
      ref = await datasetsOf(ctx).trainingVersionOf(await trackingOf(ctx).getRun(runId));
    } else {
      const d = body.dataset as { name?: unknown; version?: unknown } | null;
      const v = d?.version;
      const version = v === 'latest' ? 'latest' : typeof v === 'number' ? v : typeof v === 'string' && /^[1-9]\d{0,8}$/.test(v) ? Number(v) : undefined;
      if (d === null || typeof d !== 'object' || typeof d.name !== 'string' || version === undefined || (typeof version === 'number' && (!Number.isSafeInteger(version) || version < 1))) {
        throw new SlipwayError('INVALID_ARGUMENT', "'dataset' must be { name, version } with version a positive number or 'latest'.");
      }
      ref = { name: d.name, version };
    }
    const found = await datasetsOf(ctx).get(ref.name, ref.version);
    if (!found.profile) throw new SlipwayError('DATA_ERROR', `Dataset '${found.name}' version ${found.version} has no stored profile (it was not registered from a table), so it cannot be a reference.`);
    return { profile: DatasetProfile.fromJSON(found.profile), source: `dataset:${found.name}@${found.version}` };
  };

  app.post(`${PREFIX}/profiles`, async (request) => {
    const body = bodyObject(request.body);
    const table = tableFromRows(rowsOf(body.rows, 'rows'), 'request');
    if (table.rows === 0) throw new SlipwayError('DATA_ERROR', "'rows' is empty: nothing to profile.");
    return profileTable(table, { kinds: kindsOf(body.kinds) }).toJSON();
  });

  app.get(`${PREFIX}/models/:name/references`, async (request) => {
    const { name } = request.params as { name: string };
    return { references: await listReferences(ctx.store, name) };
  });

  // A text model's reference also summarises its text column with the model's own tokenizer, as live windows do.
  const addTextSummary = async (profile: DatasetProfile, rows: Array<Record<string, unknown>>, name: string, version: string, signature: { text?: unknown } | undefined): Promise<void> => {
    // A version whose signature shows no text input is not a text model.
    if (signature && !signature.text) return;
    let onnxPath: string;
    if (signature?.text) {
      // A text model: its file must be found (on a server with only monitoring loaded, through the registry).
      const source = ctx.modelSource ?? new RegistryModelSource(registryOf(ctx));
      try {
        onnxPath = (await source.resolve({ name, version })).onnxPath;
      } finally {
        if (source !== ctx.modelSource) (source as RegistryModelSource).close();
      }
    } else {
      // No signature read at registration (a remote location): the served file tells.
      if (!ctx.modelSource) return;
      try {
        onnxPath = (await ctx.modelSource.resolve({ name, version })).onnxPath;
      } catch {
        // A version that cannot be served has no live windows to compare: its reference stays a table profile.
        return;
      }
    }
    const { TextTokenizer } = await import('../../serving/text-model.js');
    const tokenizer = await TextTokenizer.load(onnxPath);
    if (!tokenizer) return;
    const input = tokenizer.config.input;
    if (!rows.some((r) => Object.hasOwn(r, input))) {
      throw new SlipwayError('INVALID_ARGUMENT', `Model '${name}' version ${version} is a text model: its reference rows need its text input '${input}' (they have ${[...profile.columns.keys()].join(', ') || 'no columns'}).`);
    }
    const summary = new TextSummary();
    rows.forEach((r, i) => {
      try {
        summary.add(r[input], tokenizer);
      } catch (err) {
        throw new SlipwayError('INVALID_ARGUMENT', `rows[${i}].${input} cannot be tokenised by the model's tokenizer: ${(err as Error).message}.`);
      }
    });
    profile.texts.set(input, summary);
  };

  app.put(`${PREFIX}/models/:name/versions/:version/reference`, async (request, reply) => {
    const p = request.params as { name: string; version: string };
    const body = bodyObject(request.body);
    const { name, version } = await resolveVersion(p.name, p.version);
    const mv = await registryOf(ctx).getModelVersion(name, version);
    let profile: DatasetProfile;
    let source = typeof body.source === 'string' ? body.source : null;
    if (body.dataset !== undefined || body.fromTrainingData !== undefined) {
      const picked = await referenceDataset(body, mv.runId);
      profile = picked.profile;
      source = picked.source;
    } else if (body.format === 'slipway-profile/1') profile = DatasetProfile.fromJSON(body);
    else if (body.rows !== undefined) {
      const rows = rowsOf(body.rows, 'rows');
      const table = tableFromRows(rows, 'request');
      if (table.rows === 0) throw new SlipwayError('DATA_ERROR', "'rows' is empty: a reference needs data.");
      profile = profileTable(table, { kinds: kindsOf(body.kinds) });
      await addTextSummary(profile, rows, name, version, mv.signature);
    } else throw new SlipwayError('INVALID_ARGUMENT', "Send a profile (format 'slipway-profile/1') or { rows: [...] } to profile.");
    await attachReference(ctx.store, name, version, profile, source, meta(ctx, request));
    reply.code(201);
    return { model: name, version, rows: profile.rows, columns: profile.names, ...(profile.texts.size > 0 ? { texts: [...profile.texts.keys()] } : {}), source };
  });

  app.get(`${PREFIX}/models/:name/versions/:version/reference`, async (request) => {
    const p = request.params as { name: string; version: string };
    const { name, version } = await resolveVersion(p.name, p.version);
    const ref = await getReference(ctx.store, name, version);
    return { model: ref.model, version: ref.version, rows: ref.rows, source: ref.source, createdTime: ref.createdTime, profile: ref.profile.toJSON() };
  });

  app.delete(`${PREFIX}/models/:name/versions/:version/reference`, async (request, reply) => {
    const p = request.params as { name: string; version: string };
    const { name, version } = await resolveVersion(p.name, p.version);
    await detachReference(ctx.store, name, version, meta(ctx, request));
    reply.code(204);
  });

  // Stored live windows of one model version as one side of a report: their profiles merged (profiles merge exactly).
  const windowsSide = async (value: unknown, field: string): Promise<ReportSide> => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SlipwayError('INVALID_ARGUMENT', `'${field}' must be { model, version?, from?, to? }.`);
    const w = value as Record<string, unknown>;
    if (typeof w.model !== 'string' || w.model === '') throw new SlipwayError('INVALID_ARGUMENT', `'${field}.model' must be a model name.`);
    if (w.version !== undefined && typeof w.version !== 'string') throw new SlipwayError('INVALID_ARGUMENT', `'${field}.version' must be a version number as text.`);
    const time = (key: 'from' | 'to'): number | undefined => {
      const t = w[key];
      if (t === undefined || t === null) return undefined;
      if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > MAX_TIME_MS) throw new SlipwayError('INVALID_ARGUMENT', `'${field}.${key}' must be epoch milliseconds.`);
      return t;
    };
    const from = time('from');
    const to = time('to');
    const found = await listWindows(ctx.store, w.model, { version: w.version as string | undefined, from, to, limit: MAX_REPORT_WINDOWS + 1, withProfiles: true });
    // Merging silently only the newest windows would report on another range than the one asked for.
    if (found.length > MAX_REPORT_WINDOWS) throw new SlipwayError('LIMIT_EXCEEDED', `'${field}' covers more than ${MAX_REPORT_WINDOWS} windows; narrow 'from' and 'to'.`, { field });
    const range = `${from === undefined ? 'the first window' : new Date(from).toISOString()} to ${to === undefined ? 'now' : new Date(to).toISOString()}`;
    if (found.length === 0) throw new SlipwayError('NOT_FOUND', `Model '${w.model}'${w.version === undefined ? '' : ` version ${String(w.version)}`} has no monitoring windows from ${range}.`, { model: w.model });
    // Windows of different versions are different models' inputs: the newest window's version is reported unless one is named.
    const version = (w.version as string | undefined) ?? (found[0] as StoredWindow).version;
    const mine = found.filter((x) => x.version === version);
    const profile = mine[0]?.profile as DatasetProfile;
    for (const x of mine.slice(1)) profile.merge(x.profile as DatasetProfile);
    return { profile, source: `${w.model} version ${version}, ${mine.length} window(s) from ${range}` };
  };

  // Every model live monitoring knows of (a reference, stored windows or alert rules), with its newest window and alert state.
  app.get(`${PREFIX}/models`, async () => {
    const references = await listReferences(ctx.store);
    const rules = await listAlertStatus(ctx.store);
    const windowed = await ctx.store.db.selectFrom('monitoring_windows').select('model').distinct().execute();
    const names = [...new Set([...references.map((r) => r.model), ...windowed.map((r) => r.model), ...rules.map((r) => r.model)])].sort((a, b) => a.localeCompare(b));
    const models = [];
    for (const model of names) {
      const latest = (await listWindows(ctx.store, model, { limit: 1 }))[0];
      const mine = rules.filter((r) => r.model === model);
      models.push({
        model,
        references: references.filter((r) => r.model === model).map((r) => ({ version: r.version, rows: r.rows, source: r.source, createdTime: r.createdTime })),
        latestWindow: latest ? { version: latest.version, windowStart: latest.windowStart, windowEnd: latest.windowEnd, rows: latest.rows, figures: latest.figures } : null,
        alerts: { total: mine.length, firing: mine.filter((r) => r.state === 'firing').map((r) => r.name) },
      });
    }
    return { windowMs: live.windowMs, models };
  });

  // One stored window compared with its version's reference again: every feature's test, statistic and
  // threshold, and the quality suite's results (the stored figures keep only the scores).
  app.get(`${PREFIX}/models/:name/windows/:windowStart`, async (request) => {
    const { name, windowStart } = request.params as { name: string; windowStart: string };
    const start = Number(windowStart);
    if (!/^\d+$/.test(windowStart) || !Number.isSafeInteger(start) || start > MAX_TIME_MS) throw new SlipwayError('INVALID_ARGUMENT', `Path parameter 'windowStart' must be epoch milliseconds, got '${windowStart}'.`);
    const version = optionalName(request.query as Record<string, unknown>, 'version');
    const found = await listWindows(ctx.store, name, { version, from: start, to: start + 1, limit: 100, withProfiles: true });
    if (found.length === 0) throw new SlipwayError('NOT_FOUND', `Model '${name}'${version === undefined ? '' : ` version ${version}`} has no monitoring window starting at ${new Date(start).toISOString()} (${start}).`, { model: name, windowStart: start });
    if (found.length > 1) throw new SlipwayError('INVALID_ARGUMENT', `Model '${name}' has windows of versions ${found.map((w) => w.version).join(', ')} starting at ${start}; name one with ?version=.`, { field: 'version' });
    const w = found[0] as StoredWindow;
    const { drift, quality, text } = await live.figuresOf({ model: w.model, version: w.version, windowStart: w.windowStart, windowEnd: w.windowEnd, rows: w.rows, requests: w.requests, droppedRows: w.droppedRows, profile: w.profile as DatasetProfile });
    const ref = (await listReferences(ctx.store, name)).find((r) => r.version === w.version);
    return {
      model: w.model,
      version: w.version,
      windowStart: w.windowStart,
      windowEnd: w.windowEnd,
      rows: w.rows,
      requests: w.requests,
      droppedRows: w.droppedRows,
      figures: w.figures,
      reference: ref ? { rows: ref.rows, source: ref.source, createdTime: ref.createdTime } : null,
      drift: drift ?? null,
      quality: quality ?? null,
      // A text model's input against the reference's, by text input.
      text: text ?? null,
    };
  });

  app.post(`${PREFIX}/reports`, async (request, reply) => {
    const body = bodyObject(request.body);
    const spec = parseMonitorSpec(body.spec ?? {}, 'spec');
    const side = async (value: unknown, field: string): Promise<ReportSide> => {
      const v = bodyObject(value ?? null);
      if (v.model !== undefined) {
        const { name, version } = await resolveUri(v.model);
        const ref = await getReference(ctx.store, name, version);
        return { profile: ref.profile, source: `models:/${name}/${version}` };
      }
      if (v.format === 'slipway-profile/1') return { profile: DatasetProfile.fromJSON(v), source: `${field} profile` };
      if (v.windows !== undefined) return windowsSide(v.windows, `${field}.windows`);
      return { table: tableFromRows(rowsOf(v.rows, `${field}.rows`), field), source: field };
    };
    const reference = await side(body.reference, 'reference');
    // With `importance`, the current side is profiled first: its profile also gives the rows to explain.
    const prepared = body.importance === undefined ? undefined : prepareSide(await side(body.current, 'current'), spec);
    const doc = buildReport(reference, prepared ?? (await side(body.current, 'current')), { spec, now: new Date(ctx.clock.now()) });
    if (prepared) {
      const { importance, note } = await reportImportance(ctx, body.importance, prepared.profile, resolveUri);
      doc.importance = importance;
      if (note !== undefined) doc.importanceNote = note;
    }
    const format = (request.query as { format?: string }).format ?? 'json';
    if (format === 'html') return reply.type('text/html; charset=utf-8').send(reportToHtml(doc));
    if (format !== 'json') throw new SlipwayError('INVALID_ARGUMENT', `Query parameter 'format' must be json or html, got '${format}'.`);
    return reply.type('application/json; charset=utf-8').send(reportToJson(doc, 0));
  });

  app.get(`${PREFIX}/models/:name/windows`, async (request) => {
    const { name } = request.params as { name: string };
    const q = request.query as Record<string, unknown>;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new SlipwayError('INVALID_ARGUMENT', "Query parameter 'limit' must be an integer from 1 to 10000.");
    const windows = await listWindows(ctx.store, name, { version: optionalName(q, 'version'), from: optionalTime(q, 'from'), to: optionalTime(q, 'to'), limit });
    return { windowMs: live.windowMs, windows: windows.map((w) => ({ ...w, storedBytes: undefined })) };
  });

  // A flush that could not write is the store's problem, not the caller's: 503 with the reason.
  const flushHere = (closeAll: boolean): Promise<void> =>
    live.flush(closeAll).catch((err: unknown) => {
      throw new SlipwayError('UNAVAILABLE', `Monitoring windows could not be written to the store: ${(err as Error)?.message ?? String(err)}`);
    });
  // The workers of one server each hold the predictions they served: a flush asks every one of them.
  const cluster = ctx.cluster;
  for (const closeAll of [false, true]) {
    cluster?.answer(`monitoring.flush.${closeAll}`, () => flushHere(closeAll).then(() => ({ ok: true }), (err: Error) => ({ ok: false, error: err.message })));
  }
  const flushOrFail = async (closeAll: boolean): Promise<void> => {
    if (!cluster) return flushHere(closeAll);
    const { values, missing } = await cluster.gather(`monitoring.flush.${closeAll}`);
    const failed = (values as Array<{ ok: boolean; error?: string }>).find((a) => !a.ok);
    if (failed) throw new SlipwayError('UNAVAILABLE', failed.error ?? 'Monitoring windows could not be written to the store.');
    // Predictions a worker still holds would be missing from the windows and from label matching: say so rather than answer done.
    if (missing > 0) throw new SlipwayError('UNAVAILABLE', `${missing} of the server's workers did not write their monitoring data in time; retry.`, { retryAfterSeconds: 1 });
  };

  app.post(`${PREFIX}/windows/flush`, async () => {
    await flushOrFail(true);
    return { flushed: true };
  });

  app.post(`${PREFIX}/models/:name/ground-truth`, async (request) => {
    const { name } = request.params as { name: string };
    const items = parseGroundTruth(request.body);
    // Predictions still queued in memory are written first so fresh request ids are known.
    await flushOrFail(false);
    const result = await recordGroundTruth(ctx.store, name, items, meta(ctx, request));
    if (result.accepted > 0) await alerts.evaluate(name);
    return result;
  });

  app.get(`${PREFIX}/models/:name/performance`, async (request) => {
    const { name } = request.params as { name: string };
    const q = request.query as Record<string, unknown>;
    const task = q.task;
    if (task !== undefined && task !== 'classification' && task !== 'regression') throw new SlipwayError('INVALID_ARGUMENT', "Query parameter 'task' must be classification or regression.");
    return { windows: await windowPerformance(ctx.store, name, { from: optionalTime(q, 'from'), to: optionalTime(q, 'to'), task }) };
  });

  app.get(`${PREFIX}/alerts`, async (request) => {
    const model = optionalName(request.query as Record<string, unknown>, 'model');
    return { alerts: await listAlertStatus(ctx.store, model) };
  });

  app.post(`${PREFIX}/alerts`, async (request, reply) => {
    const rule = await createAlertRule(ctx.store, bodyObject(request.body), meta(ctx, request), webhookPolicy);
    reply.code(201);
    return rule;
  });

  app.delete(`${PREFIX}/alerts/:id`, async (request, reply) => {
    await deleteAlertRule(ctx.store, (request.params as { id: string }).id, meta(ctx, request));
    reply.code(204);
  });

  app.get(`${PREFIX}/alerts/:id/events`, async (request) => {
    const id = (request.params as { id: string }).id;
    const rule = (await listAlertStatus(ctx.store)).find((r) => r.id === id || r.name === id);
    if (!rule) throw new SlipwayError('NOT_FOUND', `No alert rule '${id}'.`, { rule: id });
    return { events: await alerts.events(rule.id) };
  });

  app.post(`${PREFIX}/alerts/evaluate`, async (request) => {
    const model = optionalName(request.query as Record<string, unknown>, 'model');
    await alerts.evaluate(model);
    return { alerts: await listAlertStatus(ctx.store, model) };
  });
};

export default monitoring;
