/**
 * The `ui` setting on a real server: turned off, GET / is a 404 and the APIs still answer; a
 * folder without a build answers a 404 that names what is missing; a folder holding another
 * build (an index.html and assets/) is served instead of the built-in UI.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUiServer, type UiServer } from './ui-harness.js';

const folders: string[] = [];
let off: UiServer;
let unbuilt: UiServer;
let custom: UiServer;
let unbuiltDir: string;

function tempFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-ui-setting-'));
  folders.push(dir);
  return dir;
}

beforeAll(async () => {
  unbuiltDir = tempFolder();
  const customDir = tempFolder();
  mkdirSync(join(customDir, 'assets'));
  writeFileSync(join(customDir, 'index.html'), '<!doctype html><title>Team build</title><script type="module" src="/assets/team-1a2b3c.js"></script><p>team UI build</p>\n');
  writeFileSync(join(customDir, 'assets', 'team-1a2b3c.js'), 'document.body.dataset.team = "yes";\n');
  [off, unbuilt, custom] = await Promise.all([
    startUiServer({ env: { SLIPWAY_UI: 'false' } }),
    startUiServer({ env: { SLIPWAY_UI: unbuiltDir } }),
    startUiServer({ env: { SLIPWAY_UI: customDir } }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([off?.stop(), unbuilt?.stop(), custom?.stop()]);
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('the ui setting', () => {
  it('false: GET / is a 404 while the APIs answer', async () => {
    const root = await fetch(`${off.url}/`);
    expect(root.status).toBe(404);
    expect(await root.text()).not.toContain('<script');
    expect((await fetch(`${off.url}/assets/index.js`)).status).toBe(404);
    const health = await fetch(`${off.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', auth: false });
    expect((await off.client.experiments.create({ name: 'no-ui' })).name).toBe('no-ui');
  });

  it('a folder without index.html: GET / is a 404 naming the missing build and how to make it', async () => {
    const root = await fetch(`${unbuilt.url}/`);
    expect(root.status).toBe(404);
    expect(root.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await root.text();
    expect(text).toContain(`The Slipway web UI is not built in this installation (no index.html in ${unbuiltDir})`);
    expect(text).toContain('npm run build:web');
    expect((await fetch(`${unbuilt.url}/api/v1/health`)).status).toBe(200);
  });

  it('a folder holding another build: its index.html and assets are served', async () => {
    const root = await fetch(`${custom.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/^text\/html/);
    expect(root.headers.get('cache-control')).toBe('no-cache');
    expect(await root.text()).toContain('team UI build');
    const asset = await fetch(`${custom.url}/assets/team-1a2b3c.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toContain('dataset.team');
    expect((await fetch(`${custom.url}/assets/index.js`)).status).toBe(404);
  });
});
