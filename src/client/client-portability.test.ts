import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('slipway/client portability', () => {
  it('imports nothing Node-only at runtime (it must run in browsers)', () => {
    const seen = new Set<string>();
    const visit = (file: URL) => {
      if (seen.has(file.href)) return;
      seen.add(file.href);
      const source = readFileSync(file, 'utf8');
      // Runtime imports only: `import type` and `export type` vanish from the emitted JavaScript.
      for (const m of source.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)) {
        const spec = m[1] as string;
        expect(spec.startsWith('.'), `${file.pathname} imports '${spec}' at runtime`).toBe(true);
        visit(new URL(spec.replace(/\.js$/, '.ts'), file));
      }
      expect(source, file.pathname).not.toMatch(/\b(process|Buffer|require)\s*[.(]/);
    };
    visit(new URL('./index.ts', import.meta.url));
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });
});
