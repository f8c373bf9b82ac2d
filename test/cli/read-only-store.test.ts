/** A command that only reads never creates a store: in an empty folder it says how to start or name one. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../support/serving.js';
import { runCli, tempHome } from '../support/cli.js';

describe('read-only commands without a store (built CLI)', () => {
  const cwd = tempHome('slipway-no-store');

  it('exit 1 with one line naming the missing store and how to get one, and create nothing', async () => {
    for (const args of [['runs', 'list'], ['experiments', 'list'], ['models', 'list'], ['models', 'show', 'cancer'], ['audit', 'verify'], ['audit', 'log'], ['monitor', 'alerts']]) {
      const r = await runCli(args, {}, cwd);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toBe(
        `error: No Slipway store at ${join(cwd, '.slipway', 'slipway.db')}. Start one here with 'slipway server', name a server with --server or SLIPWAY_SERVER, or name an existing store with --backend-store-uri, SLIPWAY_BACKEND_STORE_URI or SLIPWAY_HOME.\n`,
      );
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('still creates the store for a command that writes', async () => {
    const r = await runCli(['models', 'register', fixture('breast_cancer_mlp.onnx'), '--name', 'cancer'], {}, cwd);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(cwd, '.slipway', 'slipway.db'))).toBe(true);
    expect((await runCli(['models', 'list'], {}, cwd)).stdout).toContain('cancer');
  });
});
