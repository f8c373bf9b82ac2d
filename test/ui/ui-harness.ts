/**
 * Browser tests of the web UI: a real `slipway server` process (seeded through the public
 * APIs by each test), driven by Debian's Chromium through playwright-core, with an axe-core
 * accessibility check. Chromium comes from the system (`/usr/bin/chromium`, or
 * `SLIPWAY_TEST_CHROMIUM`); playwright-core never downloads a browser.
 *
 * `SLIPWAY_TEST_UI_DIR` points the server at another UI build than dist/web (used when
 * several builds are tested side by side).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from '../e2e/server-process.js';
import { SlipwayClient } from '../../dist/client/index.js';

/** The Chromium binary the tests drive. */
export const CHROMIUM = process.env.SLIPWAY_TEST_CHROMIUM ?? '/usr/bin/chromium';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** A running server for UI tests, with an SDK client to seed it. */
export interface UiServer {
  url: string;
  client: SlipwayClient;
  process: ServerProcess;
  home: string;
  stop(): Promise<void>;
}

/** Options of startUiServer. */
export interface UiServerOptions {
  /** Turn access control on; the admin's password is `adminPassword`. */
  auth?: boolean;
  /** Extra `slipway server` arguments. */
  args?: string[];
  /** Extra environment for the server. */
  env?: Record<string, string>;
}

/** The admin password of servers started with `auth: true`. */
export const ADMIN_PASSWORD = 'correct-horse-battery-staple';

/** Starts `slipway server` on a free loopback port in a fresh home. */
export async function startUiServer(opts: UiServerOptions = {}): Promise<UiServer> {
  const home = freshHome();
  const env: Record<string, string> = { ...(opts.env ?? {}) };
  // A test that sets the UI itself (to turn it off, or to serve another folder) keeps its own setting.
  if (process.env.SLIPWAY_TEST_UI_DIR && env.SLIPWAY_UI === undefined) env.SLIPWAY_UI = process.env.SLIPWAY_TEST_UI_DIR;
  if (opts.auth) env.SLIPWAY_ADMIN_PASSWORD = ADMIN_PASSWORD;
  const proc = await startServerProcess(home, [...(opts.auth ? ['--auth'] : []), ...(opts.args ?? [])], 20_000, env);
  const client = new SlipwayClient(opts.auth ? { url: proc.url, username: 'admin', password: ADMIN_PASSWORD } : { url: proc.url });
  return {
    url: proc.url,
    client,
    process: proc,
    home,
    async stop() {
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
      await proc.exited;
      clearTimeout(timer);
      removeHome(home);
    },
  };
}

/** Launches headless Chromium (one per test file). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set SLIPWAY_TEST_CHROMIUM.`);
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'] });
}

/** A page with what went wrong in it recorded: uncaught errors and console errors. */
export interface UiPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught exceptions and console.error lines so far. */
  problems(): string[];
  close(): Promise<void>;
}

/** Opens a fresh browser context (no stored session) on `url`. */
export async function openPage(browser: Browser, url: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<UiPage> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1360, height: 900 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A failed request the page shows as a message is expected in bad-input tests; it is logged by the browser, not the app.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  await page.goto(url);
  return { page, context, problems: () => [...problems], close: () => context.close() };
}

/** One axe-core finding. */
export interface A11yViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (WCAG 2 A and AA rules) in the page and returns the serious and critical
 * violations. axe is evaluated through the DevTools protocol, which the page's CSP does not govern.
 */
export async function seriousA11yViolations(page: Page): Promise<A11yViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A readable list of violations for an assertion message. */
export function describeViolations(violations: A11yViolation[]): string {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.targets.join(', ')}`).join('\n');
}
