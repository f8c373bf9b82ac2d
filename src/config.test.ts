import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A working folder holding `slipway.yaml` with `yaml` as its text (or none). */
function folder(yaml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-config-'));
  dirs.push(dir);
  if (yaml !== undefined) writeFileSync(join(dir, 'slipway.yaml'), yaml);
  return dir;
}

/** The duration settings of a resolved config, in the units the rest of Slipway reads. */
function durations(config: ReturnType<typeof resolveConfig>) {
  return {
    requestTimeoutMs: config.requestTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs,
    monitoringWindowMs: config.monitoringWindowMs,
    maxQueueDelayMicros: config.serving.maxQueueDelayMicros,
    deadlineMs: config.serving.deadlineMs,
    checkpointIntervalMs: config.audit.checkpointIntervalMs,
  };
}

describe('duration settings', () => {
  it('default to 5m, 30s, 1m, the serving defaults and 5s, with no warning', () => {
    const config = resolveConfig({}, {}, folder());
    expect(durations(config)).toEqual({ requestTimeoutMs: 300_000, statementTimeoutMs: 30_000, monitoringWindowMs: 60_000, maxQueueDelayMicros: undefined, deadlineMs: undefined, checkpointIntervalMs: 5000 });
    expect(config.warnings).toEqual([]);
  });

  it('take a number with a unit from the environment', () => {
    const config = resolveConfig(
      {},
      {
        SLIPWAY_REQUEST_TIMEOUT: '5m',
        SLIPWAY_STATEMENT_TIMEOUT: '0',
        SLIPWAY_MONITORING_WINDOW: '2m',
        SLIPWAY_SERVING_MAX_QUEUE_DELAY: '500us',
        SLIPWAY_SERVING_DEADLINE: '1.5s',
        SLIPWAY_AUDIT_CHECKPOINT_INTERVAL: '250ms',
      },
      folder(),
    );
    expect(durations(config)).toEqual({ requestTimeoutMs: 300_000, statementTimeoutMs: 0, monitoringWindowMs: 120_000, maxQueueDelayMicros: 500, deadlineMs: 1500, checkpointIntervalMs: 250 });
    expect(config.warnings).toEqual([]);
  });

  it('take a number with a unit from slipway.yaml, and 0 alone where it turns the setting off', () => {
    const dir = folder('server:\n  requestTimeout: 10m\n  statementTimeout: 0\n  monitoringWindow: 30s\n  servingMaxQueueDelay: 2ms\n  servingDeadline: 250ms\n  auditCheckpointInterval: 1s\n');
    const config = resolveConfig({}, {}, dir);
    expect(durations(config)).toEqual({ requestTimeoutMs: 600_000, statementTimeoutMs: 0, monitoringWindowMs: 30_000, maxQueueDelayMicros: 2000, deadlineMs: 250, checkpointIntervalMs: 1000 });
    expect(config.warnings).toEqual([]);
  });

  it('still read the deprecated spellings in their old unit, with one warning each naming the new one', () => {
    const dir = folder('server:\n  statementTimeoutMs: 45000\n  servingMaxQueueDelayUs: 500\n');
    const config = resolveConfig({}, { SLIPWAY_REQUEST_TIMEOUT_MS: '90000', SLIPWAY_SERVING_DEADLINE_MS: '250', SLIPWAY_MONITORING_WINDOW_MS: '60000', SLIPWAY_AUDIT_CHECKPOINT_INTERVAL_MS: '1500' }, dir);
    expect(durations(config)).toEqual({ requestTimeoutMs: 90_000, statementTimeoutMs: 45_000, monitoringWindowMs: 60_000, maxQueueDelayMicros: 500, deadlineMs: 250, checkpointIntervalMs: 1500 });
    const file = join(dir, 'slipway.yaml');
    expect(config.warnings).toEqual([
      `server.statementTimeoutMs in ${file} is deprecated; use server.statementTimeout: 45s`,
      `server.servingMaxQueueDelayUs in ${file} is deprecated; use server.servingMaxQueueDelay: 500us`,
      'SLIPWAY_REQUEST_TIMEOUT_MS is deprecated; use SLIPWAY_REQUEST_TIMEOUT=90s',
      'SLIPWAY_MONITORING_WINDOW_MS is deprecated; use SLIPWAY_MONITORING_WINDOW=1m',
      'SLIPWAY_SERVING_DEADLINE_MS is deprecated; use SLIPWAY_SERVING_DEADLINE=250ms',
      'SLIPWAY_AUDIT_CHECKPOINT_INTERVAL_MS is deprecated; use SLIPWAY_AUDIT_CHECKPOINT_INTERVAL=1500ms',
    ]);
  });

  it('follow flags over environment over file', () => {
    const dir = folder('server:\n  servingDeadline: 30s\n  requestTimeout: 1m\n  statementTimeout: 10s\n');
    const config = resolveConfig({ servingDeadline: '10s' }, { SLIPWAY_SERVING_DEADLINE: '20s', SLIPWAY_REQUEST_TIMEOUT: '2m' }, dir);
    expect(durations(config)).toMatchObject({ deadlineMs: 10_000, requestTimeoutMs: 120_000, statementTimeoutMs: 10_000 });
  });

  it('take milliseconds from code, under either spelling, without a warning', () => {
    const config = resolveConfig({ statementTimeout: 120_000, requestTimeoutMs: 1000 }, {}, folder());
    expect(durations(config)).toMatchObject({ statementTimeoutMs: 120_000, requestTimeoutMs: 1000 });
    expect(config.warnings).toEqual([]);
  });

  it('refuse a bare number in the environment, naming the variable and the unit to add', () => {
    expect(() => resolveConfig({}, { SLIPWAY_SERVING_DEADLINE: '30' }, folder())).toThrow("SLIPWAY_SERVING_DEADLINE must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s.");
    expect(() => resolveConfig({}, { SLIPWAY_SERVING_MAX_QUEUE_DELAY: '500' }, folder())).toThrow("SLIPWAY_SERVING_MAX_QUEUE_DELAY must be a duration such as 250ms, 10s or 5m; got '500': add a unit, e.g. 500us or 500ms.");
    expect(() => resolveConfig({}, { SLIPWAY_REQUEST_TIMEOUT: 'soon' }, folder())).toThrow("SLIPWAY_REQUEST_TIMEOUT must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'soon'.");
  });

  it('refuse a bare number in slipway.yaml, naming the key and the file', () => {
    const dir = folder('server:\n  requestTimeout: 300\n');
    expect(() => resolveConfig({}, {}, dir)).toThrow(`server.requestTimeout in ${join(dir, 'slipway.yaml')} must be a duration such as 250ms, 10s or 5m; got '300': add a unit, e.g. 300ms or 300s.`);
    const listed = folder('server:\n  servingDeadline: [1s]\n');
    expect(() => resolveConfig({}, {}, listed)).toThrow(`server.servingDeadline in ${join(listed, 'slipway.yaml')} must be a duration such as 250ms, 10s or 5m.`);
  });

  it('enforce each setting\'s bounds', () => {
    expect(() => resolveConfig({}, { SLIPWAY_MONITORING_WINDOW: '500ms' }, folder())).toThrow("SLIPWAY_MONITORING_WINDOW must be at least 1s; got '500ms'.");
    expect(() => resolveConfig({}, { SLIPWAY_SERVING_DEADLINE: '0' }, folder())).toThrow("SLIPWAY_SERVING_DEADLINE must be longer than 0, a duration such as 250ms, 10s or 5m; got '0'.");
    expect(() => resolveConfig({}, { SLIPWAY_STATEMENT_TIMEOUT: '500us' }, folder())).toThrow("SLIPWAY_STATEMENT_TIMEOUT must be at least 1ms (or 0 to turn it off); got '500us'.");
    expect(() => resolveConfig({}, { SLIPWAY_AUDIT_CHECKPOINT_INTERVAL: '2d' }, folder())).toThrow("SLIPWAY_AUDIT_CHECKPOINT_INTERVAL must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got '2d'.");
    expect(() => resolveConfig({}, { SLIPWAY_REQUEST_TIMEOUT: '25h' }, folder())).toThrow("SLIPWAY_REQUEST_TIMEOUT must be at most 24h; got '25h'.");
  });

  it('refuse both spellings of one setting in one place', () => {
    expect(() => resolveConfig({}, { SLIPWAY_SERVING_DEADLINE: '1s', SLIPWAY_SERVING_DEADLINE_MS: '1000' }, folder())).toThrow('Give SLIPWAY_SERVING_DEADLINE or SLIPWAY_SERVING_DEADLINE_MS, not both; SLIPWAY_SERVING_DEADLINE_MS is deprecated.');
  });
});

