import { describe, expect, it } from 'vitest';
import { classifyAddress, createOutboundPolicy, parseHostAllowList, resolveAllowed, withoutForbiddenHeaders, type HostResolver, type OutboundPolicyOptions } from './outbound-policy.js';

const OPTION = 'outboundAllowedHosts (env SLIPWAY_OUTBOUND_ALLOWED_HOSTS)';
const policy = (over: Partial<OutboundPolicyOptions> = {}) => createOutboundPolicy({ what: 'Alert webhooks', option: OPTION, allowedHosts: [], allowPublic: true, ...over });
const fakeDns =
  (table: Record<string, string[]>): HostResolver =>
  async (name) =>
    (table[name] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

function refusal(fn: () => unknown): { code?: string; status?: number; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; status?: number; message: string };
  }
  throw new Error('expected a refusal');
}

describe('outbound policy', () => {
  it('classifies loopback, link-local (metadata), private and public addresses, IPv4-mapped ones too', () => {
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1'].map(classifyAddress)).toEqual(['loopback', 'loopback', 'loopback']);
    expect(['169.254.169.254', 'fd00:ec2::254', 'fe80::1', '::ffff:169.254.169.254', '[::ffff:a9fe:a9fe]'].map(classifyAddress)).toEqual(Array(5).fill('link-local'));
    expect(['10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', '0.0.0.0', '::', 'fd12::1'].map(classifyAddress)).toEqual(Array(7).fill('private'));
    expect(['93.184.216.34', '2606:4700::1111'].map(classifyAddress)).toEqual(['public', 'public']);
  });

  it('refuses cloud metadata by address and by name, even with *, naming the host and the option', () => {
    const any = policy({ allowedHosts: ['*'] });
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://[::ffff:169.254.169.254]/', 'http://metadata.google.internal/computeMetadata/v1/']) {
      const err = refusal(() => any.checkUrl(url, 'webhookUrl'));
      expect(err, url).toMatchObject({ code: 'PERMISSION_DENIED', status: 403 });
      expect(err.message).toContain(OPTION);
    }
    expect(refusal(() => policy().checkUrl('http://169.254.169.254/')).message).toContain("host '169.254.169.254' port 80");
    // An address entry is the explicit way to allow one.
    expect(() => policy({ allowedHosts: ['169.254.169.254'] }).checkUrl('http://169.254.169.254/')).not.toThrow();
  });

  it('allows only http and https', () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'not a url']) {
      expect(refusal(() => policy().checkUrl(url)), url).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('never echoes a password from a URL it refuses', () => {
    const err = refusal(() => policy().checkUrl('http://ops:S3cretPW@bad host.example/hook'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).not.toContain('S3cretPW');
    expect(err.message).toContain('ops:***@');
  });

  it('lets webhooks reach public hosts but not loopback or private ones unless listed', () => {
    const p = policy();
    expect(() => p.checkUrl('https://hooks.example.com/alert')).not.toThrow();
    expect(() => p.checkUrl('http://93.184.216.34:8443/')).not.toThrow();
    for (const url of ['http://127.0.0.1:9000/', 'http://localhost:9000/', 'http://10.0.0.5/', 'http://[::1]/', 'http://0.0.0.0:80/']) expect(refusal(() => p.checkUrl(url)), url).toMatchObject({ code: 'PERMISSION_DENIED' });
    const listed = policy({ allowedHosts: ['127.0.0.1:9000', '10.0.0.0/8', 'hooks.internal'] });
    expect(() => listed.checkUrl('http://127.0.0.1:9000/')).not.toThrow();
    expect(() => listed.checkUrl('http://127.0.0.1:9001/')).toThrow(/port 9001/);
    expect(() => listed.checkUrl('http://10.9.8.7/')).not.toThrow();
    expect(() => listed.checkAddress('hooks.internal', '10.1.1.1', 80)).not.toThrow();
  });

  it('lets load tests reach only their own loopback port and listed hosts', () => {
    const p = policy({ what: 'Load tests', allowPublic: false, ownPorts: () => [5000], allowedHosts: ['127.0.0.1:8001', 'models.internal'] });
    expect(() => p.checkUrl('http://127.0.0.1:5000/v2/models/m/infer')).not.toThrow();
    expect(() => p.checkUrl('http://localhost:5000/')).not.toThrow();
    expect(() => p.checkUrl('http://127.0.0.1:8001/')).not.toThrow();
    expect(() => p.checkUrl('http://models.internal:8080/')).not.toThrow();
    for (const url of ['http://127.0.0.1:5432/', 'http://localhost:6379/', 'http://[::1]:5432/', 'http://127.0.0.2:22/', 'http://example.com/', 'http://93.184.216.34/']) {
      expect(refusal(() => p.checkUrl(url)), url).toMatchObject({ code: 'PERMISSION_DENIED' });
    }
    // `*` opens other hosts, not other services on loopback.
    const any = policy({ allowPublic: false, allowedHosts: ['*'], ownPorts: () => [5000] });
    expect(() => any.checkUrl('http://example.com/')).not.toThrow();
    expect(() => any.checkUrl('http://127.0.0.1:5432/')).toThrow(/5432/);
  });

  it('checks the addresses a name resolves to: a public-looking name pointing at metadata or loopback is refused', async () => {
    const dns = fakeDns({ 'rebind.example': ['93.184.216.34', '169.254.169.254'], 'local.example': ['127.0.0.1'], 'ok.example': ['93.184.216.34'], 'hooks.internal': ['169.254.169.254'] });
    const p = policy({ allowedHosts: ['hooks.internal'] });
    await expect(resolveAllowed(p, 'rebind.example', 80, dns)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('rebind.example (169.254.169.254)') });
    await expect(resolveAllowed(p, 'local.example', 80, dns)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(resolveAllowed(p, 'ok.example', 443, dns)).resolves.toEqual([{ address: '93.184.216.34', family: 4 }]);
    // A listed name is trusted with private addresses, never with link-local ones.
    await expect(resolveAllowed(p, 'hooks.internal', 80, dns)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it.each(['http://example.com', '10.0.0.0/33', '10.0.0.0/8:80', 'not a host', '1.2.3.4/x', 'a..b', 'host:0', 'host:99999', '[::1'])('rejects the entry %j naming it and the option', (entry) => {
    expect(() => parseHostAllowList([entry], OPTION)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`'${entry}' in ${OPTION}`) }));
  });

  it('parses names, wildcards, addresses, ranges and ports', () => {
    const list = parseHostAllowList(['models.internal', '*.example.com:8443', '192.0.2.7', '10.0.0.0/8', '[fd00::]/8', '[::1]:9000', 'localhost:7000', '  '], OPTION);
    expect(list.allowsName('MODELS.INTERNAL.', 1)).toBe(true);
    expect(list.allowsName('a.example.com', 8443)).toBe(true);
    expect(list.allowsName('a.example.com', 443)).toBe(false);
    expect(list.allowsName('example.com', 8443)).toBe(false);
    expect(list.allowsName('localhost', 7000)).toBe(true);
    expect(list.allowsName('localhost', 7001)).toBe(false);
    expect(list.allowsAddress('10.200.3.4', 1)).toBe(true);
    expect(list.allowsAddress('[fd12::1]', 1)).toBe(true);
    expect(list.allowsAddress('::1', 9000)).toBe(true);
    expect(list.allowsAddress('::1', 9001)).toBe(false);
    expect(list.allowsAddress('192.0.2.8', 1)).toBe(false);
    expect(list.any).toBe(false);
  });

  it('drops caller headers that would address another host or change the framing', () => {
    expect(withoutForbiddenHeaders({ Host: 'evil.example', 'x-trace': 'a', Connection: 'close', 'Transfer-Encoding': 'chunked', 'content-length': '1', authorization: 'Bearer t' })).toEqual({ 'x-trace': 'a', authorization: 'Bearer t' });
  });
});
