import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRemoteStore, remoteIndexCacheDir, resolveRemote } from './remote-config.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'slipway-remote-config-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('resolveRemote', () => {
  it('reads a folder relative to the workspace root, an absolute one and a file:// URL', () => {
    expect(resolveRemote(root, { remotes: { origin: { url: '../shared' } } }).folder).toBe(join(root, '..', 'shared'));
    expect(resolveRemote(root, { remotes: { origin: { url: '/srv/data' } } }).folder).toBe('/srv/data');
    expect(resolveRemote(root, { remotes: { origin: { url: pathToFileURL('/srv/my data').href } } }).folder).toBe('/srv/my data');
  });

  it('uses --remote, else data.remote, else the only remote', () => {
    const config = { remote: 'b', remotes: { a: { url: 'ra' }, b: { url: 'rb' } } };
    expect(resolveRemote(root, config, 'a').name).toBe('a');
    expect(resolveRemote(root, config).name).toBe('b');
    expect(resolveRemote(root, { remotes: { only: { url: 'x' } } }).name).toBe('only');
    expect(() => resolveRemote(root, { remotes: { a: { url: 'ra' }, b: { url: 'rb' } } })).toThrow(/Several data remotes are configured \(a, b\); name one with --remote/);
  });

  it('shows the YAML to add when no remote is configured', () => {
    expect(() => resolveRemote(root, undefined)).toThrow(/No data remote is configured; add one to slipway.yaml, e\.g\. data: \{ remote: origin, remotes: \{ origin: \{ url: /);
  });

  it('names the unknown remote and the known ones', () => {
    expect(() => resolveRemote(root, { remotes: { origin: { url: 'x' } } }, 'backup')).toThrow("--remote backup names no remote in slipway.yaml's data.remotes (known: origin).");
  });

  it('reads s3:// remotes as S3 locations, and refuses malformed ones and other schemes', () => {
    const cloud = resolveRemote(root, { remotes: { cloud: { url: 's3://bucket/data' } } }, undefined, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' });
    expect(cloud).toMatchObject({ name: 'cloud', url: 's3://bucket/data', s3: { bucket: 'bucket', prefix: 'data', forcePathStyle: true, setting: 'data.remotes.cloud.url in slipway.yaml' } });
    expect(() => resolveRemote(root, { remotes: { cloud: { url: 's3://No_Bucket/data' } } }, undefined, {})).toThrow(/not a valid bucket name.*\(data\.remotes\.cloud\.url in slipway\.yaml/);
    expect(() => resolveRemote(root, { remotes: { web: { url: 'https://example.com/data' } } })).toThrow(/scheme 'https:' is not supported/);
    expect(() => resolveRemote(root, { remotes: { web: { url: 'file://otherhost/data' } } })).toThrow(/not a local file:\/\/ URL/);
  });

  it('refuses the workspace itself and its .slipway folder as a remote', () => {
    for (const url of ['.', './', root, '.slipway', '.slipway/remote']) {
      expect(() => resolveRemote(root, { remotes: { origin: { url } } })).toThrow(/is the workspace itself or inside \.slipway\/; use a folder of its own/);
    }
    expect(resolveRemote(root, { remotes: { origin: { url: 'shared-remote' } } }).folder).toBe(join(root, 'shared-remote'));
  });

  it('refuses a name that cannot be a folder name and an empty url', () => {
    expect(() => resolveRemote(root, { remotes: { '../x': { url: 'y' } } })).toThrow(/Remote name '..\/x' is not allowed/);
    expect(() => resolveRemote(root, { remotes: { origin: { url: ' ' } } })).toThrow(/has no url/);
  });
});

describe('openRemoteStore', () => {
  it('creates the folder for a push and refuses a missing one for a fetch', async () => {
    const remote = resolveRemote(root, { remotes: { origin: { url: 'remote' } } });
    await expect(openRemoteStore(remote, 'fetch')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/folder .*remote does not exist: nothing was pushed there yet/) });
    const store = await openRemoteStore(remote, 'push');
    await store.put('data/x', Buffer.from('x'));
    await expect(openRemoteStore(remote, 'fetch')).resolves.toBeDefined();
  });

  it('refuses a file where the folder belongs', async () => {
    writeFileSync(join(root, 'afile'), 'x');
    const remote = resolveRemote(root, { remotes: { origin: { url: 'afile' } } });
    await expect(openRemoteStore(remote, 'push')).rejects.toThrow(/is the file .*afile, not a folder/);
  });

  it('keeps pack indexes under .slipway/remotes/<name>', () => {
    expect(remoteIndexCacheDir(root, 'origin')).toBe(join(root, '.slipway', 'remotes', 'origin', 'packs'));
  });
});
