/**
 * `slipway plan` / `slipway apply`: the difference between the `releases:` section of
 * slipway.yaml and the server — stored release policies per model and environment,
 * the models' alert rules, holdout files to upload — and applying it. Only models the
 * file names are touched; their alert rules the file does not name are deleted only with --prune.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SlipwayClient } from '../../client/slipway-client.js';
import type { ReleasePolicy } from '../../client/schemas/releases.js';
import type { AlertRuleSpec, ReleasesConfig } from '../../release/release-config.js';
import { configuredPolicy, localHoldouts, withStoredHoldouts } from '../../release/release-config.js';
import type { Terminal } from '../terminal.js';
import { storedExists, storedHoldoutPath } from './release-holdouts.js';

/** One change `apply` would make. */
export interface PlanChange {
  action: 'create' | 'update' | 'delete';
  kind: 'policy' | 'alert' | 'holdout';
  model: string;
  /** policy: the environment. */
  environment?: string;
  /** alert: the rule's name. */
  name?: string;
  /** holdout: the local file and where it goes. */
  file?: string;
  path?: string;
  /** update: the keys that differ (`strategy.steps`, `gates`). */
  keys?: string[];
}

/** What `plan` prints and `apply` makes so. */
export interface ReleasePlan {
  file: string;
  changes: PlanChange[];
  summary: { add: number; change: number; destroy: number };
}

interface ServerAlert {
  id: string;
  name: string;
  model: string;
  figure: string;
  comparison: string;
  threshold: number;
  forWindows: number;
  webhookUrl: string | null;
  action?: Record<string, unknown> | null;
}

/** The keys at which two values differ, as dotted paths (arrays compared whole). */
export function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedKeys(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return isDeepStrictEqual(before, after) ? [] : [prefix || '(all)'];
}

function alertBody(model: string, a: AlertRuleSpec): Record<string, unknown> {
  return { name: a.name, model, figure: a.figure, comparison: a.comparison, threshold: a.threshold, forWindows: a.forWindows ?? 1, webhookUrl: a.webhookUrl ?? null, action: a.action ?? null };
}

function alertDiff(model: string, want: AlertRuleSpec, have: ServerAlert): string[] {
  const body = alertBody(model, want);
  const current: Record<string, unknown> = { name: have.name, model: have.model, figure: have.figure, comparison: have.comparison, threshold: have.threshold, forWindows: have.forWindows, webhookUrl: have.webhookUrl, action: have.action ?? null };
  return changedKeys(current, body);
}

/** Desired policies per model and environment, holdouts as their stored paths; also the holdouts to upload. */
async function desiredPolicies(config: ReleasesConfig): Promise<{ policies: Map<string, Map<string, ReleasePolicy>>; holdouts: Map<string, { model: string; path: string }> }> {
  const policies = new Map<string, Map<string, ReleasePolicy>>();
  const holdouts = new Map<string, { model: string; path: string }>();
  const { checkHoldouts } = await import('./release-holdouts.js');
  for (const [model, section] of Object.entries(config.models)) {
    const byEnv = new Map<string, ReleasePolicy>();
    for (const env of Object.keys(section.environments)) {
      const policy = configuredPolicy(config, model, env) as ReleasePolicy;
      await checkHoldouts(policy);
      const stored = new Map<string, string>();
      for (const file of localHoldouts(policy)) {
        const known = holdouts.get(file);
        const path = known?.path ?? (await storedHoldoutPath(file));
        if (!known) holdouts.set(file, { model, path });
        stored.set(file, path);
      }
      byEnv.set(env, withStoredHoldouts(policy, stored));
    }
    policies.set(model, byEnv);
  }
  return { policies, holdouts };
}

