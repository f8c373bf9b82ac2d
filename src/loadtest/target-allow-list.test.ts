import { describe, expect, it } from 'vitest';
import { assertTargetAllowed, createTargetAllowList } from './target-allow-list.js';

describe('load-test target allow-list', () => {
  it('allows loopback hosts and refuses everything else by default', () => {
    const list = createTargetAllowList();
    for (const host of ['127.0.0.1', '127.4.5.6', '[::1]', '::1', 'localhost', 'LOCALHOST.', '[::ffff:7f00:1]']) expect(list.allows(host), host).toBe(true);
    for (const host of ['10.0.0.1', '0.0.0.0', '[::]', '169.254.169.254', 'example.com', 'localhost.example.com', '[::ffff:a00:1]']) expect(list.allows(host), host).toBe(false);
  });

  it('allows the names, sub-domains, addresses and ranges an operator lists', () => {
    const list = createTargetAllowList(['models.internal', '*.example.com', '192.0.2.7', '10.0.0.0/8', '[fd00::]/8']);
    for (const host of ['models.internal', 'MODELS.INTERNAL', 'a.example.com', 'b.c.example.com', '192.0.2.7', '10.200.3.4', '[fd12::1]', '127.0.0.1']) expect(list.allows(host), host).toBe(true);
    for (const host of ['example.com', 'other.internal', '192.0.2.8', '11.0.0.1', '[fe80::1]']) expect(list.allows(host), host).toBe(false);
    expect(createTargetAllowList(['*']).allows('anything.example.org')).toBe(true);
  });

  it.each(['http://example.com', '10.0.0.0/33', 'not a host', '1.2.3.4/x', 'a..b'])('rejects the entry %j naming it and the option', (entry) => {
    expect(() => createTargetAllowList([entry])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(new RegExp(`'${entry.replace(/[.*/]/g, '\\$&')}'.*loadtestAllowedHosts`)) }));
  });

  it('refuses a URL whose host is not allowed with 403 naming the host and the option', () => {
    const list = createTargetAllowList();
    expect(() => assertTargetAllowed(list, 'http://127.0.0.1:9/x', 'target')).not.toThrow();
    expect(() => assertTargetAllowed(list, 'http://10.1.2.3:5000/', 'server', 'http://10.1.2.3:5000')).not.toThrow();
    let caught: unknown;
    try {
      assertTargetAllowed(list, 'http://Metadata.Example:80/v2/models/m/infer', 'target');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'PERMISSION_DENIED', status: 403, message: expect.stringContaining("target host 'metadata.example' is not allowed") });
    expect((caught as Error).message).toContain('SLIPWAY_LOADTEST_ALLOWED_HOSTS');
    // Not a URL: left to the option checks (400 there).
    expect(() => assertTargetAllowed(list, 'not a url', 'target')).not.toThrow();
  });
});
