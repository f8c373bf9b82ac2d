import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { freshPostgresDatabase } from '../support/dialects.js';

// Values PostgreSQL refuses are the user's mistake: exit 2 with the reason, as on the HTTP API.
describe('slipway against PostgreSQL with values it cannot hold', () => {
  let db: { uri: string; drop(): Promise<void> };
  let home: string;
  beforeAll(async () => {
    db = await freshPostgresDatabase();
    home = mkdtempSync(join(tmpdir(), 'slipway-pg-cli-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(home, { recursive: true, force: true });
  });

  it('exits 2 naming the limit for an id past 2^31', async () => {
    const env = { SLIPWAY_HOME: home };
    const res = await runCli(['experiments', 'show', '2147483648', '--backend-store-uri', db.uri], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('error: A numeric id or version is larger than the metadata store holds (at most 2147483647).');
  });
});
