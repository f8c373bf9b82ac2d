/**
 * deploy/Dockerfile follows the image rules (no Docker here to build it): two stages, `npm ci`
 * in the build stage, production dependencies only in a pinned Node 20 slim runtime, a non-root
 * numeric USER that matches the Kubernetes manifests, a HEALTHCHECK, and no secrets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RUN_AS_USER, resolveDeployOptions } from '../../src/deploy/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One instruction: its keyword and its arguments, continuation lines joined. */
interface Instruction {
  keyword: string;
  args: string;
}

/** The instructions of a Dockerfile, comments and the parser directive left out. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const [keyword, ...rest] = l.split(/\s+/);
      return { keyword: (keyword as string).toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions split by FROM into stages. */
function stages(all: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const ins of all) {
    if (ins.keyword === 'FROM') out.push([]);
    out[out.length - 1]?.push(ins);
  }
  return out;
}

const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
const all = instructions(dockerfile);
const [build, runtime] = stages(all) as [Instruction[], Instruction[]];
const args = (stage: Instruction[], keyword: string): string[] => stage.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('deploy/Dockerfile', () => {
  it('builds in one stage and runs in a second', () => {
    expect(stages(all)).toHaveLength(2);
    expect(build[0]?.args).toMatch(/ AS build$/i);
  });

  it('pins every base image to Node 20 and runs on a slim image', () => {
    for (const from of args(all, 'FROM')) expect(from, from).toMatch(/^node:20(\.\d+){0,2}-[a-z]+(-slim)?( AS \w+)?$/i);
    expect(runtime[0]?.args).toMatch(/^node:20(\.\d+){0,2}-[a-z]+-slim\b/);
  });

  it('installs with npm ci without onnxruntime-node downloads, builds the UI, then keeps production dependencies only', () => {
    const run = args(build, 'RUN').join('\n');
    expect(run).toMatch(/\bnpm ci\b/);
    expect(run).toMatch(/npm prune --omit=dev/);
    expect(run).toContain('dist/web/index.html');
    expect(args(build, 'ENV').join(' ')).toContain('ONNXRUNTIME_NODE_INSTALL=skip');
    // npm ci runs the prepare script, which compiles the server and builds the UI.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toMatch(/tsc -p tsconfig.json && vite build/);
    // Other platforms' native binaries are dropped, and what stays is loaded once before the image is done.
    expect(run).toMatch(/onnxruntime-node\/bin .*! -name linux/);
    expect(run).toMatch(/import\('onnxruntime-node'\).*import\('better-sqlite3'\)/);
    expect(args(runtime, 'RUN').join('\n')).not.toMatch(/\bnpm (ci|install)\b/);
    expect(args(runtime, 'COPY').map((c) => c.replace(/--chown=\S+ /, ''))).toEqual(['--from=build /src/package.json ./package.json', '--from=build /src/node_modules ./node_modules', '--from=build /src/dist ./dist']);
  });

  it('runs as the non-root numeric user the Kubernetes manifests expect', () => {
    const users = args(runtime, 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]).toBe(`${RUN_AS_USER}:${RUN_AS_USER}`);
    // The last USER of the file is the one the container runs as.
    expect(all.filter((i) => i.keyword === 'USER').at(-1)?.args).not.toMatch(/^(root|0)(:|$)/);
  });

  it('exposes the default port, has a health check on /health and starts the server', () => {
    expect(args(runtime, 'EXPOSE')).toEqual([String(resolveDeployOptions({ artifactsDestination: 's3://bucket/x' }).port)]);
    const health = args(runtime, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    expect(health[0]).toContain('/health');
    expect(args(runtime, 'ENTRYPOINT')).toEqual(['["node", "/app/dist/cli/main.js"]']);
    expect(args(runtime, 'CMD')).toEqual(['["server"]']);
    expect(args(runtime, 'ENV').join(' ')).toContain('SLIPWAY_HOST=0.0.0.0');
  });

  it('holds no secrets and copies only what the build needs', () => {
    for (const ins of all.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) expect(ins.args).not.toMatch(/PASSWORD|SECRET|TOKEN|AWS_|_KEY\b|postgres(ql)?:\/\//i);
    for (const copy of [...args(all, 'COPY'), ...args(all, 'ADD')]) expect(copy).not.toMatch(/\.npmrc|(^|[\s/])\.env\b|id_rsa|\.pem\b/);
    expect(args(all, 'ADD')).toEqual([]);
    for (const copy of args(build, 'COPY')) {
      for (const src of copy.split(/\s+/).slice(0, -1)) expect(existsSync(join(ROOT, src)), src).toBe(true);
    }
    // The build context is an allow-list: a .env file, the store or .git never reach the image.
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('**');
    expect(ignore.filter((l) => l.startsWith('!'))).toEqual(['!package.json', '!package-lock.json', '!tsconfig.json', '!src/', '!web/']);
  });
});
