import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { resolveTarget } from './load-target.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('load-test target errors', () => {
  it('never echo a password from the target or server URL', async () => {
    const port = await closedPort();
    const unreachable = await resolveTarget({ target: 'models:/cancer/1', server: `http://ops:S3cretPW@127.0.0.1:${port}` }).catch((err: Error) => err);
    expect(unreachable).toMatchObject({ code: 'UNAVAILABLE' });
    expect((unreachable as Error).message).not.toContain('S3cretPW');
    expect((unreachable as Error).message).toContain('ops:***@');
    const invalid = await resolveTarget({ target: 'ftp://ops:S3cretPW@example.com/x' }).catch((err: Error) => err);
    expect(invalid).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((invalid as Error).message).not.toContain('S3cretPW');
  });
});

describe("the server's credentials on the load", () => {
  // Raw targets are resolved without a request, so the headers the load will carry can be read directly.
  const headersFor = async (target: string, extra: { server?: string; headers?: Record<string, string> }) =>
    (await resolveTarget({ target, serverAuthorization: 'Bearer server-token', ...extra })).headers.authorization;

  it("go only to the server's own origin, and an Authorization the caller gives wins", async () => {
    const port = await closedPort();
    expect(await headersFor(`http://127.0.0.1:${port}/health`, { server: `http://127.0.0.1:${port}` })).toBe('Bearer server-token');
    // Another port, another scheme or another spelling of the host is another origin.
    expect(await headersFor(`http://127.0.0.1:${port}/health`, { server: `http://127.0.0.1:${port + 1}` })).toBeUndefined();
    expect(await headersFor(`http://127.0.0.1:${port}/health`, { server: `https://127.0.0.1:${port}` })).toBeUndefined();
    expect(await headersFor(`http://127.0.0.1:${port}/health`, { server: `http://localhost:${port}` })).toBeUndefined();
    expect(await headersFor(`http://127.0.0.1:${port}/health`, {})).toBeUndefined();
    expect(await headersFor(`http://127.0.0.1:${port}/health`, { server: `http://127.0.0.1:${port}`, headers: { Authorization: 'Bearer mine' } })).toBe('Bearer mine');
  });
});
