/**
 * INT64/UINT64 values beyond 2^53 travel exactly through `slipway serve` over real HTTP:
 * into the model from JSON (V2 and MLflow) and back out as exact JSON integers, over both the
 * plain JSON V2 fast route and the binary-extension and MLflow routes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityFile } from './support/serving.js';
import { servedAddress } from './support/serve-process.js';

const cli = resolve(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const BIG = '9007199254740993';
const MIN = '-9223372036854775808';
const MAX = '9223372036854775807';
const MAX_U = '18446744073709551615';

describe('64-bit integers through slipway serve', () => {
  let child: ChildProcess | undefined;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first.`);
    const proc = spawn(process.execPath, [cli, 'serve', identityFile(['INT64', 'UINT64']), '--name', 'ids', '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SLIPWAY_HOME: join(tmpdir(), 'slipway-serve-int64') },
    });
    child = proc;
    url = await servedAddress(proc).then((info) => info.url);
  }, 30_000);
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  const post = async (path: string, body: string, type = 'application/json') => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    return { status: res.status, text: await res.text() };
  };

  it('hands V2 JSON inputs beyond 2^53 to the model exactly', async () => {
    const body = `{"inputs": [{"name": "in_INT64", "datatype": "INT64", "shape": [2, 2], "data": [${BIG}, ${MIN}, ${MAX}, -3]}, {"name": "in_UINT64", "datatype": "UINT64", "shape": [2, 2], "data": [${MAX_U}, ${BIG}, 0, 7]}], "parameters": {"binary_data_output": true}}`;
    const res = await fetch(`${url}/v2/models/ids/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const head = Number(res.headers.get('inference-header-content-length'));
    const header = JSON.parse(bytes.subarray(0, head).toString()) as { outputs: Array<{ name: string; parameters: { binary_data_size: number } }> };
    expect(header.outputs.map((o) => [o.name, o.parameters.binary_data_size])).toEqual([
      ['out_INT64', 32],
      ['out_UINT64', 32],
    ]);
    const tail = bytes.subarray(head);
    expect([...new BigInt64Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 32))].map(String)).toEqual([BIG, MIN, MAX, '-3']);
    expect([...new BigUint64Array(tail.buffer.slice(tail.byteOffset + 32, tail.byteOffset + 64))].map(String)).toEqual([MAX_U, BIG, '0', '7']);
  });

  it('writes V2 outputs beyond 2^53 as exact JSON integers', async () => {
    const values = BigInt64Array.from([BigInt(BIG), BigInt(MIN), BigInt(MAX), -3n]);
    const unsigned = BigUint64Array.from([BigInt(MAX_U), BigInt(BIG), 0n, 7n]);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'in_INT64', datatype: 'INT64', shape: [2, 2], parameters: { binary_data_size: 32 } },
          { name: 'in_UINT64', datatype: 'UINT64', shape: [2, 2], parameters: { binary_data_size: 32 } },
        ],
      }),
    );
    const res = await fetch(`${url}/v2/models/ids/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(values.buffer), Buffer.from(unsigned.buffer)]),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(text).toContain(`"name":"out_INT64","datatype":"INT64","shape":[2,2],"data":[${BIG},${MIN},${MAX},-3]`);
    expect(text).toContain(`"name":"out_UINT64","datatype":"UINT64","shape":[2,2],"data":[${MAX_U},${BIG},0,7]`);
  });

  it('answers a plain JSON V2 request with exact integers in and out', async () => {
    const res = await post('/v2/models/ids/infer', `{"inputs": [{"name": "in_INT64", "datatype": "INT64", "shape": [1, 2], "data": [${BIG}, ${MIN}]}, {"name": "in_UINT64", "datatype": "UINT64", "shape": [1, 2], "data": [${MAX_U}, 1]}]}`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain(`"name":"out_INT64","datatype":"INT64","shape":[1,2],"data":[${BIG},${MIN}]`);
    expect(res.text).toContain(`"name":"out_UINT64","datatype":"UINT64","shape":[1,2],"data":[${MAX_U},1]`);
  });

  it('reads MLflow JSON inputs and writes predictions beyond 2^53 exactly', async () => {
    const res = await post('/invocations', `{"inputs": {"in_INT64": [[${BIG}, ${MIN}]], "in_UINT64": [[${MAX_U}, 1]]}}`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe(`{"predictions":{"out_INT64":[[${BIG},${MIN}]],"out_UINT64":[[${MAX_U},1]]}}`);
  });

  it('still refuses values outside the datatype range with a 400 naming the element', async () => {
    const res = await post('/v2/models/ids/infer', `{"inputs": [{"name": "in_INT64", "datatype": "INT64", "shape": [1, 2], "data": [${MAX}0, 1]}, {"name": "in_UINT64", "datatype": "UINT64", "shape": [1, 2], "data": [1, -1]}]}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toBe(`Input 'in_INT64' element 0 (${MAX}0) is outside the INT64 range.`);
  });
});
