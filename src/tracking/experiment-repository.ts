/** Reads experiments and their tags from the store (both dialects, via Kysely). */
import type { Kysely, Selectable } from 'kysely';
import type { Database, ExperimentTable } from '../store/schema.js';
import type { Experiment, LifecycleStage, Tag, ViewType } from './tracking-types.js';

type ExperimentRow = Selectable<ExperimentTable>;

/** Maps a row and its tags to the domain type. */
export function toExperiment(row: ExperimentRow, tags: Tag[]): Experiment {
  return {
    experimentId: String(row.experiment_id),
    name: row.name,
    artifactLocation: row.artifact_location,
    lifecycleStage: row.lifecycle_stage as LifecycleStage,
    creationTime: Number(row.creation_time),
    lastUpdateTime: Number(row.last_update_time),
    tags,
  };
}

/** The lifecycle stages a view type selects. */
export function stagesFor(view: ViewType): LifecycleStage[] {
  return view === 'ALL' ? ['active', 'deleted'] : view === 'DELETED_ONLY' ? ['deleted'] : ['active'];
}

/** Experiment reads. */
export class ExperimentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The experiment with this id, or undefined. */
  async get(id: number): Promise<Experiment | undefined> {
    const row = await this.db.selectFrom('experiments').selectAll().where('experiment_id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return toExperiment(row, await this.tags([id]).then((m) => m.get(id) ?? []));
  }

  /** The experiment with this exact name, or undefined. */
  async getByName(name: string): Promise<Experiment | undefined> {
    const row = await this.db.selectFrom('experiments').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    return toExperiment(row, await this.tags([row.experiment_id]).then((m) => m.get(row.experiment_id) ?? []));
  }

  /** Every experiment in the given stages, with tags. */
  async list(view: ViewType): Promise<Experiment[]> {
    const rows = await this.db.selectFrom('experiments').selectAll().where('lifecycle_stage', 'in', stagesFor(view)).execute();
    const tags = await this.tags(rows.map((r) => r.experiment_id));
    return rows.map((r) => toExperiment(r, tags.get(r.experiment_id) ?? []));
  }

  /** Tags of many experiments at once. */
  async tags(ids: number[]): Promise<Map<number, Tag[]>> {
    const out = new Map<number, Tag[]>();
    if (ids.length === 0) return out;
    const rows = await this.db.selectFrom('experiment_tags').selectAll().where('experiment_id', 'in', ids).orderBy('key').execute();
    for (const r of rows) {
      let list = out.get(r.experiment_id);
      if (!list) out.set(r.experiment_id, (list = []));
      list.push({ key: r.key, value: r.value });
    }
    return out;
  }
}
