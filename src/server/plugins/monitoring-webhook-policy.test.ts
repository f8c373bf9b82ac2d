/** Alert rules created over the HTTP API follow the server's outbound policy (outboundAllowedHosts). */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../native/native-api.test-support.js';

const rule = { name: 'rows-high', model: 'bc', figure: 'rows', comparison: '>', threshold: 1 };

describe('POST /api/v1/monitoring/alerts webhook destinations', () => {
  const t = useTestApp();

  it('answers 400 for a cloud metadata webhook, naming the host and the option', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/monitoring/alerts', payload: { ...rule, webhookUrl: 'http://169.254.169.254/latest/' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining("'169.254.169.254'"), details: { field: 'webhookUrl', host: '169.254.169.254' } } });
    expect(res.body).toContain('SLIPWAY_OUTBOUND_ALLOWED_HOSTS');
  });

  it('answers 400 for a loopback webhook by default and accepts a public one', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/monitoring/alerts', payload: { ...rule, webhookUrl: 'http://127.0.0.1:5432/' } })).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/monitoring/alerts', payload: { ...rule, webhookUrl: 'https://hooks.example.com/alert' } })).statusCode).toBe(201);
  });
});
