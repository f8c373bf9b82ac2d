import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../support/cli.js';

const DATA = join(import.meta.dirname, '../fixtures/breast_cancer_train.csv');

describe('--out pointing somewhere that cannot be written', () => {
  const home = tempHome('slipway-out-cli');

  it('exits 2 naming the path and the problem, without errno jargon', async () => {
    const env = { SLIPWAY_HOME: home };
    const [missingDir, isDir] = await Promise.all([
      runCli(['monitor', 'profile', DATA, '--out', join(home, 'no', 'such', 'p.json')], env),
      runCli(['monitor', 'profile', DATA, '--out', home], env),
    ]);
    expect([missingDir.code, isDir.code]).toEqual([2, 2]);
    expect(missingDir.stderr).toContain(`error: Cannot open '${join(home, 'no', 'such', 'p.json')}': no such file or directory.`);
    expect(isDir.stderr).toContain(`error: Cannot open '${home}': it is a directory.`);
    expect(missingDir.stderr).not.toContain('ENOENT');
  });
});
