import { describe, expect, it } from 'vitest';
import type { HostResolver } from '../core/outbound-policy.js';
import { assertTargetAllowed, createLoadTestPolicy } from './target-allow-list.js';

const dns =
  (table: Record<string, string>): HostResolver =>
  async (name) => {
    const address = table[name];
    if (address === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
const resolver = dns({ localhost: '127.0.0.1', 'models.internal': '10.0.0.7', 'rebind.example': '127.0.0.1', 'meta.example': '169.254.169.254' });

describe('load-test target policy', () => {
  it('allows this server\'s own loopback port and refuses other loopback ports, such as PostgreSQL\'s', async () => {
    const policy = createLoadTestPolicy([], () => [5000]);
    for (const url of ['http://127.0.0.1:5000/v2/models/m/infer', 'http://localhost:5000/health', 'http://[::1]:5000/']) await expect(assertTargetAllowed(policy, url, 'target', resolver), url).resolves.toBeUndefined();
    for (const url of ['http://127.0.0.1:5432/', 'http://localhost:5432/', 'http://127.4.5.6:6379/', 'http://[::ffff:7f00:1]:5432/']) {
      await expect(assertTargetAllowed(policy, url, 'target', resolver), url).rejects.toMatchObject({ code: 'PERMISSION_DENIED', status: 403 });
    }
  });

  it('refuses other hosts unless listed, naming the host and both options', async () => {
    const policy = createLoadTestPolicy([], () => [5000]);
    let caught: unknown;
    try {
      await assertTargetAllowed(policy, 'http://Metadata.Example:80/v2/models/m/infer', 'target', resolver);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'PERMISSION_DENIED', status: 403, message: expect.stringContaining("target host 'metadata.example'") });
    expect((caught as Error).message).toContain('SLIPWAY_LOADTEST_ALLOWED_HOSTS');
    expect((caught as Error).message).toContain('SLIPWAY_OUTBOUND_ALLOWED_HOSTS');
    for (const url of ['http://10.0.0.1/', 'http://0.0.0.0:5000/', 'http://169.254.169.254/', 'http://example.com/']) await expect(assertTargetAllowed(policy, url, 'target', resolver), url).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // Not an http(s) URL: left to the option checks (400 there).
    await expect(assertTargetAllowed(policy, 'not a url', 'target', resolver)).resolves.toBeUndefined();
  });

  it('allows listed names, ranges and host:port entries', async () => {
    const policy = createLoadTestPolicy(['models.internal', '192.0.2.0/24', '127.0.0.1:8001'], () => [5000]);
    for (const url of ['http://models.internal:8080/', 'http://192.0.2.44/', 'http://127.0.0.1:8001/']) await expect(assertTargetAllowed(policy, url, 'target', resolver), url).resolves.toBeUndefined();
    await expect(assertTargetAllowed(policy, 'http://127.0.0.1:8002/', 'target', resolver)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('refuses a name that resolves to a refused address, even with *', async () => {
    const policy = createLoadTestPolicy(['*'], () => [5000]);
    await expect(assertTargetAllowed(policy, 'http://rebind.example:5432/', 'target', resolver)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('rebind.example (127.0.0.1)') });
    await expect(assertTargetAllowed(policy, 'http://meta.example/', 'target', resolver)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('link-local') });
    // A name that does not resolve is left to the load test, which reports the client's error.
    await expect(assertTargetAllowed(policy, 'http://nowhere.example/', 'target', resolver)).resolves.toBeUndefined();
  });
});
