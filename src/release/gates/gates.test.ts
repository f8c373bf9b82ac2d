import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, mlpFile, servingApp } from '../../../test/support/serving.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import type { ResolvedModel } from '../../core/model-source.js';
import { attachReference } from '../../monitoring/reference/reference-repository.js';
import { profileTable } from '../../monitoring/profile/dataset-profile.js';
import { readTable } from '../../monitoring/readers/table-reader.js';
import { RegistryService } from '../../registry/registry-service.js';
import type { Store } from '../../store/store.js';
import { GateSpec } from '../../client/schemas/releases.js';
import type { GateContext, PrivateServer } from './gate.js';
import { parseRelativeSlo, runGate } from './index.js';

const CANCER = fixture('breast_cancer_mlp.onnx');
const HOLDOUTS: Record<string, string> = {
  'releases/holdouts/holdout.csv': fixture('breast_cancer_holdout.csv'),
  'releases/holdouts/drifted.csv': fixture('breast_cancer_drifted.csv'),
};

let store: Store;
let dispose: () => Promise<void>;
let registry: RegistryService;

beforeAll(async () => {
  const opened = await (DIALECTS[0] as (typeof DIALECTS)[number]).open();
  store = opened.store;
  dispose = opened.dispose;
  registry = new RegistryService({ store });
});
afterAll(async () => dispose?.());

function model(version: string, onnxPath: string, name = 'cancer'): ResolvedModel {
  return { name, version, onnxPath };
}

/** A private server built from the real serving routes, as the server face builds it. */
async function startPrivateServer(models: { candidate: ResolvedModel; champion?: ResolvedModel }): Promise<PrivateServer> {
  const h = await servingApp({}, undefined, { listen: true });
  await h.manager.load('candidate', models.candidate.onnxPath, models.candidate.columns);
  if (models.champion) await h.manager.load('champion', models.champion.onnxPath, models.champion.columns);
  return { url: h.url, models: { candidate: 'candidate', ...(models.champion ? { champion: 'champion' } : {}) }, close: () => h.close() };
}

function context(candidate: ResolvedModel, champion?: ResolvedModel, extra: Partial<GateContext> = {}): GateContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    release: { id: `rel-${Math.random().toString(36).slice(2, 10)}`, model: candidate.name, version: candidate.version, environment: 'champion', ...(champion ? { championVersion: champion.version } : {}), requestedBy: 'alice' },
    candidate,
    ...(champion ? { champion } : {}),
    store,
    registry,
    clock: systemClock,
    logger: silentLogger,
    signal: new AbortController().signal,
    async holdoutPath(ref: string) {
      const path = HOLDOUTS[ref];
      if (!path) throw new Error(`no holdout ${ref}`);
      return path;
    },
    startPrivateServer,
    progress: (m: string) => void lines.push(m),
    lines,
    ...extra,
  };
}

/** A gate as the release passes it: parsed, with the policy's holdout and label filled in. */
const gate = (spec: unknown, policy: { holdout?: string; label?: string } = {}): GateSpec => ({ ...GateSpec.parse(spec), ...policy });

describe('signature gate', () => {
  it('fails a candidate whose input width differs from the champion, naming the input', async () => {
    const out = await runGate(gate({ kind: 'signature' }), context(model('2', mlpFile([10, 8, 1])), model('1', mlpFile([30, 8, 1]))));
    expect(out.verdict).toBe('fail');
    expect(out.reason).toContain("input 'x' was float32 [-1,30], now float32 [-1,10]");
    expect(out.figures.differences).toHaveLength(1);
  });

  it('passes a compatible candidate, and a breaking one when allowBreaking lists the differences', async () => {
    const same = await runGate(gate({ kind: 'signature' }), context(model('2', mlpFile([30, 16, 1], { seed: 4 })), model('1', mlpFile([30, 8, 1]))));
    expect(same.verdict).toBe('pass');
    const allowed = await runGate(gate({ kind: 'signature', allowBreaking: true }), context(model('2', mlpFile([30, 8, 1])), model('1', CANCER)));
    expect(allowed.verdict).toBe('pass');
    expect(allowed.reason).toContain("input 'features'");
    expect((allowed.figures.differences as string[]).length).toBeGreaterThan(0);
  });

  it('skips the first release', async () => {
    const out = await runGate(gate({ kind: 'signature' }), context(model('1', CANCER)));
    expect(out).toMatchObject({ verdict: 'skipped' });
    expect(out.reason).toMatch(/first release/i);
  });
});

