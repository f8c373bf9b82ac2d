/**
 * Posts alert notifications as JSON (undici), with a timeout; the de-duplication key
 * travels as `Idempotency-Key`. Every delivery goes through the outbound policy: the URL
 * before sending, and each address its host resolves to right before connecting (so a
 * name rebound to a metadata or loopback address is refused). Redirects are never followed.
 */
import { lookup } from 'node:dns/promises';
import { Agent, request } from 'undici';
import { createOutboundPolicy, policyLookup, portOf, type HostResolver, type OutboundPolicy } from '../../core/outbound-policy.js';

/** How an operator names the option that widens where webhooks may go, for messages. */
export const WEBHOOK_HOSTS_OPTION = 'outboundAllowedHosts (env SLIPWAY_OUTBOUND_ALLOWED_HOSTS, or server.outboundAllowedHosts in slipway.yaml)';

/**
 * The webhook policy: public hosts on any port; loopback, private and link-local
 * addresses only when `entries` list them (see `parseHostAllowList`).
 */
export function createWebhookPolicy(entries: readonly string[] = []): OutboundPolicy {
  return createOutboundPolicy({ what: 'Alert webhooks', option: WEBHOOK_HOSTS_OPTION, allowedHosts: entries, allowPublic: true });
}

const DEFAULT_POLICY = createWebhookPolicy();
const systemResolver: HostResolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** The JSON body a webhook receives. */
export interface WebhookPayload {
  dedupKey: string;
  status: 'firing' | 'resolved';
  rule: { id: string; name: string; model: string; figure: string; comparison: string; threshold: number; forWindows: number };
  value: number | null;
  windowStart: number | null;
  time: number;
}

/**
 * The JSON body a webhook receives when a release's rollout rolled back on its own (a live-analysis
 * breach, a restart, a challenger that failed): sent to the webhooks of the model's alert rules.
 */
export interface ReleaseRolledBackPayload {
  kind: 'release_rolled_back';
  dedupKey: string;
  release: { id: string; model: string; environment: string; version: string; championVersion: string | null };
  reason: string;
  /** The analysis or error that decided it. */
  evidence: Record<string, unknown>;
  time: number;
}

/** Where a webhook may go and how host names resolve (tests inject a resolver). */
export interface WebhookDelivery {
  policy?: OutboundPolicy;
  resolve?: HostResolver;
}

/** Sends one notification; never throws. */
export async function deliverWebhook(url: string, payload: WebhookPayload | ReleaseRolledBackPayload, timeoutMs: number, delivery: WebhookDelivery = {}): Promise<{ ok: true } | { ok: false; error: string }> {
  const policy = delivery.policy ?? DEFAULT_POLICY;
  let dispatcher: Agent | undefined;
  try {
    // Checked again at send time: the rule may predate the policy, or the policy may have narrowed.
    const target = policy.checkUrl(url, 'webhookUrl');
    dispatcher = new Agent({ connections: 1, connect: { lookup: policyLookup(policy, portOf(target), delivery.resolve ?? systemResolver), timeout: timeoutMs } });
    const res = await request(target, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'idempotency-key': payload.dedupKey, 'user-agent': 'slipway-monitoring' },
      body: JSON.stringify(payload),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
    const location = res.headers.location;
    if (res.statusCode >= 300 && res.statusCode < 400 && location !== undefined) {
      return { ok: false, error: `HTTP ${res.statusCode}: the redirect to '${String(location)}' was not followed; configure the final URL as the webhook.` };
    }
    return { ok: false, error: `HTTP ${res.statusCode}` };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    void dispatcher?.destroy().catch(() => {});
  }
}
