/**
 * Signing in and out with access control on: the login page instead of the browser's own
 * password dialog, the messages a failed sign-in shows, a session shared by the browser's
 * tabs, a sign-out that revokes the token, and no redirect away from the UI after signing in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer({ auth: true }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The token the UI keeps for its session, read as a user's devtools would. */
async function storedToken(page: Page): Promise<string | undefined> {
  return await page.evaluate(() => {
    const raw = window.localStorage.getItem('slipway.session');
    return raw ? (JSON.parse(raw) as { token: string }).token : undefined;
  });
}

describe('signing in with access control on', () => {
  it("refuses the UI's requests without a Basic challenge, so the browser never opens its own password dialog", async () => {
    const fromUi = await fetch(`${server.url}/api/v1/experiments`, { headers: { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' } });
    expect(fromUi.status).toBe(401);
    expect(fromUi.headers.get('www-authenticate')).toBeNull();
    const fromScript = await fetch(`${server.url}/api/v1/experiments`);
    expect(fromScript.status).toBe(401);
    expect(fromScript.headers.get('www-authenticate')).toBe('Basic realm="slipway"');
    const health = await fetch(`${server.url}/api/v1/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', auth: true });
  });

  it('sends a visitor to the login page, signs in after a wrong password, keeps the session in a new tab and signs out', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments`);
    try {
      const { page } = ui;
      await page.waitForURL(/#\/login\?next=%2Fexperiments$/);
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      expect(await page.getByLabel('Username').getAttribute('autocomplete')).toBe('username');
      expect(await page.getByLabel('Password').getAttribute('autocomplete')).toBe('current-password');
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      await signIn(page, 'admin', 'not-the-password');
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong username or password');
      expect(page.url()).toMatch(/#\/login\?next=%2Fexperiments$/);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      await signIn(page, 'admin', ADMIN_PASSWORD);
      await page.waitForURL(/#\/experiments$/);
      await page.getByText('Signed in as admin').waitFor();
      await page.getByRole('heading', { level: 1, name: /experiments/i }).waitFor();
      const token = await storedToken(page);
      expect(token).toMatch(/^slw_/);
      const tokens = await server.client.tokens.list();
      expect(tokens.map((t) => t.name)).toContain('web UI (Chrome on Linux)');

      const second = await ui.context.newPage();
      await second.goto(`${server.url}/#/models`);
      await second.getByText('Signed in as admin').waitFor();
      expect(second.url()).toMatch(/#\/models$/);
      await second.close();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/#\/login/);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await expect.poll(() => page.getByText('Signed in as admin').count()).toBe(0);
      expect(await storedToken(page)).toBeUndefined();
      const revoked = await fetch(`${server.url}/api/v1/experiments`, { headers: { authorization: `Bearer ${token}`, 'x-requested-with': 'XMLHttpRequest' } });
      expect(revoked.status).toBe(401);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('ignores a next address outside the UI after signing in', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/x', '/\\evil.example']) {
      const ui = await openPage(browser, `${server.url}/#/login?next=${encodeURIComponent(next)}`);
      try {
        await signIn(ui.page, 'admin', ADMIN_PASSWORD);
        await ui.page.waitForURL(/#\/experiments$/);
        expect(new URL(ui.page.url()).origin).toBe(server.url);
        await ui.page.getByText('Signed in as admin').waitFor();
        expect(ui.problems()).toEqual([]);
      } finally {
        await ui.close();
      }
    }
  });

  it('goes back to the login page, and then to the page asked for, when the session\'s token is revoked elsewhere', async () => {
    const ui = await openPage(browser, `${server.url}/#/login`);
    try {
      const { page } = ui;
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await page.getByText('Signed in as admin').waitFor();
      const tokenId = await page.evaluate(() => (JSON.parse(window.localStorage.getItem('slipway.session') ?? '{}') as { tokenId?: string }).tokenId);
      await server.client.tokens.revoke(tokenId as string);
      await page.goto(`${server.url}/#/audit?action=token.create`);
      await page.waitForURL(/#\/login\?next=%2Faudit%3Faction%3Dtoken\.create$/);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await page.waitForURL(/#\/audit\?action=token\.create$/);
      await page.getByRole('heading', { level: 1, name: 'Audit trail' }).waitFor();
      await expect.poll(() => page.getByRole('table', { name: 'Audit events, oldest first' }).locator('tbody').getByRole('row').count()).toBeGreaterThan(0);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('says when the server cannot be reached, and when sign-ins are locked after too many failures', async () => {
    const ui = await openPage(browser, `${server.url}/#/login`);
    try {
      const { page } = ui;
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.route('**/api/v1/tokens', (route) => route.abort('connectionrefused'));
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('The server cannot be reached');
      await page.unroute('**/api/v1/tokens');

      // Ten failures from this address lock its sign-ins (last in this file: every later sign-in from loopback is refused
      // for a minute). Credentials the server has cached still work, so the attempt uses a password it has not seen.
      const wrong = `Basic ${Buffer.from('mallory:wrong-password').toString('base64')}`;
      for (let i = 0; i < 10; i++) await fetch(`${server.url}/api/v1/experiments`, { headers: { authorization: wrong } });
      await signIn(page, 'admin', 'a-password-never-tried');
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Too many failed sign-ins.*Try again in \d+ s \(at /);
      expect(page.url()).toMatch(/#\/login/);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});

describe('the login page with access control off', () => {
  let open: UiServer;
  beforeAll(async () => {
    open = await startUiServer();
  });
  afterAll(async () => {
    await open?.stop();
  });

  it('says no sign-in is needed and links to the experiments', async () => {
    const ui = await openPage(browser, `${open.url}/#/login`);
    try {
      await ui.page.getByText('no sign-in is needed').waitFor();
      await ui.page.getByRole('link', { name: 'Go to the experiments' }).click();
      await ui.page.waitForURL(/#\/experiments$/);
      expect(await ui.page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
      expect(describeViolations(await seriousA11yViolations(ui.page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
