import { describe, expect, it } from 'vitest';
import { Release } from '../../client/schemas/releases.js';
import { releaseToJUnit, releaseToMarkdown, xmlText } from './index.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

function release(over: Partial<Release> = {}): Release {
  return Release.parse({
    id: 'rel-1',
    model: 'cancer',
    version: '3',
    environment: 'champion',
    championVersion: '2',
    state: 'rejected',
    reason: "Gate 'evaluation' failed: accuracy 0.91 < champion 0.95 - 0.02.",
    requestedBy: 'ci',
    policy: { gates: [{ kind: 'evaluation', metrics: ['accuracy >= champion - 0.02'] }, { kind: 'loadtest', slo: ['p99<20ms'] }, { kind: 'approval' }], strategy: { kind: 'canary' } },
    gates: [
      {
        name: 'evaluation',
        kind: 'evaluation',
        verdict: 'fail',
        reason: 'accuracy 0.91 < 0.93 (champion 0.95 - 0.02) <&> "quoted"\u0007',
        figures: { rows: 171, candidate: { accuracy: 0.9122807, f1: 0.93 }, champion: { accuracy: 0.95, f1: 0.96 }, thresholds: [{ expression: 'accuracy >= champion - 0.02', passed: false, actual: 0.9122807 }] },
        startedTime: T0,
        endedTime: T0 + 1500,
      },
      { name: 'loadtest', kind: 'loadtest', verdict: 'pass', reason: 'p99 12 ms < 20 ms', figures: { candidate: { latencyMs: { p50: 2, p99: 12 } }, champion: { latencyMs: { p50: 2.5, p99: 10 } } }, startedTime: T0 + 1500, endedTime: T0 + 12_000 },
      { name: 'approval', kind: 'approval', verdict: 'skipped', reason: 'Not reached.', figures: {} },
    ],
    approvals: [],
    createdTime: T0,
    updatedTime: T0 + 12_000,
    endedTime: T0 + 12_000,
    ...over,
  });
}

describe('releaseToJUnit', () => {
  it('has one case per gate and one for the rollout, failing gates with their reason and figures', () => {
    const xml = releaseToJUnit(release());
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="slipway release" tests="4" failures="1" errors="0" skipped="2" time="12.000">')).toBe(true);
    expect(xml).toContain('<testsuite name="release cancer version 3 to champion" tests="4" failures="1" errors="0" skipped="2" time="12.000" timestamp="2026-01-02T03:04:05">');
    expect(xml).toContain(
      '<testcase classname="cancer/champion" name="evaluation" time="1.500">\n      <failure message="accuracy 0.91 &lt; 0.93 (champion 0.95 - 0.02) &lt;&amp;&gt; &quot;quoted&quot;" type="fail">accuracy 0.91 &lt; 0.93 (champion 0.95 - 0.02) &lt;&amp;&gt; &quot;quoted&quot;\nrows: 171\ncandidate.accuracy: 0.912281\ncandidate.f1: 0.93\nchampion.accuracy: 0.95',
    );
    expect(xml).toContain('<testcase classname="cancer/champion" name="loadtest" time="10.500"/>');
    expect(xml).toContain('<testcase classname="cancer/champion" name="approval" time="0.000">\n      <skipped message="Not reached."/>');
    expect(xml).toContain('<testcase classname="cancer/champion" name="rollout" time="0.000">\n      <skipped message="Not run: the release was rejected');
    expect(xml).toContain('<property name="champion.version" value="2"/>');
  });

  it('fails the rollout case of a rolled-back release and counts gate errors', () => {
    const r = release({ state: 'rolled_back', reason: 'p99 ratio 2.1 > 1.5 at step 2', rollout: { step: 1, weight: 50, failures: 2, analyses: [{ p99Ratio: 2.1, errorRate: 0 }] } });
    r.gates[0] = { ...(r.gates[0] as Release['gates'][number]), verdict: 'error', reason: 'holdout missing' };
    const xml = releaseToJUnit(r);
    expect(xml).toContain('tests="4" failures="1" errors="1" skipped="1"');
    expect(xml).toContain('<error message="holdout missing" type="error">');
    expect(xml).toMatch(/name="rollout" time="0.000">\n {6}<failure message="p99 ratio 2.1 &gt; 1.5 at step 2" type="fail">p99 ratio 2.1 &gt; 1.5 at step 2\nstrategy: canary\nanalysis 1: \{&quot;p99Ratio&quot;:2.1,&quot;errorRate&quot;:0\}<\/failure>/);
  });

  it('drops characters XML cannot hold and keeps the rest', () => {
    expect(xmlText('a\u0000b\u001bc\td\ne\uffff f\ud800 g😀 \'x\'')).toBe('abc\td\ne f g😀 &apos;x&apos;');
  });
});

describe('releaseToMarkdown', () => {
  it('leads with the verdict, then the gates and each candidate-vs-champion comparison', () => {
    const md = releaseToMarkdown(release());
    const lines = md.split('\n');
    expect(lines[0]).toBe('## ❌ Release of cancer version 3 to champion: rejected');
    expect(md).toContain('Release `rel-1` · requested by ci · champion version 2 · strategy canary 10/50/100 % every 30s · 12.0 s');
    expect(md).toContain('| evaluation | evaluation | ❌ fail | accuracy 0.91 \\< 0.93 (champion 0.95 - 0.02) \\<&> "quoted" |');
    expect(md).toContain('### `evaluation`: candidate vs champion\n\n| Figure | Candidate | Champion | Change |\n|---|---|---|---|\n| accuracy | 0.912281 | 0.95 | -0.0377193 (-4.0 %) |');
    expect(md).toContain('| accuracy >= champion - 0.02 | ❌ | 0.912281 |');
    expect(md).toContain('### Load test `loadtest`: latencies, candidate vs champion');
    expect(md).toContain('| latencyMs.p99 | 12 | 10 | +2 (+20.0 %) |');
    expect(md).toContain('⏭️ Not run: the release was rejected');
  });

  it('shows a promotion, its approvals and the canary analyses', () => {
    const md = releaseToMarkdown(release({ state: 'promoted', reason: 'All gates passed; canary promoted.', approvals: [{ by: 'ana', time: T0, comment: 'ok | go' }], rollout: { step: 2, weight: 100, failures: 0, analyses: [{ step: 0, weight: 10, errorRate: 0, p99Ratio: 1.1 }] } }));
    expect(md.split('\n')[0]).toBe('## ✅ Release of cancer version 3 to champion: promoted');
    expect(md).toContain('- ana: ok \\| go');
    expect(md).toContain('✅ cancer version 3 is champion.');
    expect(md).toContain('### Canary analyses\n\n| # | step | weight | errorRate | p99Ratio |\n|---|---|---|---|---|\n| 1 | 0 | 10 | 0 | 1.1 |');
  });
});
