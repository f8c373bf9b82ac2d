/**
 * `slipway server --default-artifact-root` and `--no-serve-artifacts`: settings that cannot work are
 * refused before anything opens, exit 2, naming the setting and what to give instead.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../support/cli.js';
import { startServerProcess } from '../e2e/server-process.js';

describe('slipway server artifact location settings', () => {
  const home = tempHome('slipway-server-artifact-root');

  it('refuses an object store as the default artifact root, naming what comes later and what works now', async () => {
    const res = await runCli(['server', '--port', '0', '--default-artifact-root', 's3://bucket/mlruns', '--no-serve-artifacts'], { SLIPWAY_HOME: home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      "error: Default artifact root 's3://bucket/mlruns' is not supported: give mlflow-artifacts: (artifacts through this server, the default) or a local folder as file:///absolute/path; object stores (s3://, gs://, …) come with the scale-out work (--default-artifact-root, SLIPWAY_DEFAULT_ARTIFACT_ROOT, server.defaultArtifactRoot).",
    );
  });

  it('refuses --no-serve-artifacts while new experiments would still keep their artifacts through the server', async () => {
    const res = await runCli(['server', '--port', '0', '--no-serve-artifacts'], { SLIPWAY_HOME: home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--no-serve-artifacts');
    expect(res.stderr).toContain('--default-artifact-root file:///absolute/path');
  });

  it('refuses a local root that holds the server\'s own files, from the environment too', async () => {
    const res = await runCli(['server', '--port', '0'], { SLIPWAY_HOME: home, SLIPWAY_DEFAULT_ARTIFACT_ROOT: `file://${home}` });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: Default artifact root '${home}' holds the artifact folder (${join(home, 'artifacts')})`);
  });

  it('lists the settings in its help', async () => {
    const res = await runCli(['server', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('--default-artifact-root <uri>');
    expect(res.stdout).toContain('--no-serve-artifacts');
  });
});

describe('slipway server with a local default artifact root', () => {
  const home = tempHome('slipway-server-local-root');

  it('gives new experiments and runs file:// locations under the root, and the embedded store the same', async () => {
    const root = join(home, 'mlruns');
    const env = { SLIPWAY_HOME: join(home, 'home'), SLIPWAY_DEFAULT_ARTIFACT_ROOT: `file://${root}`, SLIPWAY_SERVE_ARTIFACTS: 'false' };
    const server = await startServerProcess(home, ['--default-artifact-root', `file://${root}`, '--no-serve-artifacts']);
    try {
      const res = await fetch(`${server.url}/api/2.0/mlflow/experiments/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'local' }) });
      const { experiment_id: id } = (await res.json()) as { experiment_id: string };
      const got = (await (await fetch(`${server.url}/api/2.0/mlflow/experiments/get?experiment_id=${id}`)).json()) as { experiment: { artifact_location: string } };
      expect(got.experiment.artifact_location).toBe(`file://${root}/${id}`);
      const run = (await (await fetch(`${server.url}/api/2.0/mlflow/runs/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment_id: id }) })).json()) as { run: { info: { artifact_uri: string; run_id: string } } };
      expect(run.run.info.artifact_uri).toBe(`file://${root}/${id}/${run.run.info.run_id}/artifacts`);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    // The command line on the embedded store opens it the same way.
    const created = await runCli(['experiments', 'create', 'also-local', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect((JSON.parse(created.stdout) as { artifactLocation: string }).artifactLocation).toMatch(new RegExp(`^file://${root}/\\d+$`));
  });
});
