/** What `slipway release` tells a terminal while it waits, and its report, from successive snapshots of a release. */
import { describe, expect, it } from 'vitest';
import { Release } from '../../src/client/schemas/releases.js';
import { gatesTable, progressLines, releaseReport } from '../../src/cli/commands/release.js';
import { PLAIN, terminalWith } from '../../src/cli/terminal.js';

const base = Release.parse({
  id: 'r1',
  model: 'cancer',
  version: '3',
  environment: 'champion',
  championVersion: '2',
  state: 'gates',
  reason: 'Running gates.',
  requestedBy: 'ci',
  policy: { gates: [{ kind: 'signature' }, { kind: 'command', run: 'npm test' }], strategy: { kind: 'canary', steps: [10, 50, 100] } },
  gates: [
    { name: 'signature', kind: 'signature', verdict: 'running', reason: '', figures: {} },
    { name: 'command', kind: 'command', verdict: 'pending', reason: '', figures: {} },
  ],
  approvals: [],
  createdTime: 1,
  updatedTime: 1,
});

function next(over: Partial<Release>): Release {
  return { ...base, ...over };
}

describe('release progress', () => {
  it('tells the state, each gate verdict once as it lands, and each canary step', () => {
    expect(progressLines(undefined, base)).toEqual(['r1: running gates', '  gate signature: running']);
    const signed = next({ gates: [{ ...base.gates[0]!, verdict: 'pass', reason: 'compatible' }, base.gates[1]!] });
    expect(progressLines(base, signed)).toEqual(['  gate signature: pass — compatible']);
    expect(progressLines(signed, signed)).toEqual([]);
    const rolling = next({ state: 'rolling_out', gates: signed.gates, rollout: { step: 0, weight: 10, failures: 0, analyses: [] } });
    expect(progressLines(signed, rolling)).toEqual(['r1: rolling out', '  rollout: challenger at 10 % (step 1)']);
    const failed = next({ ...rolling, rollout: { step: 0, weight: 10, failures: 1, analyses: [{}] } });
    expect(progressLines(rolling, failed)).toEqual(['  rollout: analysis failed (1 so far)']);
    const back = next({ ...failed, state: 'rolled_back', reason: 'p99 ratio 2.0 > 1.5' });
    expect(progressLines(failed, back)).toEqual(['r1: rolled back (p99 ratio 2.0 > 1.5)']);
  });

  it('marks verdicts with ✓ and ✗ only on a terminal', () => {
    const done = next({ state: 'rejected', reason: "Gate 'command' failed", gates: [{ ...base.gates[0]!, verdict: 'pass', reason: 'ok' }, { ...base.gates[1]!, verdict: 'fail', reason: 'exit 1' }] });
    expect(gatesTable(done, PLAIN)).toBe('GATE       KIND       VERDICT  REASON\nsignature  signature  pass     ok\ncommand    command    fail     exit 1\n');
    const styled = gatesTable(done, terminalWith(true));
    expect(styled).toContain('✓ pass');
    expect(styled).toContain('✗ fail');
    expect(releaseReport(done, PLAIN)).toMatch(/\ncancer version 3 rejected\n$/);
  });
});
