import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../core/errors.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.entries(ERROR_CATALOGUE))('documents %s with its status and MLflow code', (code, spec) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `docs/errors.md has no table row for ${code}`).toBeDefined();
    const cells = (row as string).split('|').map((c) => c.trim());
    expect(cells[2]).toBe(String(spec.status));
    expect(cells[3]).toBe(`\`${spec.mlflowCode}\``);
  });
});