/** Compares the file with the server. Reads only. */
export async function computePlan(client: SlipwayClient, config: ReleasesConfig, opts: { prune: boolean }): Promise<ReleasePlan & { desired: Record<string, Record<string, ReleasePolicy>> }> {
  const { policies, holdouts } = await desiredPolicies(config);
  const changes: PlanChange[] = [];
  for (const [file, { model, path }] of holdouts) {
    if (!(await storedExists(client, path))) changes.push({ action: 'create', kind: 'holdout', model, file, path });
  }
  const stored = await client.releases.listPolicies();
  for (const [model, byEnv] of policies) {
    const current = new Map(stored.filter((p) => p.model === model).map((p) => [p.environment, p.policy] as const));
    for (const [env, policy] of byEnv) {
      const have = current.get(env);
      if (!have) changes.push({ action: 'create', kind: 'policy', model, environment: env });
      else {
        const keys = changedKeys(have, policy);
        if (keys.length > 0) changes.push({ action: 'update', kind: 'policy', model, environment: env, keys });
      }
    }
    for (const env of current.keys()) if (!byEnv.has(env)) changes.push({ action: 'delete', kind: 'policy', model, environment: env });
    const { alerts } = await client.request<{ alerts: ServerAlert[] }>('GET', '/monitoring/alerts', { query: { model } });
    const want = config.models[model]?.alerts ?? [];
    for (const rule of want) {
      const have = alerts.find((a) => a.name === rule.name);
      if (!have) changes.push({ action: 'create', kind: 'alert', model, name: rule.name });
      else {
        const keys = alertDiff(model, rule, have);
        if (keys.length > 0) changes.push({ action: 'update', kind: 'alert', model, name: rule.name, keys });
      }
    }
    if (opts.prune) for (const a of alerts) if (!want.some((w) => w.name === a.name)) changes.push({ action: 'delete', kind: 'alert', model, name: a.name });
  }
  const count = (action: PlanChange['action']) => changes.filter((c) => c.action === action).length;
  const desired = Object.fromEntries([...policies].map(([m, envs]) => [m, Object.fromEntries(envs)]));
  return { file: config.file, changes, summary: { add: count('create'), change: count('update'), destroy: count('delete') }, desired };
}

const SIGN = { create: '+', update: '~', delete: '-' } as const;

function changeLine(c: PlanChange): string {
  const what =
    c.kind === 'policy'
      ? `release policy ${c.model}/${c.environment}`
      : c.kind === 'alert'
        ? `alert rule ${c.name} (model ${c.model})`
        : `holdout ${c.file} → ${c.path}`;
  return `  ${SIGN[c.action]} ${c.action === 'create' && c.kind === 'holdout' ? 'upload ' : ''}${what}${c.keys?.length ? `: ${c.keys.join(', ')}` : ''}`;
}

/** The plan for people, Terraform-like: one line per change and a count. */
export function formatPlan(plan: ReleasePlan, terminal: Terminal): string {
  if (plan.changes.length === 0) return `No changes: the server matches the releases: section of ${plan.file}.\n`;
  const paint = (c: PlanChange, line: string): string => (c.action === 'create' ? terminal.color.green(line) : c.action === 'delete' ? terminal.color.red(line) : terminal.color.yellow(line));
  const s = plan.summary;
  return `${plan.changes.map((c) => paint(c, changeLine(c))).join('\n')}\n\nPlan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.\n`;
}

/** Makes each change of the plan, in order (uploads first); returns the changes made. */
export async function applyPlan(client: SlipwayClient, config: ReleasesConfig, plan: ReleasePlan & { desired: Record<string, Record<string, ReleasePolicy>> }, tell: (line: string) => void): Promise<PlanChange[]> {
  const { Readable } = await import('node:stream');
  const { createReadStream } = await import('node:fs');
  const order = { holdout: 0, policy: 1, alert: 2 } as const;
  const changes = [...plan.changes].sort((a, b) => order[a.kind] - order[b.kind]);
  const done: PlanChange[] = [];
  for (const c of changes) {
    if (c.kind === 'holdout') {
      await client.artifacts.put(c.path as string, Readable.toWeb(createReadStream(c.file as string)) as ReadableStream<Uint8Array>);
    } else if (c.kind === 'policy') {
      if (c.action === 'delete') await client.releases.deletePolicy(c.model, c.environment as string);
      else await client.releases.putPolicy(c.model, c.environment as string, plan.desired[c.model]?.[c.environment as string] as ReleasePolicy);
    } else {
      // Alert rules have no update route: a changed rule is replaced under the same name.
      if (c.action !== 'create') await client.request('DELETE', `/monitoring/alerts/${encodeURIComponent(c.name as string)}`);
      if (c.action !== 'delete') {
        const rule = config.models[c.model]?.alerts.find((a) => a.name === c.name) as AlertRuleSpec;
        await client.request('POST', '/monitoring/alerts', { body: alertBody(c.model, rule) });
      }
    }
    tell(changeLine(c).replace(/^ {2}/, ''));
    done.push(c);
  }
  return done;
}
