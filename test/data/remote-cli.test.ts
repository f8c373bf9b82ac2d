import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/local-artifact-store.js';
import { runCli } from '../support/cli.js';
import { startLocalS3 } from '../support/s3-server.js';

const base = mkdtempSync(join(tmpdir(), 'slipway-data-remote-cli-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const YAML = 'data:\n  remote: origin\n  remotes:\n    origin:\n      url: ../remote\n';

/** A workspace with a small file, a folder of small files and a file above the pack threshold. */
function makeWorkspace(name: string, yaml = YAML): string {
  const ws = join(base, name);
  mkdirSync(join(ws, 'data', 'images', 'cats'), { recursive: true });
  writeFileSync(join(ws, 'slipway.yaml'), yaml);
  writeFileSync(join(ws, 'data', 'train.csv'), 'x,y\n1,2\n3,4\n');
  for (let i = 0; i < 20; i++) writeFileSync(join(ws, 'data', 'images', 'cats', `${i}.bin`), `cat ${i} `.repeat(100 + i));
  writeFileSync(join(ws, 'data', 'images', 'readme.txt'), 'images of cats');
  const big = Buffer.alloc(1536 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  writeFileSync(join(ws, 'data', 'weights.bin'), big);
  return ws;
}

/** A fresh folder with the same slipway.yaml and pointer files only, as a git clone would have. */
function cloneOf(ws: string, name: string): string {
  const clone = join(base, name);
  mkdirSync(join(clone, 'data'), { recursive: true });
  cpSync(join(ws, 'slipway.yaml'), join(clone, 'slipway.yaml'));
  for (const f of readdirSync(join(ws, 'data')).filter((n) => n.endsWith('.slipway'))) cpSync(join(ws, 'data', f), join(clone, 'data', f));
  return clone;
}

function filesUnder(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, filesUnder(dir, r));
    else if (!e.name.endsWith('.slipway') && e.name !== '.gitignore') out[r] = readFileSync(join(dir, r)).toString('base64');
  }
  return out;
}

describe('slipway data push / pull', () => {
  let ws: string;
  beforeAll(async () => {
    ws = makeWorkspace('origin-ws');
    const added = await runCli(['data', 'add', 'data/train.csv', 'data/images', 'data/weights.bin'], {}, ws);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
  });

  it('pushes to a folder remote, and a clone with only the pointer files pulls identical bytes', async () => {
    const pushed = await runCli(['data', 'push'], {}, ws);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    // train.csv, 20 images, the readme, the weights and the folder's manifest.
    expect(pushed.stdout).toMatch(/^pushed 24 objects \(1\.\d MiB\) to 'origin' in 1 pack and 1 single object; 0 already there\n$/);

    const clone = cloneOf(ws, 'clone-1');
    const pulled = await runCli(['data', 'pull'], {}, clone);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    // The pack indexes kept locally stay out of git.
    expect(readFileSync(join(clone, '.slipway', 'remotes', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
    expect(pulled.stdout).toMatch(/^fetched 24 objects \(1\.\d MiB\) from 'origin' \(1 pack read\); 0 already in the cache\nchecked out 3 paths; 0 unchanged\n$/);
    expect(filesUnder(join(clone, 'data'))).toEqual(filesUnder(join(ws, 'data')));
  });

  it('transfers nothing on a second push, and says so in JSON', async () => {
    const again = await runCli(['data', 'push', '--json'], {}, ws);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ remote: 'origin', objects: 24, transferred: 0, bytes: 0, alreadyPresent: 24, packsWritten: 0 });
  });

  it('pulls only the named path', async () => {
    const clone = cloneOf(ws, 'clone-2');
    const pulled = await runCli(['data', 'pull', 'data/train.csv', '--json'], {}, clone);
    expect(pulled.code).toBe(0);
    const out = JSON.parse(pulled.stdout) as { fetch: { transferred: number }; checkout: Array<{ path: string; result: string }> };
    expect(out.fetch.transferred).toBe(1);
    expect(out.checkout).toEqual([expect.objectContaining({ path: 'data/train.csv', result: 'restored' })]);
    expect(readFileSync(join(clone, 'data', 'train.csv'), 'utf8')).toBe('x,y\n1,2\n3,4\n');
    expect(existsSync(join(clone, 'data', 'weights.bin'))).toBe(false);
  });

  it('reports an object whose bytes were damaged on the remote, exits 1 and restores the rest', async () => {
    const remoteDir = join(base, 'remote-damaged');
    cpSync(join(base, 'remote'), remoteDir, { recursive: true });
    const store = new LocalArtifactStore(remoteDir);
    const pack = (await store.list('data/packs')).find((e) => e.path.endsWith('.pack'))?.path as string;
    const blob = await store.localPath(pack);
    chmodSync(blob, 0o644);
    const bytes = readFileSync(blob);
    bytes[5] = (bytes[5] as number) ^ 0xff;
    writeFileSync(blob, bytes);

    const clone = cloneOf(ws, 'clone-3');
    writeFileSync(join(clone, 'slipway.yaml'), YAML.replace('../remote', '../remote-damaged'));
    const pulled = await runCli(['data', 'pull'], {}, clone);
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toMatch(/error: 1 object on remote 'origin' is corrupt \(content does not match the digest\) and was not stored: [0-9a-f]{64}\./);
    // The damaged object belongs to one path, which stays out; the others are whole.
    expect(readFileSync(join(clone, 'data', 'weights.bin')).equals(readFileSync(join(ws, 'data', 'weights.bin')))).toBe(true);
    expect(pulled.stderr.match(/^error: /gm)?.length).toBeGreaterThanOrEqual(2);
  });

  it('names the objects missing on the remote and exits 1', async () => {
    const other = makeWorkspace('other-ws', YAML.replace('../remote', '../remote-other'));
    await runCli(['data', 'add', 'data/train.csv', 'data/weights.bin'], {}, other);
    expect((await runCli(['data', 'push', 'data/train.csv'], {}, other)).code).toBe(0);
    const clone = cloneOf(other, 'clone-4');
    const pulled = await runCli(['data', 'fetch'], {}, clone);
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toMatch(/^error: 1 object is missing on remote 'origin': [0-9a-f]{64}; push them from a workspace that has them\.\n$/);
    expect(pulled.stdout).toMatch(/^fetched 1 object /);
  });
});

describe('slipway data push / pull: configuration', () => {
  it('refuses a pull from a remote folder that does not exist, and push creates it', async () => {
    const ws = makeWorkspace('missing-remote', YAML.replace('../remote', '../never-pushed'));
    const pulled = await runCli(['data', 'pull'], {}, ws);
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toBe(`error: Remote 'origin' folder ${join(base, 'never-pushed')} does not exist: nothing was pushed there yet, or data.remotes.origin.url in slipway.yaml is wrong.\n`);
    await runCli(['data', 'add', 'data/train.csv'], {}, ws);
    expect((await runCli(['data', 'push'], {}, ws)).code).toBe(0);
    expect(existsSync(join(base, 'never-pushed'))).toBe(true);
  });

  it('pushes to an s3:// remote and a clone pulls identical bytes; a missing bucket is exit 2 naming the setting', async () => {
    const s3 = await startLocalS3(['slipway-data-cli']);
    try {
      const ws = makeWorkspace('s3', 'data:\n  remotes:\n    cloud:\n      url: s3://slipway-data-cli/team\n');
      expect((await runCli(['data', 'add', 'data/train.csv', 'data/images', 'data/weights.bin'], s3.env, ws)).code).toBe(0);
      const pushed = await runCli(['data', 'push'], s3.env, ws);
      expect(pushed.stderr).toBe('');
      expect(pushed.code).toBe(0);
      expect(pushed.stdout).toMatch(/^pushed 24 objects \(1\.\d MiB\) to 'cloud'/);
      const clone = cloneOf(ws, 's3-clone');
      const pulled = await runCli(['data', 'pull'], s3.env, clone);
      expect(pulled.stderr).toBe('');
      expect(pulled.code).toBe(0);
      expect(filesUnder(join(clone, 'data'))).toEqual(filesUnder(join(ws, 'data')));

      writeFileSync(join(ws, 'slipway.yaml'), 'data:\n  remotes:\n    cloud:\n      url: s3://no-such-bucket/team\n');
      const refused = await runCli(['data', 'push'], s3.env, ws);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^error: Cannot reach the bucket: the bucket 'no-such-bucket' does not exist at .* create it or correct s3:\/\/no-such-bucket\/team \(data\.remotes\.cloud\.url in slipway\.yaml\)\.\n$/);
    } finally {
      await s3.stop();
    }
  }, 60_000);

  it('shows the YAML to add when no remote is configured, with exit 2', async () => {
    const ws = makeWorkspace('no-remote', 'stages: {}\n');
    const pushed = await runCli(['data', 'fetch'], {}, ws);
    expect(pushed.code).toBe(2);
    expect(pushed.stderr).toBe('error: No data remote is configured; add one to slipway.yaml, e.g. data: { remote: origin, remotes: { origin: { url: ../data-remote } } }\n');
    // A refused command leaves nothing behind.
    expect(existsSync(join(ws, '.slipway'))).toBe(false);
  });

  it('refuses an unknown --remote and a bad --jobs with exit 2', async () => {
    const ws = makeWorkspace('bad-flags');
    const unknown = await runCli(['data', 'push', '--remote', 'backup'], {}, ws);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("error: --remote backup names no remote in slipway.yaml's data.remotes (known: origin).\n");
    const jobs = await runCli(['data', 'push', '--jobs', '0'], {}, ws);
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toMatch(/--jobs must be a positive integer/);
  });

  it('refuses a path outside the workspace with exit 2', async () => {
    const ws = makeWorkspace('outside');
    const pushed = await runCli(['data', 'push', '../elsewhere'], {}, ws);
    expect(pushed.code).toBe(2);
    expect(pushed.stderr).toMatch(/^error: '..\/elsewhere' is outside the workspace/);
  });
});

describe('slipway data push and fetch with --rev', () => {
  it('shares an older version a git revision names, so a clone checks it out from its cache alone', async () => {
    const ws = join(base, 'rev-ws');
    mkdirSync(ws, { recursive: true });
    const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=Test', ...args], { cwd, encoding: 'utf8' });
    git(ws, 'init', '-q', '-b', 'main');
    writeFileSync(join(ws, 'slipway.yaml'), 'data:\n  remotes:\n    origin: ../rev-remote\n');
    writeFileSync(join(ws, 'table.csv'), 'v,1\n');
    expect((await runCli(['data', 'add', 'table.csv'], {}, ws)).code).toBe(0);
    git(ws, 'add', '.');
    git(ws, 'commit', '-q', '-m', 'v1');
    writeFileSync(join(ws, 'table.csv'), 'v,2\n');
    expect((await runCli(['data', 'add', 'table.csv'], {}, ws)).code).toBe(0);
    git(ws, 'commit', '-q', '-am', 'v2');

    const current = JSON.parse((await runCli(['data', 'push', '--json'], {}, ws)).stdout) as { transferred: number };
    expect(current.transferred).toBe(1);
    const older = JSON.parse((await runCli(['data', 'push', '--rev', 'HEAD~1', '--json'], {}, ws)).stdout) as { transferred: number; alreadyPresent: number };
    expect(older).toMatchObject({ transferred: 1, alreadyPresent: 1 });

    const clone = join(base, 'rev-clone');
    execFileSync('git', ['clone', '-q', ws, clone]);
    const fetched = JSON.parse((await runCli(['data', 'fetch', '--rev', 'HEAD~1', '--json'], {}, clone)).stdout) as { transferred: number };
    expect(fetched.transferred).toBe(2);
    rmSync(join(base, 'rev-remote'), { recursive: true, force: true });
    git(clone, 'checkout', '-q', 'HEAD~1', '--', 'table.csv.slipway');
    expect((await runCli(['data', 'checkout'], {}, clone)).code).toBe(0);
    expect(readFileSync(join(clone, 'table.csv'), 'utf8')).toBe('v,1\n');

    const bad = await runCli(['data', 'push', '--rev', 'no-such-revision'], {}, ws);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no-such-revision');
  });
});