describe('quality and drift gates', () => {
  beforeAll(async () => {
    const train = profileTable(await readTable(fixture('breast_cancer_train.csv')));
    await attachReference(store, 'cancer', '1', train, 'breast_cancer_train.csv', { time: Date.now() });
  });

  it('drift fails on the drifted holdout and passes on the plain one, with each drifted column test and score', async () => {
    const spec = { kind: 'drift', maxDriftShare: 0.05 };
    const drifted = await runGate(gate({ ...spec, holdout: 'releases/holdouts/drifted.csv' }, { label: 'target' }), context(model('2', CANCER), model('1', CANCER)));
    expect(drifted.verdict).toBe('fail');
    const columns = (drifted.figures.drifted as Array<{ column: string; test: string; score: number }>).map((c) => c.column);
    expect(columns).toEqual(expect.arrayContaining(['mean_radius', 'worst_area', 'mean_texture']));
    expect(drifted.reason).toMatch(/> bound 0\.05/);
    const plain = await runGate(gate({ ...spec, holdout: 'releases/holdouts/holdout.csv' }, { label: 'target' }), context(model('2', CANCER), model('1', CANCER)));
    expect(plain.verdict).toBe('pass');
    expect(plain.figures.share as number).toBeLessThanOrEqual(0.05);
  });

  it('quality passes the plain holdout against the champion reference', async () => {
    const out = await runGate(gate({ kind: 'quality', holdout: 'releases/holdouts/holdout.csv' }), context(model('2', CANCER), model('1', CANCER)));
    expect(out.verdict).toBe('pass');
    expect((out.figures.tests as unknown[]).length).toBeGreaterThan(10);
  });

  it('answers error with the command to attach a reference when no version has one', async () => {
    const out = await runGate(gate({ kind: 'drift', holdout: 'releases/holdouts/holdout.csv' }), context(model('7', CANCER, 'other')));
    expect(out.verdict).toBe('error');
    expect(out.reason).toContain('slipway monitor reference set models:/other/7');
  });

  it('answers error when no holdout is given', async () => {
    const out = await runGate(gate({ kind: 'quality' }), context(model('2', CANCER), model('1', CANCER)));
    expect(out.verdict).toBe('error');
    expect(out.reason).toMatch(/needs a holdout/);
  });
});

describe('evaluation gate', () => {
  const holdout = { holdout: 'releases/holdouts/holdout.csv', label: 'target' };

  it('fails a less accurate candidate on a threshold relative to the champion, with both sides measured', async () => {
    const worse = model('5', mlpFile([30, 8, 1], { seed: 11 }));
    const out = await runGate(gate({ kind: 'evaluation', metrics: ['accuracy >= champion - 0.02'] }, holdout), context(worse, model('1', CANCER)));
    expect(out.verdict).toBe('fail');
    expect(out.reason).toContain('accuracy');
    const figures = out.figures as { candidate: { metrics: Record<string, number> }; champion: { metrics: Record<string, number> } };
    expect(figures.champion.metrics.accuracy).toBeGreaterThan((figures.candidate.metrics.accuracy as number) + 0.02);
  });

  it('passes the same model against itself, and refuses a relative threshold on a first release', async () => {
    const same = await runGate(gate({ kind: 'evaluation', metrics: ['accuracy >= champion - 0.02', 'roc_auc >= 0.9'] }, holdout), context(model('2', CANCER), model('1', CANCER)));
    expect(same.verdict).toBe('pass');
    const first = await runGate(gate({ kind: 'evaluation', metrics: ['accuracy >= champion'] }, holdout), context(model('1', CANCER)));
    expect(first.verdict).toBe('error');
    expect(first.reason).toMatch(/first release/);
  });
});

describe('the release fixtures, each decided by the right gate', () => {
  const release = (name: string) => fixture(`release/${name}.onnx`);
  const holdout = { holdout: 'releases/holdouts/holdout.csv', label: 'target' };
  const signature = gate({ kind: 'signature' });
  const evaluation = gate({ kind: 'evaluation', metrics: ['accuracy >= champion - 0.02'] }, holdout);

  it('fails the incompatible model on its signature, the worse one on accuracy, and passes the good one on both', async () => {
    const incompatible = await runGate(signature, context(model('4', release('cancer_incompatible')), model('1', CANCER)));
    expect(incompatible.verdict).toBe('fail');
    expect(incompatible.reason).toContain("input 'features' was float32 [-1,30], now float32 [-1,29]");
    const worse = context(model('5', release('cancer_worse')), model('1', CANCER));
    expect((await runGate(signature, worse)).verdict).toBe('pass');
    expect((await runGate(evaluation, worse)).verdict).toBe('fail');
    const good = context(model('6', release('cancer_good')), model('1', CANCER));
    expect((await runGate(signature, good)).verdict).toBe('pass');
    expect((await runGate(evaluation, good)).verdict).toBe('pass');
  });
});

