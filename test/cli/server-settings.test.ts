import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('slipway server with an artifact folder that is a file', () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'slipway-server-settings-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('exits 2 naming the setting instead of an EEXIST from mkdir', async () => {
    const file = join(home, 'not-a-folder');
    writeFileSync(file, 'x');
    const res = await runCli(['server', '--port', '0', '--artifacts-destination', file], { SLIPWAY_HOME: home });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: Cannot use '${file}' as the artifact folder: a file is in the way.`);
  });
});