describe('artifact location settings', () => {
  it('default to artifacts through the server, served, with no local root', () => {
    const config = resolveConfig({}, {}, folder());
    expect(config).toMatchObject({ defaultArtifactRoot: 'mlflow-artifacts:', defaultArtifactRootFolder: undefined, serveArtifacts: true, modelSourceAllowedDirs: [] });
  });

  it('take a local root as a file URI or a path, from flags, the environment or slipway.yaml, and allow its models', () => {
    const cwd = folder('server:\n  defaultArtifactRoot: file:///srv/ml%20runs/\n  serveArtifacts: false\n');
    const fromFile = resolveConfig({}, {}, cwd);
    expect(fromFile).toMatchObject({ defaultArtifactRoot: 'file:///srv/ml%20runs', defaultArtifactRootFolder: '/srv/ml runs', serveArtifacts: false, modelSourceAllowedDirs: ['/srv/ml runs'] });
    const fromEnv = resolveConfig({}, { SLIPWAY_DEFAULT_ARTIFACT_ROOT: 'mlruns', SLIPWAY_SERVE_ARTIFACTS: 'true', SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS: '/models' }, cwd);
    expect(fromEnv).toMatchObject({ defaultArtifactRoot: `file://${cwd}/mlruns`, serveArtifacts: true, modelSourceAllowedDirs: ['/models', join(cwd, 'mlruns')] });
    const relativeUri = resolveConfig({ defaultArtifactRoot: 'file:local/runs', serveArtifacts: false }, {}, cwd);
    expect(relativeUri.defaultArtifactRootFolder).toBe(join(cwd, 'local', 'runs'));
    expect(resolveConfig({ defaultArtifactRoot: 'file://localhost/srv/x' }, {}, cwd).defaultArtifactRoot).toBe('file:///srv/x');
  });

  it('refuse object stores, other machines and roots that hold the server\'s own files, naming the setting', () => {
    const cwd = folder();
    expect(() => resolveConfig({ defaultArtifactRoot: 's3://bucket/runs' }, {}, cwd)).toThrow(
      "Default artifact root 's3://bucket/runs' is not supported: give mlflow-artifacts: (artifacts through this server, the default) or a local folder as file:///absolute/path; object stores (s3://, gs://, …) come with the scale-out work (--default-artifact-root, SLIPWAY_DEFAULT_ARTIFACT_ROOT, server.defaultArtifactRoot).",
    );
    expect(() => resolveConfig({ defaultArtifactRoot: 'file://fileserver/share' }, {}, cwd)).toThrow("Default artifact root 'file://fileserver/share' names another machine");
    expect(() => resolveConfig({ defaultArtifactRoot: '.slipway' }, {}, cwd)).toThrow(`Default artifact root '${join(cwd, '.slipway')}' holds the artifact folder (${join(cwd, '.slipway', 'artifacts')}): clients write to this folder directly, so choose a folder of its own, such as ${join(cwd, '.slipway', 'mlruns')}`);
    expect(() => resolveConfig({ defaultArtifactRoot: '.slipway/artifacts/runs' }, {}, cwd)).toThrow('lies inside the artifact folder');
    expect(() => resolveConfig({ defaultArtifactRoot: '/' }, { SLIPWAY_AUDIT_KEY_FILE: '/keys/audit.key', SLIPWAY_ARTIFACTS_DESTINATION: '/data/a' }, cwd)).toThrow("Default artifact root '/' holds the artifact folder");
    expect(resolveConfig({ defaultArtifactRoot: '.slipway/mlruns' }, {}, cwd).defaultArtifactRootFolder).toBe(join(cwd, '.slipway', 'mlruns'));
  });

  it('refuse turning artifact serving off while new experiments would still use it', () => {
    expect(() => resolveConfig({ serveArtifacts: false }, {}, folder())).toThrow(
      "Artifacts are not served (--no-serve-artifacts) but new experiments would keep theirs through this server (mlflow-artifacts:); give clients a folder to write to with --default-artifact-root file:///absolute/path, or serve artifacts.",
    );
    expect(() => resolveConfig({}, { SLIPWAY_SERVE_ARTIFACTS: 'maybe' }, folder())).toThrow("Serve artifacts (--serve-artifacts/--no-serve-artifacts, SLIPWAY_SERVE_ARTIFACTS, server.serveArtifacts) must be true or false, got 'maybe'.");
  });
});

