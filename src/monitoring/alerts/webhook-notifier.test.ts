/**
 * Alert webhooks go only where the outbound policy allows: checked when a rule is
 * created, again when sending, and on the addresses a host name resolves to. Receivers
 * are real HTTP servers on loopback; refused destinations are never connected to (the
 * global dispatcher refuses any network use, so only the policy's own client can send).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getGlobalDispatcher, MockAgent, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { silentLogger } from '../../core/logger.js';
import type { HostResolver } from '../../core/outbound-policy.js';
import type { Store } from '../../store/store.js';
import { AlertEngine } from './alert-engine.js';
import { createAlertRule } from './alert-rules.js';
import { createWebhookPolicy, deliverWebhook, type WebhookPayload } from './webhook-notifier.js';

const payload: WebhookPayload = { dedupKey: 'k1', status: 'firing', rule: { id: 'r', name: 'n', model: 'm', figure: 'rows', comparison: '>', threshold: 1, forWindows: 1 }, value: 2, windowStart: 0, time: 0 };
const rule = { name: 'rows-high', model: 'bc', figure: 'rows', comparison: '>', threshold: 1 };
const resolveTo =
  (address: string): HostResolver =>
  async () => [{ address, family: address.includes(':') ? 6 : 4 }];

interface Receiver {
  server: Server;
  port: number;
  seen: IncomingHttpHeaders[];
}
async function receiver(answer: (res: import('node:http').ServerResponse) => void = (res) => res.writeHead(204).end()): Promise<Receiver> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

describe('alert webhook destinations', () => {
  let previous: Dispatcher;
  let hook: Receiver;
  let other: Receiver;
  let redirecting: Receiver;

  beforeAll(async () => {
    previous = getGlobalDispatcher();
    const offline = new MockAgent();
    offline.disableNetConnect();
    setGlobalDispatcher(offline);
    hook = await receiver();
    other = await receiver();
    redirecting = await receiver((res) => res.writeHead(302, { location: `http://127.0.0.1:${other.port}/` }).end());
  });
  afterAll(async () => {
    setGlobalDispatcher(previous);
    for (const r of [hook, other, redirecting]) await new Promise((done) => r?.server.close(done));
  });

  describe('when a rule is created', () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await (DIALECTS[0] as (typeof DIALECTS)[number]).open());
    });
    afterAll(async () => dispose());

    it.each(['http://169.254.169.254/latest/meta-data/iam/', 'http://[fd00:ec2::254]/', 'http://metadata.google.internal/computeMetadata/v1/', 'http://127.0.0.1:5432/', 'http://localhost:8080/', 'http://10.0.0.8/hook'])('refuses %s with 400 naming the host and the option', async (webhookUrl) => {
      await expect(createAlertRule(store, { ...rule, name: 'refused', webhookUrl }, { time: 1 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        status: 400,
        message: expect.stringMatching(/may not send to webhookUrl host '.+'.*outboundAllowedHosts/),
      });
    });

    it('accepts a public host, and a loopback receiver the operator lists', async () => {
      await expect(createAlertRule(store, { ...rule, name: 'public', webhookUrl: 'https://hooks.example.com/alert' }, { time: 1 })).resolves.toMatchObject({ webhookUrl: 'https://hooks.example.com/alert' });
      const local = createWebhookPolicy([`127.0.0.1:${hook.port}`]);
      await expect(createAlertRule(store, { ...rule, name: 'local', webhookUrl: `http://127.0.0.1:${hook.port}/hook` }, { time: 1 }, local)).resolves.toMatchObject({ name: 'local' });
    });
  });

  describe('when sending', () => {
    it('refuses a metadata address without connecting', async () => {
      const result = await deliverWebhook('http://169.254.169.254/latest/meta-data/', payload, 2000);
      expect(result).toMatchObject({ ok: false, error: expect.stringContaining('link-local') });
    });

    it('refuses a name that resolves to a refused address, and sends to the address a listed name resolves to', async () => {
      const url = `http://rebind.example:${hook.port}/hook`;
      const refused = await deliverWebhook(url, payload, 2000, { policy: createWebhookPolicy(), resolve: resolveTo('127.0.0.1') });
      expect(refused).toMatchObject({ ok: false, error: expect.stringContaining("'rebind.example (127.0.0.1)'") });
      const metadata = await deliverWebhook(url, payload, 2000, { policy: createWebhookPolicy(['*']), resolve: resolveTo('169.254.169.254') });
      expect(metadata).toMatchObject({ ok: false, error: expect.stringContaining('link-local') });
      expect(hook.seen).toHaveLength(0);

      const sent = await deliverWebhook(url, payload, 2000, { policy: createWebhookPolicy([`127.0.0.1:${hook.port}`]), resolve: resolveTo('127.0.0.1') });
      expect(sent).toEqual({ ok: true });
      expect(hook.seen.map((h) => h.host)).toEqual([`rebind.example:${hook.port}`]);
    });

    it('does not follow a redirect, naming where it pointed', async () => {
      const policy = createWebhookPolicy([`127.0.0.1:${redirecting.port}`, `127.0.0.1:${other.port}`]);
      const result = await deliverWebhook(`http://127.0.0.1:${redirecting.port}/hook`, payload, 2000, { policy });
      expect(result).toMatchObject({ ok: false, error: expect.stringContaining(`redirect to 'http://127.0.0.1:${other.port}/' was not followed`) });
      expect(redirecting.seen).toHaveLength(1);
      expect(other.seen).toHaveLength(0);
    });

    it('checks a stored rule again: a webhook the policy no longer allows is not called', async () => {
      const { store, dispose } = await (DIALECTS[0] as (typeof DIALECTS)[number]).open();
      try {
        const before = hook.seen.length;
        // Created while the operator allowed the receiver; the server now runs with the default policy.
        const created = await createAlertRule(store, { ...rule, name: 'was-allowed', webhookUrl: `http://127.0.0.1:${hook.port}/hook` }, { time: 1 }, createWebhookPolicy([`127.0.0.1:${hook.port}`]));
        await store.db.insertInto('monitoring_alert_events').values({ dedup_key: 'd1', rule_id: created.id, kind: 'firing', time: 1, value: 2, window_start: 0, delivered: 0, attempts: 0, last_error: null }).execute();
        const engine = new AlertEngine(store, { now: () => 2 }, silentLogger, 2000, createWebhookPolicy());
        await engine.evaluate('bc');
        const events = await engine.events(created.id);
        expect(events.find((e) => e.dedupKey === 'd1')).toMatchObject({ delivered: false, attempts: 1, lastError: expect.stringContaining('loopback') });
        expect(hook.seen.length).toBe(before);
      } finally {
        await dispose();
      }
    });
  });
});
