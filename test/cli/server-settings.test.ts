import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../support/cli.js';

describe('slipway server with an artifact folder that is a file', () => {
  const home = tempHome('slipway-server-settings');

  it('exits 2 naming the setting instead of an EEXIST from mkdir', async () => {
    const file = join(home, 'not-a-folder');
    writeFileSync(file, 'x');
    const res = await runCli(['server', '--port', '0', '--artifacts-destination', file], { SLIPWAY_HOME: home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: Cannot use '${file}' as the artifact folder: a file is in the way.`);
  });
});

describe('slipway server with folders that cannot be created', () => {
  const home = tempHome('slipway-server-settings');

  // Node's own recursive mkdir never returns for a path below /proc.
  it('exits 2 for an artifact folder below /proc instead of hanging', async () => {
    const res = await runCli(['server', '--port', '0', '--artifacts-destination', '/proc/slipway-test/artifacts'], { SLIPWAY_HOME: home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("error: Cannot use '/proc/slipway-test/artifacts' as the artifact folder: folders cannot be created there.");
  });

  it('exits 1 naming the store for a SQLite file below /proc instead of hanging', async () => {
    const res = await runCli(['server', '--port', '0', '--backend-store-uri', 'sqlite:////proc/slipway-test/slipway.db'], { SLIPWAY_HOME: home });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("Cannot open the metadata store sqlite:////proc/slipway-test/slipway.db: ENOENT: no such file or directory, mkdir '/proc/slipway-test'");
  });
});
