// The bare client the load-generator benchmarks compare with: one undici Client, one
// request at a time, each timed from the moment it is handed to undici to undici's
// onComplete (the same two points the generator reads, with no generator around them).
// Paced runs sleep on a timer until each send, like any paced client; run in a worker
// thread (bareLoopInWorker) the loop also pays the same thread wake-ups as the
// generator, which always runs in worker threads, and it warms its code first as the
// generator does.
import http from 'node:http';
import { Client } from 'undici';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

// Warms this thread's undici code the way the generator warms its own (src/loadtest/generator-worker.ts):
// up to 1000 requests in 300 ms to a throw-away node:http server on this thread, so neither side
// is measured with cold, interpreted code.
async function warmUp(path) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new Client(`http://127.0.0.1:${server.address().port}`, { pipelining: 1 });
  const until = performance.now() + 300;
  for (let i = 0; i < 1000 && performance.now() < until; i++) {
    await new Promise((resolve, reject) => client.dispatch({ path, method: 'GET' }, { onConnect() {}, onHeaders: () => true, onData: () => true, onComplete: resolve, onError: reject }));
  }
  await client.close();
  await new Promise((resolve) => server.close(resolve));
}

/** Runs the loop for `seconds` after a 300 ms warm-up, back to back (rate 0) or paced at `rate`/s; resolves to latencies in ms. */
export async function bareLoop(url, { seconds, rate = 0, warmupMs = 300 }) {
  const u = new URL(url);
  await warmUp(u.pathname);
  const client = new Client(u.origin, { pipelining: 1 });
  const once = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      client.dispatch({ path: u.pathname, method: 'GET' }, { onConnect() {}, onHeaders: () => true, onData: () => true, onComplete: () => resolve(performance.now() - t0), onError: reject });
    });
  const samples = [];
  const start = performance.now();
  const warmEnd = start + warmupMs;
  const end = warmEnd + seconds * 1000;
  for (let k = 0; ; k++) {
    const due = rate > 0 ? start + (k * 1000) / rate : performance.now();
    if (due >= end) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    const ms = await once();
    if (t0 >= warmEnd) samples.push(ms);
  }
  await client.close();
  return samples;
}

/** bareLoop in its own worker thread. */
export function bareLoopInWorker(url, options) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { bareLoop: { url, options } } });
    w.once('message', (samples) => {
      resolve(samples);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

if (!isMainThread && workerData?.bareLoop) {
  const { url, options } = workerData.bareLoop;
  bareLoop(url, options).then((samples) => parentPort.postMessage(samples));
}
