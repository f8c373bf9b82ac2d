/**
 * Entity states that audit events vouch for. A registry event carries the digest of
 * the whole registered model after the change (its row, tags, aliases and every
 * version with its tags); a param-logging event carries a digest of each param's
 * value. Verification replays these digests and compares them with the current rows,
 * so an edit made with SQL alone (e.g. `model_versions.source`, `params.value`) shows.
 */
import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { canonicalJson } from '../core/canonical-json.js';
import type { Database } from '../store/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What an event says the named entities look like after it: a digest, or null for "gone". */
export type EntityStates = Record<string, string | null>;

const MODEL_PREFIX = 'registered_model:';
const PARAM_PREFIX = 'param:';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The state key of a registered model. */
export function modelStateKey(name: string): string {
  return MODEL_PREFIX + name;
}

/** The state key of one run param. */
export function paramStateKey(runId: string, key: string): string {
  return `${PARAM_PREFIX}${runId}/${key}`;
}

/** The digest a param-logging event records for a value. */
export function paramValueDigest(value: string): string {
  return sha256(value);
}

/** State entries for params logged to a run. */
export function paramStates(runId: string, params: ReadonlyArray<{ key: string; value: string }>): EntityStates {
  const out: EntityStates = {};
  for (const p of params) out[paramStateKey(runId, p.key)] = paramValueDigest(p.value);
  return out;
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * Digests of registered models as stored now (all of them, or those named). Timestamps
 * of the last update are left out: they move on reads that lock the model.
 */
export async function registeredModelDigests(db: Db, names?: readonly string[]): Promise<Map<string, string>> {
  if (names && names.length === 0) return new Map();
  const some = names !== undefined;
  const wanted = names ?? [];
  const [models, modelTags, aliases, versions, versionTags] = await Promise.all([
    db.selectFrom('registered_models').selectAll().$if(some, (q) => q.where('name', 'in', wanted)).execute(),
    db.selectFrom('registered_model_tags').selectAll().$if(some, (q) => q.where('name', 'in', wanted)).execute(),
    db.selectFrom('registered_model_aliases').selectAll().$if(some, (q) => q.where('name', 'in', wanted)).execute(),
    db.selectFrom('model_versions').selectAll().$if(some, (q) => q.where('name', 'in', wanted)).execute(),
    db.selectFrom('model_version_tags').selectAll().$if(some, (q) => q.where('name', 'in', wanted)).execute(),
  ]);
  const state = new Map<string, { model: unknown; tags: { key: string; value: string }[]; aliases: { key: string; version: number }[]; versions: Map<number, { row: Record<string, unknown>; tags: { key: string; value: string }[] }> }>();
  for (const m of models) {
    state.set(m.name, { model: { name: m.name, creation_time: Number(m.creation_time), description: m.description ?? null }, tags: [], aliases: [], versions: new Map() });
  }
  for (const t of modelTags) state.get(t.name)?.tags.push({ key: t.key, value: t.value });
  for (const a of aliases) state.get(a.name)?.aliases.push({ key: a.alias, version: Number(a.version) });
  for (const v of versions) {
    state.get(v.name)?.versions.set(Number(v.version), {
      row: {
        version: Number(v.version),
        creation_time: Number(v.creation_time),
        description: v.description ?? null,
        user_id: v.user_id ?? null,
        current_stage: v.current_stage,
        source: v.source,
        run_id: v.run_id ?? null,
        run_link: v.run_link ?? null,
        status: v.status,
        status_message: v.status_message ?? null,
        storage_location: v.storage_location ?? null,
        signature: v.signature ?? null,
      },
      tags: [],
    });
  }
  for (const t of versionTags) state.get(t.name)?.versions.get(Number(t.version))?.tags.push({ key: t.key, value: t.value });
  const out = new Map<string, string>();
  for (const [name, s] of state) {
    const versionList = [...s.versions.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => ({ ...v.row, tags: v.tags.sort(byKey) }));
    out.set(name, sha256(canonicalJson({ model: s.model, tags: s.tags.sort(byKey), aliases: s.aliases.sort(byKey), versions: versionList })));
  }
  return out;
}

/** State entries for registered models after a change inside `trx` (null for a model that is gone). */
export async function registeredModelStates(trx: Db, names: readonly string[]): Promise<EntityStates> {
  const digests = await registeredModelDigests(trx, names);
  const out: EntityStates = {};
  for (const name of names) out[modelStateKey(name)] = digests.get(name) ?? null;
  return out;
}

/** One difference between the state the events describe and the rows. */
export interface StateDifference {
  entity: string;
  /** The seq of the last event that described the entity, when one did. */
  seq: number | undefined;
  message: string;
}

/** How the comparison went. */
export interface StateComparison {
  /** Entities compared with an event's digest. */
  checked: number;
  /** Current entities no event describes (written before state digests existed). */
  unchecked: number;
  differences: StateDifference[];
}

/**
 * Compares the expected states (folded from the events, last one wins) with the current
 * rows. With `strict` (every event carried states) an entity no event describes is a difference.
 */
export async function compareStates(db: Kysely<Database>, expected: Map<string, { digest: string | null; seq: number }>, strict: boolean): Promise<StateComparison> {
  const differences: StateDifference[] = [];
  let checked = 0;
  let unchecked = 0;

  const models = await registeredModelDigests(db);
  for (const [key, want] of expected) {
    if (!key.startsWith(MODEL_PREFIX)) continue;
    const name = key.slice(MODEL_PREFIX.length);
    const have = models.get(name) ?? null;
    checked++;
    if (have === want.digest) continue;
    differences.push({
      entity: key,
      seq: want.seq,
      message:
        want.digest === null
          ? `Registered model '${name}' exists but event ${want.seq} deleted it.`
          : have === null
            ? `Registered model '${name}' is missing, but event ${want.seq} left it in place.`
            : `Registered model '${name}' (its row, tags, aliases or versions) differs from the state event ${want.seq} recorded.`,
    });
  }
  for (const name of models.keys()) {
    if (expected.has(modelStateKey(name))) continue;
    if (strict) differences.push({ entity: modelStateKey(name), seq: undefined, message: `Registered model '${name}' has no audit event: it was written outside Slipway.` });
    else unchecked++;
  }

  // Params are immutable, so each logged value must still be there unchanged.
  const seen = new Set<string>();
  for (let after: [string, string] = ['', '']; ; ) {
    const page = await db
      .selectFrom('params')
      .select(['run_uuid', 'key', 'value'])
      .where((eb) => eb.or([eb('run_uuid', '>', after[0]), eb.and([eb('run_uuid', '=', after[0]), eb('key', '>', after[1])])]))
      .orderBy('run_uuid')
      .orderBy('key')
      .limit(5000)
      .execute();
    for (const p of page) {
      const key = paramStateKey(p.run_uuid, p.key);
      const want = expected.get(key);
      if (!want) {
        if (strict) differences.push({ entity: key, seq: undefined, message: `Param '${p.key}' of run ${p.run_uuid} has no audit event: it was written outside Slipway.` });
        else unchecked++;
        continue;
      }
      seen.add(key);
      checked++;
      if (want.digest !== paramValueDigest(p.value)) {
        differences.push({ entity: key, seq: want.seq, message: `Param '${p.key}' of run ${p.run_uuid} differs from the value event ${want.seq} logged.` });
      }
    }
    const last = page[page.length - 1];
    if (!last || page.length < 5000) break;
    after = [last.run_uuid, last.key];
  }
  for (const [key, want] of expected) {
    if (!key.startsWith(PARAM_PREFIX) || seen.has(key)) continue;
    checked++;
    differences.push({ entity: key, seq: want.seq, message: `Param ${key.slice(PARAM_PREFIX.length)} logged by event ${want.seq} is missing.` });
  }
  return { checked, unchecked, differences };
}
