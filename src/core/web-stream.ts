/**
 * A Node readable as a web ReadableStream that can be cancelled at any time.
 * Node 20's `Readable.toWeb` keeps pushing chunks that were already flowing into a
 * stream its consumer cancelled, which throws ERR_INVALID_STATE ("Controller is
 * already closed") from an event handler and takes the process down; pulling one
 * chunk at a time through the async iterator, and destroying the source on cancel,
 * never touches a closed controller.
 */
import type { Readable } from 'node:stream';

/** `source` as a web stream that reads only when its consumer asks and destroys `source` when cancelled. */
export function webStreamOf(source: Readable): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await chunks.next();
          if (cancelled) return;
          if (done) controller.close();
          else controller.enqueue(typeof value === 'string' ? Buffer.from(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        } catch (err) {
          if (!cancelled) controller.error(err);
        }
      },
      async cancel() {
        cancelled = true;
        source.destroy();
        await chunks.return?.().catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