describe('the web UI setting', () => {
  it('defaults to the UI built with the package', () => {
    expect(resolveConfig({}, {}, folder()).ui).toEqual({ enabled: true, dir: undefined });
  });

  it('takes true or false in any usual spelling, from flags, the environment or slipway.yaml', () => {
    const cwd = folder();
    for (const off of ['false', 'FALSE', '0', 'no', 'off']) expect(resolveConfig({}, { SLIPWAY_UI: off }, cwd).ui).toEqual({ enabled: false });
    for (const on of ['true', 'True', '1', 'yes', 'on']) expect(resolveConfig({}, { SLIPWAY_UI: on }, cwd).ui).toEqual({ enabled: true, dir: undefined });
    expect(resolveConfig({ ui: false }, {}, cwd).ui).toEqual({ enabled: false });
    expect(resolveConfig({}, {}, folder('server:\n  ui: false\n')).ui).toEqual({ enabled: false });
  });

  it('takes any other value as the folder of another build, relative to the working folder', () => {
    const cwd = folder('server:\n  ui: builds/ui\n');
    expect(resolveConfig({}, {}, cwd).ui).toEqual({ enabled: true, dir: join(cwd, 'builds', 'ui') });
    expect(resolveConfig({}, { SLIPWAY_UI: '/srv/slipway-ui' }, cwd).ui).toEqual({ enabled: true, dir: '/srv/slipway-ui' });
  });

  it('follows flags over environment over file', () => {
    const cwd = folder('server:\n  ui: /srv/from-file\n');
    expect(resolveConfig({}, { SLIPWAY_UI: 'false' }, cwd).ui).toEqual({ enabled: false });
    expect(resolveConfig({ ui: true }, { SLIPWAY_UI: 'false' }, cwd).ui).toEqual({ enabled: true, dir: undefined });
  });

  it('treats an empty variable as unset, and refuses a blank value, naming the setting', () => {
    expect(resolveConfig({}, { SLIPWAY_UI: '' }, folder()).ui).toEqual({ enabled: true, dir: undefined });
    const message = 'The web UI setting (SLIPWAY_UI, server.ui) must be true, false or the folder of a UI build; it is empty.';
    expect(() => resolveConfig({}, { SLIPWAY_UI: '   ' }, folder())).toThrow(message);
    expect(() => resolveConfig({ ui: '' }, {}, folder())).toThrow(message);
  });
});
