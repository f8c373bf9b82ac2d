/**
 * Runs the Quickstart block of README.md exactly as written, command by command through `sh -c`,
 * from the repository root with SLIPWAY_HOME in a temporary folder, on the ports the README
 * names (5000 and 8080). A command ending in `&` is started in the background as its own process
 * group; like a reader, the test waits for it to answer on one of those ports before the next
 * command, and stops the group at the end. Each command must exit 0, except where the README's
 * text for the step says it exits 1.
 *
 * The Python step runs only where its interpreter imports the example's modules; elsewhere the
 * script is compiled instead (test/examples/mlflow-example.test.ts checks the rest of it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, TRAIN_SCRIPT, cleanEnv, hasExampleModules, pythonImports, run } from './examples/example-support.js';

/** The ports the Quickstart listens on: `npm start` (5000) and `slipway serve` (8080). */
const PORTS = [5000, 8080];

/** One command of the block and the comment lines between it and the command before. */
interface Step {
  command: string;
  notes: string;
}

/** The commands of the first `sh` block under "## Quickstart", with backslash continuations kept (sh joins them). */
function quickstartSteps(markdown: string): Step[] {
  const section = markdown.split(/^## Quickstart$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md has no ```sh block under "## Quickstart".');
  const steps: Step[] = [];
  let notes = '';
  let command = '';
  for (const line of block.split('\n')) {
    if (command === '' && (line.trim() === '' || line.trim().startsWith('#'))) {
      notes += `${line.trim()}\n`;
      continue;
    }
    command += command === '' ? line : `\n${line}`;
    if (!line.endsWith('\\')) {
      steps.push({ command, notes });
      command = '';
      notes = '';
    }
  }
  return steps;
}

/** Fails with a clear message when a port the README uses is taken. */
async function requireFree(port: number): Promise<void> {
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', resolve);
    });
  } catch (err) {
    throw new Error(
      `Port ${port} on 127.0.0.1 is taken (${(err as NodeJS.ErrnoException).code}); the README Quickstart listens there. Stop what listens on it (\`ss -ltnp 'sport = :${port}'\` shows it) and run this test again.`,
      { cause: err },
    );
  } finally {
    if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  }
}

async function portFree(port: number): Promise<boolean> {
  return requireFree(port).then(
    () => true,
    () => false,
  );
}

/** A command started in the background and what it has printed so far. */
interface Background {
  command: string;
  child: ChildProcess;
  output: () => string;
  port?: number;
}

