import { describe, expect, it } from 'vitest';
import { configuredPolicy, localHoldouts, parseReleasesConfig, releasePolicyFrom, withStoredHoldouts } from './release-config.js';

const CWD = '/project';

const GOOD = `server:
  port: 5001
releases:
  cancer:
    holdout: data/holdout.csv
    label: target
    environments:
      staging: { gates: [ { kind: signature }, { kind: evaluation, metrics: ["accuracy >= 0.9"] } ], strategy: { kind: direct } }
      champion:
        gates:
          - { kind: evaluation, metrics: ["accuracy >= champion - 0.02"] }
          - { kind: loadtest, slo: ["p99 < 20ms", "p99 <= champion * 1.25"], rate: 100 }
          - { kind: approval, count: 1 }
        strategy: { kind: canary, steps: [10, 50, 100], interval: 30s, failureLimit: 1 }
    alerts:
      - { name: cancer-accuracy, figure: accuracy, comparison: "<", threshold: 0.85, action: { kind: rollback } }
`;

function errorOf(text: string): string {
  try {
    parseReleasesConfig(text, 'slipway.yaml', CWD);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('the releases: section', () => {
  it('reads each environment as a policy with defaults, holdouts next to the file, and the alert rules', () => {
    const config = parseReleasesConfig(GOOD, 'slipway.yaml', CWD);
    expect(config?.file).toBe('slipway.yaml');
    const champion = configuredPolicy(config!, 'cancer', 'champion');
    expect(champion).toMatchObject({
      holdout: '/project/data/holdout.csv',
      label: 'target',
      onRestart: 'rollback',
      strategy: { kind: 'canary', steps: [10, 50, 100], interval: '30s', failureLimit: 1, checks: { maxErrorRate: 0.01 } },
    });
    expect(champion?.gates.map((g) => g.kind)).toEqual(['evaluation', 'loadtest', 'approval']);
    expect(champion?.gates[1]).toMatchObject({ duration: '10s', rows: 1 });
    expect(config?.models.cancer?.alerts).toEqual([{ name: 'cancer-accuracy', figure: 'accuracy', comparison: '<', threshold: 0.85, action: { kind: 'rollback' } }]);
  });

  it('is absent from a file with only a server: section', () => {
    expect(parseReleasesConfig('server:\n  port: 5001\n', 'slipway.yaml', CWD)).toBeUndefined();
  });

  it('names file, line, column and key of a bad canary step', () => {
    const text = GOOD.replace('steps: [10, 50, 100]', 'steps: [10, 150, 100]');
    expect(errorOf(text)).toMatch(/^slipway\.yaml:14:47: releases\.cancer\.environments\.champion\.strategy\.steps\[1\]: Too big: expected number to be <=100/);
  });

  it('names an unknown gate kind at its kind key, listing the kinds', () => {
    const text = 'releases:\n  cancer:\n    environments:\n      prod:\n        gates:\n          - kind: vibes\n';
    expect(errorOf(text)).toBe('slipway.yaml:6:13: releases.cancer.environments.prod.gates[0].kind: must be one of signature, evaluation, quality, drift, loadtest, approval, command.');
  });

  it('names an unknown strategy and an unknown key at the key', () => {
    expect(errorOf('releases:\n  m:\n    environments:\n      prod:\n        strategy: { kind: rainbow }\n')).toMatch(/^slipway\.yaml:5:21: releases\.m\.environments\.prod\.strategy\.kind: must be one of direct, canary, shadow, blue-green\./);
    expect(errorOf('releases:\n  m:\n    environments:\n      prod:\n        strategy: { kind: canary, stepz: [1] }\n')).toMatch(/^slipway\.yaml:5:35: releases\.m\.environments\.prod\.strategy\.stepz: unknown key 'stepz'\./);
    expect(errorOf('releases:\n  m:\n    enviroments: {}\n')).toMatch(/^slipway\.yaml:3:5: releases\.m\.enviroments: unknown key 'enviroments'/);
  });

  it('names an unknown metric and a bad SLO at the list item', () => {
    const metric = 'releases:\n  m:\n    environments:\n      prod:\n        gates:\n          - kind: evaluation\n            metrics:\n              - "acuracy >= 0.9"\n';
    expect(errorOf(metric)).toMatch(/^slipway\.yaml:8:17: releases\.m\.environments\.prod\.gates\[0\]\.metrics\[0\]: Unknown metric 'acuracy' in threshold 'acuracy >= 0.9'; known metrics: accuracy, /);
    const slo = 'releases:\n  m:\n    environments:\n      prod:\n        gates: [ { kind: loadtest, slo: ["p99 < 20 parsecs"] } ]\n';
    expect(errorOf(slo)).toMatch(/^slipway\.yaml:5:42: .*slo\[0\]: Invalid threshold 'p99 < 20 parsecs': unknown latency unit 'parsecs'/);
  });

  it('names a duration without a unit and YAML syntax errors by line', () => {
    expect(errorOf('releases:\n  m:\n    environments:\n      prod:\n        strategy: { kind: canary, interval: 30 }\n')).toMatch(/^slipway\.yaml:5:35: releases\.m\.environments\.prod\.strategy\.interval: must be a duration with its unit, such as 250ms, 10s or 5m; expected string, received number\./);
    expect(errorOf('releases:\n  m: [\n')).toMatch(/^slipway\.yaml:3:1: not valid YAML/);
    expect(errorOf('releases:\n  m:\n    environments:\n      prod:\n        strategy: { kind: canary, interval: 30x }\n')).toMatch(/^slipway\.yaml:5:35: releases\.m\.environments\.prod\.strategy\.interval: must be a duration such as 250ms, 10s or 5m \(units: us, ms, s, m, h\); got '30x'/);
  });

  it('lists the configured environments when asked for another', () => {
    const config = parseReleasesConfig(GOOD, 'slipway.yaml', CWD)!;
    expect(() => configuredPolicy(config, 'cancer', 'prod')).toThrow("slipway.yaml configures no environment 'prod' for model 'cancer'; configured: staging, champion.");
    expect(configuredPolicy(config, 'other', 'prod')).toBeUndefined();
  });
});

describe('one-off flags', () => {
  it('build a policy without a file', () => {
    const policy = releasePolicyFrom(
      undefined,
      { holdout: 'h.csv', label: 'target', metric: ['accuracy >= champion - 0.02'], slo: ['p99<20ms'], rate: 50, signature: true, approvals: 2, command: ['npm test'], strategy: 'canary', steps: '10,50,100', interval: '5s', failureLimit: 2, inconclusiveLimit: 4, stickyHeader: 'x-user' },
      CWD,
    );
    expect(policy).toMatchObject({
      holdout: '/project/h.csv',
      label: 'target',
      gates: [
        { kind: 'signature', allowBreaking: false },
        { kind: 'evaluation', metrics: ['accuracy >= champion - 0.02'] },
        { kind: 'loadtest', slo: ['p99<20ms'], rate: 50, duration: '10s' },
        { kind: 'command', run: 'npm test' },
        { kind: 'approval', count: 2 },
      ],
      strategy: { kind: 'canary', steps: [10, 50, 100], interval: '5s', failureLimit: 2, inconclusiveLimit: 4, stickyHeader: 'x-user' },
    });
  });

  it('add gates to the section and override its strategy', () => {
    const config = parseReleasesConfig(GOOD, 'slipway.yaml', CWD)!;
    const base = configuredPolicy(config, 'cancer', 'champion');
    const merged = releasePolicyFrom(base, { quality: true, strategy: 'blue-green', bake: '1m' }, CWD);
    expect(merged?.gates.map((g) => g.kind)).toEqual(['evaluation', 'loadtest', 'approval', 'quality']);
    expect(merged?.strategy).toEqual({ kind: 'blue-green', bake: '1m' });
    // A detail flag alone changes the section's strategy, keeping the rest of it.
    expect(releasePolicyFrom(base, { steps: '25,100' }, CWD)?.strategy).toMatchObject({ kind: 'canary', steps: [25, 100], failureLimit: 1 });
    expect(releasePolicyFrom(base, {}, CWD)).toBe(base);
    expect(releasePolicyFrom(undefined, {}, CWD)).toBeUndefined();
  });

  it('refuse what cannot run, naming the flag', () => {
    expect(() => releasePolicyFrom(undefined, { metric: ['accuracy >= 0.9'] }, CWD)).toThrow(/--metric runs an evaluation gate on a holdout: give --holdout FILE and --label COLUMN/);
    expect(() => releasePolicyFrom(undefined, { holdout: 'h.csv', label: 'y', metric: ['accuracy >= maybe'] }, CWD)).toThrow(/Cannot read the metric threshold 'accuracy >= maybe'/);
    expect(() => releasePolicyFrom(undefined, { slo: ['p99 < fast'] }, CWD)).toThrow(/Invalid threshold 'p99 < fast'/);
    expect(() => releasePolicyFrom(undefined, { slo: ['p99 <= champion ** 2'] }, CWD)).toThrow(/Invalid SLO 'p99 <= champion \*\* 2'/);
    expect(() => releasePolicyFrom(undefined, { rate: 100 }, CWD)).toThrow(/--rate sets the load-test gate's load: give at least one --slo/);
    expect(() => releasePolicyFrom(undefined, { strategy: 'direct', steps: '10,100' }, CWD)).toThrow('--steps applies to the canary strategy, not direct.');
    expect(() => releasePolicyFrom(undefined, { strategy: 'canary', steps: '50,10' }, CWD)).toThrow('steps must ascend; 10 follows 50.');
    expect(() => releasePolicyFrom(undefined, { strategy: 'canary', interval: '30' }, CWD)).toThrow(/--interval must be a duration/);
    expect(() => releasePolicyFrom(undefined, { strategy: 'zigzag' }, CWD)).toThrow("--strategy 'zigzag' must be one of direct, canary, shadow, blue-green.");
  });
});

describe('holdouts', () => {
  it('are listed once and swapped for their stored paths', () => {
    const policy = releasePolicyFrom(undefined, { holdout: 'h.csv', label: 'y', metric: ['accuracy >= 0.9'], drift: true }, CWD)!;
    expect(localHoldouts(policy)).toEqual(['/project/h.csv']);
    const stored = withStoredHoldouts(policy, new Map([['/project/h.csv', 'releases/holdouts/abc.csv']]));
    expect(stored.holdout).toBe('releases/holdouts/abc.csv');
    // Each gate names its data, so a stored policy reads the same whoever runs it.
    expect(stored.gates).toEqual([
      { kind: 'evaluation', metrics: ['accuracy >= 0.9'], holdout: 'releases/holdouts/abc.csv', label: 'y' },
      { kind: 'drift', maxDriftShare: 0.5, holdout: 'releases/holdouts/abc.csv' },
    ]);
  });
});
