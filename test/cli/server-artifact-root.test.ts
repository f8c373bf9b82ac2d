/**
 * `slipway server --default-artifact-root` and `--no-serve-artifacts`: settings that cannot work are
 * refused before anything opens, exit 2, naming the setting and what to give instead.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../support/cli.js';

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
