import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBudget } from './cpu-budget.js';

describe('cpuBudget', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-cpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (text: string) => {
    const f = join(dir, `cpu-${Math.random()}`);
    writeFileSync(f, text);
    return f;
  };

  it('follows a cgroup CPU quota below the core count, rounding up', () => {
    expect(cpuBudget(file('150000 100000\n'))).toBe(Math.min(availableParallelism(), 2));
    expect(cpuBudget(file('50000 100000\n'))).toBe(1);
  });

  it('uses the cores without a quota, or where no cgroup file is', () => {
    expect(cpuBudget(file('max 100000\n'))).toBe(availableParallelism());
    expect(cpuBudget(join(dir, 'missing'))).toBe(availableParallelism());
  });
});
