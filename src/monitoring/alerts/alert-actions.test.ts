import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import type { Logger } from '../../core/logger.js';
import { tableFromRows } from '../table.js';
import { profileTable } from '../profile/dataset-profile.js';
import { saveWindow } from '../live/window-repository.js';
import type { Store } from '../../store/store.js';
import { AlertEngine, type AlertFiring } from './alert-engine.js';
import { createAlertRule, listAlertRules, validateAlertAction, type AlertAction, type AlertRule } from './alert-rules.js';

const MINUTE = 60_000;
const T0 = 1_700_000_000_000;

function recordingLogger(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  return { debug() {}, info() {}, warn() {}, error: (obj: unknown) => void errors.push(obj), errors };
}

async function window(store: Store, model: string, minute: number, driftedColumns: number): Promise<void> {
  const profile = profileTable(tableFromRows([{ x: 1 }]));
  const start = T0 + minute * MINUTE;
  await saveWindow(store, { model, version: '1', windowStart: start, windowEnd: start + MINUTE, rows: 1, requests: 1, droppedRows: 0, profile }, { drifted_columns: driftedColumns }, start + MINUTE);
}

describe('alert action validation', () => {
  it('accepts rollback and command actions and names the bad field otherwise', () => {
    expect(validateAlertAction({ kind: 'rollback' })).toEqual({ kind: 'rollback' });
    expect(validateAlertAction({ kind: 'rollback', environment: 'production' })).toEqual({ kind: 'rollback', environment: 'production' });
    expect(validateAlertAction({ kind: 'command', run: 'make retrain' })).toEqual({ kind: 'command', run: 'make retrain' });
    expect(validateAlertAction(undefined)).toBeNull();
    expect(() => validateAlertAction({ kind: 'restart' })).toThrow("'action.kind' must be one of rollback, command.");
    expect(() => validateAlertAction({ kind: 'command', run: '  ' })).toThrow(/'action.run'/);
    expect(() => validateAlertAction({ kind: 'rollback', run: 'x' })).toThrow(/takes only 'environment', not 'run'/);
  });
});

describe.each(DIALECTS)('alert actions on $name', (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ store, dispose } = await dialect.open());
  });
  afterAll(async () => dispose());

  it('stores the action with the rule and lists it', async () => {
    await createAlertRule(store, { name: 'listed', model: 'm0', figure: 'rows', comparison: '<', threshold: 1, action: { kind: 'command', run: 'make retrain' } }, { time: T0 });
    await createAlertRule(store, { name: 'plain', model: 'm0', figure: 'rows', comparison: '<', threshold: 1 }, { time: T0 });
    const rules = await listAlertRules(store, 'm0');
    expect(rules.map((r) => [r.name, r.action])).toEqual([
      ['listed', { kind: 'command', run: 'make retrain' }],
      ['plain', null],
    ]);
  });

  it('calls the hook exactly once per firing episode, with the rule and its action', async () => {
    const rule = await createAlertRule(store, { name: 'drift-rollback', model: 'm1', figure: 'drifted_columns', comparison: '>=', threshold: 3, forWindows: 2, action: { kind: 'rollback', environment: 'production' } }, { time: T0 });
    const calls: Array<{ rule: AlertRule; action: AlertAction; firing: AlertFiring }> = [];
    let now = T0;
    const clock = { now: () => now };
    const onAction = (r: AlertRule, action: AlertAction, firing: AlertFiring) => void calls.push({ rule: r, action, firing });
    // Two engines over one store stand for two replicas evaluating the same windows.
    const engines = [new AlertEngine(store, clock, recordingLogger(), 5000, undefined, { onAction }), new AlertEngine(store, clock, recordingLogger(), 5000, undefined, { onAction })];
    const evaluateAll = async () => {
      for (const e of engines) await e.evaluate('m1');
    };

    await window(store, 'm1', 0, 4);
    await evaluateAll();
    expect(calls).toHaveLength(0); // one breaching window of the two needed

    await window(store, 'm1', 1, 5);
    now = T0 + 2 * MINUTE;
    await evaluateAll();
    await evaluateAll();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.rule.id).toBe(rule.id);
    expect(calls[0]?.action).toEqual({ kind: 'rollback', environment: 'production' });
    expect(calls[0]?.firing).toMatchObject({ dedupKey: `${rule.id}:firing:${T0}`, value: 5, windowStart: T0 + MINUTE });

    await window(store, 'm1', 2, 6); // still firing: the same episode
    await evaluateAll();
    expect(calls).toHaveLength(1);

    await window(store, 'm1', 3, 0); // resolves
    await evaluateAll();
    await window(store, 'm1', 4, 7);
    await window(store, 'm1', 5, 8); // a second episode
    await evaluateAll();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.firing.dedupKey).toBe(`${rule.id}:firing:${T0 + 4 * MINUTE}`);
  });

  it('logs a failing action and still records the firing', async () => {
    await createAlertRule(store, { name: 'rows-command', model: 'm2', figure: 'drifted_columns', comparison: '>', threshold: 0, action: { kind: 'command', run: 'exit 1' } }, { time: T0 });
    const logger = recordingLogger();
    const engine = new AlertEngine(store, { now: () => T0 + MINUTE }, logger, 5000, undefined, {
      onAction: () => {
        throw new Error('no previous version to roll back to');
      },
    });
    await window(store, 'm2', 0, 2);
    await engine.evaluate('m2');
    expect(logger.errors).toEqual([expect.objectContaining({ err: 'no previous version to roll back to', rule: 'rows-command', action: 'command' })]);
    const [status] = (await engine.events((await listAlertRules(store, 'm2'))[0]?.id as string)).map((e) => e.kind);
    expect(status).toBe('firing');
  });
});
