/** Reads runs with their metrics, params, tags and dataset inputs (both dialects, via Kysely). */
import type { Kysely, Selectable } from 'kysely';
import type { Database, RunTable } from '../store/schema.js';
import type { DatasetInput, LifecycleStage, Metric, Param, Run, RunInfo, RunStatus, Tag } from './tracking-types.js';

type RunRow = Selectable<RunTable>;

const LOAD_SLICE = 1000;

/** Maps a runs row to RunInfo. */
export function toRunInfo(row: RunRow): RunInfo {
  const info: RunInfo = {
    runId: row.run_uuid,
    runName: row.name,
    experimentId: String(row.experiment_id),
    userId: row.user_id,
    status: row.status as RunStatus,
    startTime: Number(row.start_time),
    artifactUri: row.artifact_uri,
    lifecycleStage: row.lifecycle_stage as LifecycleStage,
  };
  if (row.end_time !== null && row.end_time !== undefined) info.endTime = Number(row.end_time);
  return info;
}

/** Rebuilds a metric value from its stored form (SQLite cannot hold NaN). */
export function storedMetricValue(value: number, isNan: number | boolean): number {
  return isNan ? NaN : Number(value);
}

function group<T>(rows: Array<{ run_uuid: string }>, map: (r: never) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    let list = out.get(r.run_uuid);
    if (!list) out.set(r.run_uuid, (list = []));
    list.push(map(r as never));
  }
  return out;
}

/** Run reads. */
export class RunRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The runs row, or undefined. */
  async row(runId: string): Promise<RunRow | undefined> {
    return this.db.selectFrom('runs').selectAll().where('run_uuid', '=', runId).executeTakeFirst();
  }

  /** Full runs for these ids, in the given order (missing ids are skipped). */
  async load(runIds: string[]): Promise<Run[]> {
    // Both backends cap bind variables per statement (SQLite 32766), so large pages load in slices.
    if (runIds.length > LOAD_SLICE) {
      const out: Run[] = [];
      for (let i = 0; i < runIds.length; i += LOAD_SLICE) out.push(...(await this.loadSlice(runIds.slice(i, i + LOAD_SLICE))));
      return out;
    }
    return this.loadSlice(runIds);
  }

  private async loadSlice(runIds: string[]): Promise<Run[]> {
    if (runIds.length === 0) return [];
    const [rows, metrics, params, tags, inputs] = await Promise.all([
      this.db.selectFrom('runs').selectAll().where('run_uuid', 'in', runIds).execute(),
      this.db.selectFrom('latest_metrics').selectAll().where('run_uuid', 'in', runIds).orderBy('key').execute(),
      this.db.selectFrom('params').selectAll().where('run_uuid', 'in', runIds).orderBy('key').execute(),
      this.db.selectFrom('tags').selectAll().where('run_uuid', 'in', runIds).orderBy('key').execute(),
      this.inputs(runIds),
    ]);
    const metricsByRun = group<Metric>(metrics, (r: Selectable<Database['latest_metrics']>) => ({
      key: r.key,
      value: storedMetricValue(r.value, r.is_nan),
      timestamp: Number(r.timestamp),
      step: Number(r.step),
    }));
    const paramsByRun = group<Param>(params, (r: Selectable<Database['params']>) => ({ key: r.key, value: r.value }));
    const tagsByRun = group<Tag>(tags, (r: Selectable<Database['tags']>) => ({ key: r.key, value: r.value }));
    const byId = new Map(rows.map((r) => [r.run_uuid, r]));
    const out: Run[] = [];
    for (const id of runIds) {
      const row = byId.get(id);
      if (!row) continue;
      out.push({
        info: toRunInfo(row),
        data: { metrics: metricsByRun.get(id) ?? [], params: paramsByRun.get(id) ?? [], tags: tagsByRun.get(id) ?? [] },
        inputs: { datasetInputs: inputs.get(id) ?? [] },
      });
    }
    return out;
  }

  /** Dataset inputs of many runs. */
  private async inputs(runIds: string[]): Promise<Map<string, DatasetInput[]>> {
    const links = await this.db
      .selectFrom('inputs')
      .innerJoin('datasets', 'datasets.dataset_uuid', 'inputs.source_id')
      .select(['inputs.input_uuid', 'inputs.destination_id', 'datasets.name', 'datasets.digest', 'datasets.source_type', 'datasets.source', 'datasets.schema', 'datasets.profile'])
      .where('inputs.destination_type', '=', 'RUN')
      .where('inputs.source_type', '=', 'DATASET')
      .where('inputs.destination_id', 'in', runIds)
      .orderBy('datasets.name')
      .execute();
    const out = new Map<string, DatasetInput[]>();
    if (links.length === 0) return out;
    const tagRows = await this.db.selectFrom('input_tags').selectAll().where('input_uuid', 'in', links.map((l) => l.input_uuid)).orderBy('name').execute();
    const tagsByInput = new Map<string, Tag[]>();
    for (const t of tagRows) {
      let list = tagsByInput.get(t.input_uuid);
      if (!list) tagsByInput.set(t.input_uuid, (list = []));
      list.push({ key: t.name, value: t.value });
    }
    for (const l of links) {
      let list = out.get(l.destination_id);
      if (!list) out.set(l.destination_id, (list = []));
      const dataset: DatasetInput['dataset'] = { name: l.name, digest: l.digest, sourceType: l.source_type, source: l.source };
      if (l.schema !== null) dataset.schema = l.schema;
      if (l.profile !== null) dataset.profile = l.profile;
      list.push({ tags: tagsByInput.get(l.input_uuid) ?? [], dataset });
    }
    return out;
  }
}