function startBackground(command: string, env: NodeJS.ProcessEnv): Background {
  // Its own process group, so stopping it stops npm and the node process npm starts.
  const child = spawn('sh', ['-c', command], { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return { command, child, output: () => output };
}

/** Waits until the background command answers GET /v2/health/ready on a README port no earlier command holds. */
async function waitUntilServing(bg: Background, taken: number[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (bg.child.exitCode !== null || bg.child.signalCode !== null) {
      throw new Error(`\`${bg.command}\` exited (${bg.child.exitCode ?? bg.child.signalCode}) before it listened:\n${bg.output()}`);
    }
    for (const port of PORTS.filter((p) => !taken.includes(p))) {
      const ready = await fetch(`http://127.0.0.1:${port}/v2/health/ready`, { signal: AbortSignal.timeout(2_000) }).then(
        (res) => res.ok,
        () => false,
      );
      if (ready) return port;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`\`${bg.command}\` did not answer on port ${PORTS.filter((p) => !taken.includes(p)).join(' or ')} within ${timeoutMs / 1000} s:\n${bg.output()}`);
}

/** Stops a background command's process group: SIGTERM, then SIGKILL if its port is still held after 15 s. */
async function stopBackground(bg: Background): Promise<void> {
  const pid = bg.child.pid;
  if (pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // The whole group has exited already.
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && bg.port !== undefined && !(await portFree(bg.port))) await new Promise((resolve) => setTimeout(resolve, 200));
  if (bg.child.exitCode === null && bg.child.signalCode === null) await Promise.race([once(bg.child, 'exit'), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  signal('SIGKILL');
}

const markdown = readFileSync(join(REPO, 'README.md'), 'utf8');
const steps = quickstartSteps(markdown);
const pythonStep = steps.find((s) => s.command.includes(TRAIN_SCRIPT));
// The interpreter the README names (`python`), as the reader's shell would find it.
const python = /(\S+)\s+examples\/mlflow\/train\.py/.exec(pythonStep?.command ?? '')?.[1] ?? 'python';
const runsPython = await hasExampleModules(python);

describe('README.md Quickstart, run as written', () => {
  it('has the steps this test relies on', () => {
    expect(pythonStep?.command).toBe('MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/mlflow/train.py');
    expect(steps.filter((s) => s.command.trim().endsWith('&')).map((s) => s.command)).toEqual(['npm start &', 'npx slipway serve models:/breast-cancer@champion &']);
    expect(steps.length).toBeGreaterThanOrEqual(9);
  });

  it(
    `runs every command from the repository root${runsPython ? '' : ` (the Python step compiled only: ${python} lacks the example's modules)`}`,
    async () => {
      for (const port of PORTS) await requireFree(port);
      const home = mkdtempSync(join(tmpdir(), 'slipway-readme-'));
      const env = cleanEnv({ SLIPWAY_HOME: home });
      const outputs = steps.flatMap((s) => [...s.command.matchAll(/--(?:report|html) (\S+)/g)].map((m) => join(REPO, m[1] ?? '')));
      const background: Background[] = [];
      const transcript: string[] = [];
      try {
        for (const step of steps) {
          const command = step.command.trim();
          if (command.endsWith('&')) {
            const bg = startBackground(command.slice(0, -1).trim(), env);
            background.push(bg);
            bg.port = await waitUntilServing(
              bg,
              background.flatMap((b) => (b.port === undefined ? [] : [b.port])),
              90_000,
            );
            transcript.push(`$ ${command}    (listening on ${bg.port})`);
            continue;
          }
          if (step === pythonStep && !runsPython) {
            // No modules to run it with: it must still compile (with python3 where `python` is absent).
            const compiler = (await run(python, ['--version'], { cwd: REPO, env, timeoutMs: 10_000 })).code === 0 ? python : 'python3';
            const { imports } = await pythonImports(compiler, TRAIN_SCRIPT);
            expect(imports).toContain('mlflow');
            transcript.push(`$ ${command}    (compiled only)`);
            continue;
          }
          const res = await run('sh', ['-c', command], { cwd: REPO, env, timeoutMs: step === pythonStep ? 300_000 : 60_000 });
          transcript.push(`$ ${command}    (exit ${res.code})`);
          const context = `${transcript.join('\n')}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`;
          expect(res.timedOut, `timed out:\n${context}`).toBe(false);
          // The README's own words decide which exit codes are right.
          const mayFail = /exit code 1 when/.test(step.notes);
          const mustFail = mayFail && /as it does/.test(step.notes);
          if (mustFail) expect(res.code, context).toBe(1);
          else if (mayFail) expect([0, 1], context).toContain(res.code);
          else expect(res.code, context).toBe(0);

          for (const m of command.matchAll(/--(?:report|html) (\S+)/g)) {
            const file = join(REPO, m[1] ?? '');
            expect(existsSync(file), `${file} was not written:\n${context}`).toBe(true);
            expect(readFileSync(file, 'utf8').slice(0, 200).toLowerCase()).toContain('<!doctype html>');
          }
          if (command.startsWith('curl ') && command.includes('/v2/models/')) {
            const url = /\S+$/.exec(command)?.[0] ?? '';
            expect(JSON.parse(res.stdout), context).toMatchObject({ name: url.split('/').pop(), platform: 'onnx_onnxv1' });
          }
          // The web UI's page is what the browser step opens.
          if (command.includes('<title>Slipway</title>')) expect(res.stdout.trim(), context).toBe('<title>Slipway</title>');
          if (step === pythonStep) expect(res.stdout, context).toMatch(/breast-cancer-sklearn version \d+ \(alias champion\)/);
        }
      } finally {
        for (const bg of background.reverse()) await stopBackground(bg);
        rmSync(home, { recursive: true, force: true });
        // The reports are the Quickstart's outputs (ignored by git); none stays in the repository.
        for (const file of outputs) rmSync(file, { force: true });
      }
      for (const port of PORTS) expect(await portFree(port), `port ${port} is still held after the test stopped the background commands`).toBe(true);
    },
    runsPython ? 480_000 : 180_000,
  );
});
