/**
 * Helpers for the tests of worker clusters (`slipway serve --workers`, `slipway server --workers`):
 * the workers of a primary, waiting for a condition, and watching which version answers while an
 * alias moves.
 */
import { spawnSync } from 'node:child_process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker processes of a primary. */
export function workersOf(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/** Polls `probe` every 50 ms until it gives a value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One answer: when its request started and ended, and the version that answered. */
export interface VersionAnswer {
  start: number;
  end: number;
  version: string;
}

/**
 * Sends `infer(i)` from `clients` concurrent loops until stopped, recording which version answered
 * each request (or why it failed); `infer` resolves with the version, or throws.
 */
export function watchVersions(infer: (i: number) => Promise<string>, clients = 4): { answers: VersionAnswer[]; failures: string[]; stop(): Promise<void> } {
  const answers: VersionAnswer[] = [];
  const failures: string[] = [];
  let stopped = false;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; !stopped; i += clients) {
      const start = performance.now();
      try {
        const version = await infer(i);
        answers.push({ start, end: performance.now(), version });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  });
  return {
    answers,
    failures,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/**
 * Answers from `oldVersion` to requests that started more than `slackMs` after the first answer
 * from `newVersion` ended: none when every worker swapped together.
 */
export function staleAnswers(answers: readonly VersionAnswer[], oldVersion: string, newVersion: string, slackMs: number): VersionAnswer[] {
  const firstNew = Math.min(...answers.filter((a) => a.version === newVersion).map((a) => a.end));
  return answers.filter((a) => a.version === oldVersion && a.start > firstNew + slackMs);
}
