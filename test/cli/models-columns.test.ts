import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../support/cli.js';

const MODEL = join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx');

describe('slipway models register with column names that do not fit the model', () => {
  const home = tempHome('slipway-columns-cli');

  it('exits 2 naming both counts, and registers nothing', async () => {
    writeFileSync(join(home, 'two.csv'), 'a,b,target\n1,2,0\n');
    const env = { SLIPWAY_HOME: home };
    const [byList, byCsv] = await Promise.all([
      runCli(['models', 'register', MODEL, '--name', 'bc', '--columns', 'a,b'], env),
      runCli(['models', 'register', MODEL, '--name', 'bc2', '--columns-from', join(home, 'two.csv')], env),
    ]);
    expect([byList.code, byCsv.code]).toEqual([2, 2]);
    expect(byList.stderr).toContain("--columns names 2 column(s) but the model's input 'features' takes 30.");
    expect(byCsv.stderr).toContain("--columns-from names 2 column(s) but the model's input 'features' takes 30.");
    const list = await runCli(['models', 'list', '--json'], env);
    expect(list.stdout).not.toContain('"bc');
  });
});
