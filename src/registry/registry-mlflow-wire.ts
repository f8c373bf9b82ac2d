/**
 * Registry objects in MLflow's wire shape (model_registry.proto as JSON): version
 * numbers as strings, timestamps as numbers, empty fields omitted. Slipway's extra
 * fields (signature, storage location) stay out, so MLflow clients see MLflow.
 */
import type { ModelVersion, RegisteredModel } from './registry-types.js';

type Json = Record<string, unknown>;

function tagList(tags: Record<string, string>): Array<{ key: string; value: string }> {
  return Object.entries(tags)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
}

function put(out: Json, key: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value) && value.length === 0) return;
  out[key] = value;
}

/** A model version as MLflow's `ModelVersion` message. */
export function toMlflowModelVersion(v: ModelVersion): Json {
  const out: Json = {
    name: v.name,
    version: v.version,
    creation_timestamp: v.creationTimestamp,
    last_updated_timestamp: v.lastUpdatedTimestamp,
  };
  put(out, 'user_id', v.userId);
  out.current_stage = v.currentStage;
  put(out, 'description', v.description);
  out.source = v.source;
  put(out, 'run_id', v.runId);
  out.status = v.status;
  put(out, 'status_message', v.statusMessage);
  put(out, 'tags', tagList(v.tags));
  put(out, 'run_link', v.runLink);
  put(out, 'aliases', v.aliases);
  return out;
}

/** A registered model as MLflow's `RegisteredModel` message. */
export function toMlflowRegisteredModel(m: RegisteredModel): Json {
  const out: Json = {
    name: m.name,
    creation_timestamp: m.creationTimestamp,
    last_updated_timestamp: m.lastUpdatedTimestamp,
  };
  put(out, 'description', m.description);
  put(out, 'latest_versions', m.latestVersions.map(toMlflowModelVersion));
  put(out, 'tags', tagList(m.tags));
  put(out, 'aliases', m.aliases.map((a) => ({ alias: a.alias, version: a.version })));
  return out;
}
