/** Posts alert notifications as JSON (undici), with a timeout; the de-duplication key travels as `Idempotency-Key`. */
import { request } from 'undici';

/** The JSON body a webhook receives. */
export interface WebhookPayload {
  dedupKey: string;
  status: 'firing' | 'resolved';
  rule: { id: string; name: string; model: string; figure: string; comparison: string; threshold: number; forWindows: number };
  value: number | null;
  windowStart: number | null;
  time: number;
}

/** Sends one notification; never throws. */
export async function deliverWebhook(url: string, payload: WebhookPayload, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': payload.dedupKey, 'user-agent': 'slipway-monitoring' },
      body: JSON.stringify(payload),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
    return { ok: false, error: `HTTP ${res.statusCode}` };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
