/**
 * GET /api/v1/health is public: an artifact store that cannot write is reported by kind
 * (no space, no permission, read-only), never with the error's own text, which names the
 * server's folders to whoever asks.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../native/native-api.test-support.js';

describe('GET /api/v1/health', () => {
  const t = useTestApp();

  it('names why the artifact store cannot write without the paths of the server', async () => {
    const store = t.ctx.artifacts as { checkWritable?: () => Promise<void> };
    const cases: Array<[NodeJS.ErrnoException, string]> = [
      [Object.assign(new Error("EACCES: permission denied, open '/srv/private/artifacts/.probe'"), { code: 'EACCES' }), 'permission denied'],
      [Object.assign(new Error("EROFS: read-only file system, open '/srv/private/artifacts/.probe'"), { code: 'EROFS' }), 'read-only file system'],
      [new Error('bucket s3://private-bucket/prefix refused the write: AccessDenied for key AKIA…'), 'cannot write'],
    ];
    let now = Date.now();
    const clock = t.ctx.clock as { now: () => number };
    const realNow = clock.now;
    clock.now = () => now;
    try {
      for (const [error, reason] of cases) {
        store.checkWritable = () => Promise.reject(error);
        now += 60_000;
        const res = await t.app.inject({ url: '/api/v1/health' });
        expect(res.statusCode).toBe(503);
        const body = res.json() as { artifact_store: { status: string; reason: string } };
        expect(body.artifact_store).toEqual({ status: 'unwritable', reason: expect.stringContaining(reason) });
        expect(res.body).not.toMatch(/srv|private|AKIA/);
      }
    } finally {
      clock.now = realNow;
    }
  });
});
