/**
 * The UI shell in a real browser: `/` loads the app with its assets compressed and cached,
 * the navigation works from the keyboard, an unknown page says so, and axe finds nothing
 * serious.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the UI shell', () => {
  it('serves the app at / with a strict page policy, and hashed bundles compressed with a year of caching', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`, { headers: { 'accept-encoding': 'br' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-encoding')).toBe('br');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const again = await fetch(`${server.url}${script}`, { headers: { 'if-none-match': asset.headers.get('etag') as string } });
    expect(again.status).toBe(304);
    const missing = await fetch(`${server.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('No UI asset /assets/nope.js');
  });

  it('opens on the experiments, moves between sections from the keyboard, and names an unknown page', async () => {
    const ui = await openPage(browser, `${server.url}/`);
    try {
      await ui.page.waitForURL(/#\/experiments/);
      await ui.page.keyboard.press('Tab');
      await expect.poll(() => ui.page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
      await ui.page.getByRole('link', { name: 'Models' }).focus();
      await ui.page.keyboard.press('Enter');
      await ui.page.waitForURL(/#\/models$/);
      expect(await ui.page.getByRole('link', { name: 'Models' }).getAttribute('aria-current')).toBe('page');
      await ui.page.goto(`${server.url}/#/no/such/page`);
      await expect.poll(() => ui.page.getByRole('alert').textContent()).toContain('There is no page at /no/such/page');
      expect(describeViolations(await seriousA11yViolations(ui.page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
