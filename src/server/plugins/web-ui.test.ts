/**
 * The web UI's files: only the files of the build are ever answered, whatever the request
 * path (dot segments, encoded slashes, query strings), and the shell carries the UI's
 * content security policy.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';
import { UI_CONTENT_SECURITY_POLICY } from './web-ui.js';

const root = mkdtempSync(join(tmpdir(), 'slipway-web-ui-'));
const build = join(root, 'build');
let t: TestApp;

beforeAll(async () => {
  mkdirSync(join(build, 'assets'), { recursive: true });
  writeFileSync(join(build, 'index.html'), '<!doctype html><title>Slipway</title><script type="module" src="/assets/app-1.js"></script>');
  writeFileSync(join(build, 'assets', 'app-1.js'), 'console.log("app");');
  writeFileSync(join(root, 'secret.txt'), 'not part of the build');
  writeFileSync(join(build, 'assets', 'secret.txt.br'), 'compressed sibling only');
  t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number], undefined, { ui: build });
}, 30_000);
afterAll(async () => {
  await t?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the web UI files', () => {
  it('answers the shell with its policy and a bundle, with or without a query string', async () => {
    const shell = await t.app.inject({ url: '/' });
    expect(shell.statusCode).toBe(200);
    expect(shell.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
    expect((await t.app.inject({ url: '/assets/app-1.js?v=2' })).body).toBe('console.log("app");');
  });

  it('never answers a file outside the build, whatever the path says', async () => {
    const paths = [
      '/assets/../secret.txt',
      '/assets/../../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/assets//../../secret.txt',
      '/assets/secret.txt',
      '/assets/secret.txt.br',
      '/assets/app-1.js%00.html',
      '/assets/',
      '/%2e%2e/secret.txt',
      '/assets/../index.html',
    ];
    for (const url of paths) {
      const res = await t.app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).not.toContain('not part of the build');
      expect(res.body, url).not.toContain('compressed sibling');
    }
  });
});
