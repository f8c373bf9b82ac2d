/**
 * A throw-away pipeline workspace for CLI tests: a temp folder with slipway.yaml and `tool.mjs`, a
 * stand-in for a training script that records each run in `ran.log`, reads its inputs and a param,
 * writes its outs, and on request touches a file, waits for one to appear or go, fails, or stamps
 * its start and end times.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const TOOL = `import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
const [name, ...args] = process.argv.slice(2);
const one = (k) => { const i = args.indexOf('--' + k); return i >= 0 ? args[i + 1] : undefined; };
const all = (k) => args.flatMap((a, i) => (a === '--' + k ? [args[i + 1]] : []));
const start = Date.now();
appendFileSync('ran.log', name + '\\n');
if (one('touch')) writeFileSync(one('touch'), '');
if (one('wait-for')) while (!existsSync(one('wait-for'))) await new Promise((r) => setTimeout(r, 20));
if (one('wait-gone')) while (existsSync(one('wait-gone'))) await new Promise((r) => setTimeout(r, 20));
if (one('sleep')) await new Promise((r) => setTimeout(r, Number(one('sleep'))));
if (one('fail')) { console.log('working on ' + name); console.error('boom: out of memory'); process.exit(Number(one('fail'))); }
let content = name;
for (const d of all('in')) content += '|' + readFileSync(d, 'utf8');
const p = one('param');
if (p) content += '|' + p + '=' + (new RegExp('^' + p + ':\\\\s*(.*)$', 'm').exec(readFileSync('params.yaml', 'utf8')) || [])[1];
for (const o of all('out')) { mkdirSync(dirname(o), { recursive: true }); writeFileSync(o, content); }
if (one('stamp')) { mkdirSync('stamps', { recursive: true }); writeFileSync('stamps/' + name + '.json', JSON.stringify({ start, end: Date.now() })); }
console.log(name + ' done');
`;

/** A pipeline workspace: its folder and helpers to read and write files in it. */
export interface PipelineWorkspace {
  dir: string;
  write(path: string, text: string): void;
  read(path: string): string;
  exists(path: string): boolean;
  /** The stages that ran since the last `clearRuns`, in order. */
  runs(): string[];
  clearRuns(): void;
  git(...args: string[]): string;
}

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Creates a workspace with `yaml` as slipway.yaml and the given files. */
export function pipelineWorkspace(yaml: string, files: Record<string, string> = {}): PipelineWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pipeline-'));
  made.push(dir);
  const ws: PipelineWorkspace = {
    dir,
    write(path, text) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    },
    read: (path) => readFileSync(join(dir, path), 'utf8'),
    exists: (path) => existsSync(join(dir, path)),
    runs: () => (existsSync(join(dir, 'ran.log')) ? readFileSync(join(dir, 'ran.log'), 'utf8').split('\n').filter(Boolean) : []),
    clearRuns: () => rmSync(join(dir, 'ran.log'), { force: true }),
    git: (...args) => execFileSync('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=Test', ...args], { cwd: dir, encoding: 'utf8' }),
  };
  ws.write('tool.mjs', TOOL);
  ws.write('slipway.yaml', yaml);
  for (const [path, text] of Object.entries(files)) ws.write(path, text);
  return ws;
}