describe('command gate', () => {
  it('passes on exit 0 with the release in its environment', async () => {
    const ctx = context(model('3', CANCER), model('2', CANCER));
    const out = await runGate(gate({ kind: 'command', run: 'echo "$SLIPWAY_RELEASE_ID $SLIPWAY_MODEL $SLIPWAY_VERSION $SLIPWAY_ENVIRONMENT $SLIPWAY_CHAMPION_VERSION"' }), ctx);
    expect(out.verdict).toBe('pass');
    expect(out.figures.exitCode).toBe(0);
    expect(out.figures.stdoutTail).toBe(`${ctx.release.id} cancer 3 champion 2\n`);
  });

  it('fails on exit 1 and keeps only the last 4 KiB of output', async () => {
    const out = await runGate(gate({ kind: 'command', run: 'head -c 10000 /dev/zero | tr "\\0" a; echo broken >&2; exit 1' }), context(model('3', CANCER)));
    expect(out.verdict).toBe('fail');
    expect(out.reason).toContain('exited with status 1');
    expect((out.figures.stdoutTail as string).length).toBe(4096);
    expect(out.figures.stderrTail).toBe('broken\n');
  });

  it('kills the whole process group on timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-gate-'));
    const out = await runGate(gate({ kind: 'command', run: 'sleep 30 & echo $! > bg.pid; wait; touch survived', timeout: '300ms', cwd: dir }), context(model('3', CANCER)));
    expect(out.verdict).toBe('fail');
    expect(out.reason).toContain('timed out after 300ms');
    const background = Number(readFileSync(join(dir, 'bg.pid'), 'utf8'));
    // Killed means gone or a zombie waiting for init to reap it.
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${background}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
    expect(existsSync(join(dir, 'survived'))).toBe(false);
  });

  it('answers error for a cwd that does not exist, and stops on abort', async () => {
    const missing = await runGate(gate({ kind: 'command', run: 'true', cwd: join(tmpdir(), 'no-such-folder-slipway') }), context(model('3', CANCER)));
    expect(missing.verdict).toBe('error');
    expect(missing.reason).toContain('no-such-folder-slipway');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const aborted = await runGate(gate({ kind: 'command', run: 'sleep 30' }), context(model('3', CANCER), undefined, { signal: abort.signal }));
    expect(aborted.verdict).toBe('error');
    expect(aborted.reason).toMatch(/aborted/);
  });
});

describe('loadtest gate', () => {
  it('reads relative SLOs', () => {
    expect(parseRelativeSlo('p99 <= champion * 1.25')).toMatchObject({ statistic: 'p99', op: '<=', factor: 1.25, offset: 0 });
    expect(parseRelativeSlo('p50 <= champion + 2ms')).toMatchObject({ statistic: 'p50', factor: 1, offset: 2 });
    expect(parseRelativeSlo('p99<20ms')).toBeUndefined();
    expect(() => parseRelativeSlo('p99 <= champion ^ 2')).toThrow(/Invalid SLO/);
  });

  it('fails a much slower candidate against the champion measured in the same run, and records both runs with the release id', async () => {
    const slow = model('9', mlpFile([30, 2048, 2048, 2048, 1], { seed: 5 }));
    const ctx = context(slow, model('1', CANCER));
    const out = await runGate(gate({ kind: 'loadtest', slo: ['error_rate<0.01', 'p50 <= champion * 1.25'], rate: 40, duration: '2s' }), ctx);
    expect(out.verdict).toBe('fail');
    expect(out.reason).toContain('p50 <= champion * 1.25');
    const checks = out.figures.checks as Array<{ expression: string; passed: boolean; candidate: number; champion?: number }>;
    expect(checks.find((c) => c.expression === 'error_rate<0.01')?.passed).toBe(true);
    const relative = checks.find((c) => c.expression === 'p50 <= champion * 1.25');
    expect(relative?.candidate).toBeGreaterThan((relative?.champion as number) * 1.25);
    const tagged = await store.db.selectFrom('tags').select(['run_uuid', 'key', 'value']).where('key', '=', 'slipway.release.id').where('value', '=', ctx.release.id).execute();
    expect(tagged).toHaveLength(2);
  }, 30_000);

  it('passes a fine candidate with rows from the holdout', async () => {
    const ctx = context(model('2', CANCER), model('1', CANCER));
    const out = await runGate(gate({ kind: 'loadtest', slo: ['error_rate<0.01', 'p50 <= champion + 50ms'], rate: 40, duration: '1s' }, { holdout: 'releases/holdouts/holdout.csv', label: 'target' }), ctx);
    expect(out.verdict).toBe('pass');
    expect(out.figures.payload).toMatch(/first \d+ rows of releases\/holdouts\/holdout.csv/);
  }, 30_000);

  it('answers error without a private server', async () => {
    const out = await runGate(gate({ kind: 'loadtest', slo: ['p99<20ms'] }), context(model('2', CANCER), undefined, { startPrivateServer: undefined }));
    expect(out.verdict).toBe('error');
    expect(out.reason).toMatch(/needs the server/);
  });
});
