import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Imports the built package by its own name, as a user's script would after `npm install slipway`.
function importBuilt(specifier: string, expr: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import('${specifier}'); console.log(${expr});`], {
    encoding: 'utf8',
  }).trim();
}

describe('package entry points', () => {
  it('slipway exports the library functions release gates and scripts call', () => {
    const out = importBuilt('slipway', "['runLoadTest','openStore','TrackingService','RegistryService','computeDrift','verifyAuditTrail'].map((k) => typeof m[k]).join(',')");
    expect(out).toBe('function,function,function,function,function,function');
  });

  it('slipway/client exports the SDK', () => {
    expect(importBuilt('slipway/client', 'typeof m.SlipwayClient')).toBe('function');
  });
});
