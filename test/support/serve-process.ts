/** Waiting for a `slipway serve --json` child process to print where it listens. */
import type { ChildProcess } from 'node:child_process';

/** Resolves with the `{ url, … }` document `slipway serve --json` prints once it listens; rejects on exit or after `timeoutMs`. */
export function servedAddress<T extends { url: string } = { url: string }>(proc: ChildProcess, timeoutMs = 20_000): Promise<T> {
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<T>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      try {
        resolve(JSON.parse(out) as T);
        clearTimeout(timer);
      } catch {
        // Not the whole document yet.
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early with ${code}: ${stderr}`));
    });
  });
}
