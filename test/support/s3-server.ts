/**
 * A local S3-compatible server for tests: s3rver in a child process, on a free loopback port, with its files in
 * a temporary folder removed on stop.
 *
 * Why a child process with --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
 * which OpenSSL 3 (Node 17 and later) only offers through its legacy provider; without it every listing that
 * needs a second page answers 500. The flag is confined to that child; nothing of Slipway runs with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The access key pair s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A running local S3 server. */
export interface LocalS3Server {
  endpoint: string;
  port: number;
  /** The environment a Slipway process needs to reach it (endpoint, region, credentials). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

// Runs in the child: starts s3rver with the given buckets and prints its port once listening. s3rver reports a
// common prefix only when an object sits directly below it ('a/' is missing for a lone 'a/b/c'), where S3 reports
// every first-level folder; listing with a delimiter is redone here from the full listing, as S3 answers it.
const RUNNER = `
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';
const listObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function (bucket, options) {
  const { delimiter = '', prefix = '', maxKeys = Infinity, startAfter = '' } = options;
  if (!delimiter) return listObjects.call(this, bucket, options);
  const all = await listObjects.call(this, bucket, { ...options, delimiter: '', maxKeys: Infinity });
  const objects = [];
  const prefixes = new Set();
  let isTruncated = false;
  for (const object of all.objects) {
    const idx = object.key.slice(prefix.length).indexOf(delimiter);
    if (idx !== -1) {
      const common = object.key.slice(0, prefix.length + idx + delimiter.length);
      if (common > startAfter) prefixes.add(common);
    } else if (objects.length < maxKeys) objects.push(object);
    else {
      isTruncated = true;
      break;
    }
  }
  const last = objects[objects.length - 1]?.key;
  const commonPrefixes = [...prefixes].filter((p) => !isTruncated || last === undefined || p < last).sort();
  return { objects, commonPrefixes, isTruncated };
};
// A rejection s3rver leaves unhandled (seen once under heavy load) would end this process and fail every later
// request of the test with ECONNREFUSED; it is logged and answered as that request's failure instead.
process.on('unhandledRejection', (err) => process.stderr.write('s3rver: unhandled rejection: ' + ((err && err.stack) || String(err)) + '\\n'));
// Its filesystem store also throws from a file stream when a client's retried upload of a key races the removal
// of that key (ENOENT on '<key>._S3rver_object', seen under a loaded CI run): real S3 has no such fault, so the
// test server logs it and keeps answering instead of dying with every later request.
process.on('uncaughtException', (err) => process.stderr.write('s3rver: uncaught exception: ' + ((err && err.stack) || String(err)) + '\\n'));
const [dir, buckets] = [process.argv[1], JSON.parse(process.argv[2])];
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
const info = await server.run();
process.stdout.write(JSON.stringify({ port: info.port }) + '\\n');
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
`;

/** Starts s3rver with `buckets` created; `stop` ends it and removes its files. */
export async function startLocalS3(buckets: string[] = ['slipway-test']): Promise<LocalS3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-s3-'));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', RUNNER, dir, JSON.stringify(buckets)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)));
  });
  // A server that dies under a test says why, instead of leaving only connection errors behind.
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`local S3 server on port ${port} exited (${code ?? signal}): ${stderr}\n`);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    async stop() {
      stopping = true;
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
