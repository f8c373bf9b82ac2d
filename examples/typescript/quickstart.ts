/**
 * Slipway end to end with the TypeScript SDK (`slipway/client`): track a run, register its ONNX
 * model, promote it to `champion` and score a row over the Open Inference Protocol (V2).
 *
 * From the repository root, with a server running (`npm start`, http://127.0.0.1:5000):
 *
 *   npx tsc -p examples/typescript && node examples/typescript/dist/quickstart.js
 *
 * SLIPWAY_SERVER points it at another server. The two arguments, both optional, are the ONNX model
 * and a CSV of rows for it (default: the breast-cancer fixtures under test/fixtures/).
 * Exit codes: 0 done, 1 failure (the error names the call that failed).
 */
import { readFile } from 'node:fs/promises';
import { SlipwayClient, isSlipwayApiError, type Experiment, type RegisteredModel } from 'slipway/client';

const url = process.env.SLIPWAY_SERVER ?? 'http://127.0.0.1:5000';
const [modelFile = 'test/fixtures/breast_cancer_mlp.onnx', rowsFile = 'test/fixtures/breast_cancer_holdout.csv'] = process.argv.slice(2);
const EXPERIMENT = 'breast-cancer-ts';
const MODEL = 'breast-cancer-ts';
const LABEL = 'target';

const slipway = new SlipwayClient({ url });

/** The named experiment, created on the first run of the example. */
async function experiment(name: string): Promise<Experiment> {
  try {
    return await slipway.experiments.getByName(name);
  } catch (err) {
    if (isSlipwayApiError(err) && err.code === 'NOT_FOUND') return slipway.experiments.create({ name, tags: { source: 'examples/typescript' } });
    throw err;
  }
}

/** The registered model, created on the first run of the example. */
async function registeredModel(name: string): Promise<RegisteredModel> {
  try {
    return await slipway.models.get(name);
  } catch (err) {
    if (isSlipwayApiError(err) && err.code === 'NOT_FOUND') return slipway.models.create({ name, description: 'Breast-cancer MLP registered by the TypeScript example.' });
    throw err;
  }
}

/**
 * The column names (without the label) and the first row of a numeric CSV file with a header.
 * Hand-written because the fixtures are plain numbers with no quoting; a CSV library is the
 * choice for anything richer.
 */
async function firstRow(file: string): Promise<{ columns: string[]; row: number[] }> {
  const [header = '', first = ''] = (await readFile(file, 'utf8')).split(/\r?\n/);
  const names = header.split(',');
  const cells = first.split(',');
  const keep = names.flatMap((name, i) => (name === LABEL ? [] : [i]));
  return { columns: keep.map((i) => names[i] ?? ''), row: keep.map((i) => Number(cells[i])) };
}

interface InferResponse {
  model_name: string;
  model_version: string;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
}

/** Scores one row over V2 once the server serves `version` (a new champion loads in the background). */
async function infer(name: string, version: string, row: number[]): Promise<InferResponse> {
  const body = JSON.stringify({ id: 'quickstart', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, row.length], data: row }] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${url}/v2/models/${encodeURIComponent(name)}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (!res.ok) throw new Error(`POST /v2/models/${name}/infer failed with ${res.status}: ${await res.text()}`);
    const answer = (await res.json()) as InferResponse;
    if (answer.model_version === version) return answer;
    if (Date.now() > deadline) throw new Error(`The server still serves ${name} version ${answer.model_version} 30 s after ${version} became champion.`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(): Promise<void> {
  // 1. Track: an experiment, a run with params and a metric history, then finish the run.
  const exp = await experiment(EXPERIMENT);
  const run = await slipway.runs.create({ experimentId: exp.experimentId, runName: 'mlp-fixture', tags: { framework: 'onnx' } });
  const runId = run.info.runId;
  // A training script logs these as it trains; here they are illustrative numbers.
  const losses = [0.62, 0.31, 0.17, 0.11, 0.09];
  const accuracies = [0.81, 0.9, 0.94, 0.96, 0.97];
  await slipway.runs.log(runId, {
    params: { model: 'mlp', hidden: '16', lr: '0.01', epochs: String(losses.length) },
    metrics: losses.flatMap((loss, step) => [
      { key: 'loss', value: loss, step },
      { key: 'accuracy', value: accuracies[step] ?? 0, step },
    ]),
  });
  await slipway.artifacts.upload(run.info.runId, 'model/model.onnx', await readFile(modelFile));
  await slipway.runs.update(runId, { status: 'FINISHED', endTime: Date.now() });
  const history = await slipway.runs.metricHistory(runId, 'accuracy');
  console.log(`run         ${runId} in experiment ${exp.name} (${exp.experimentId}): accuracy ${history.metrics.map((m) => m.value).join(' -> ')}`);

  // 2. Search: the MLflow filter grammar, newest first.
  const found = await slipway.runs.search({
    experimentIds: [exp.experimentId],
    filter: "metrics.accuracy > 0.9 and params.model = 'mlp'",
    orderBy: ['metrics.accuracy DESC', 'attributes.start_time DESC'],
  });
  console.log(`search      ${found.runs.length} run(s) with accuracy > 0.9 and params.model = 'mlp'; best ${found.runs[0]?.info.runId ?? '-'}`);

  // 3. Register the run's ONNX model; the registry reads its signature from the file.
  const { columns, row } = await firstRow(rowsFile);
  await registeredModel(MODEL);
  const version = await slipway.models.createVersion(MODEL, {
    source: `runs:/${runId}/model`,
    runId,
    tags: { 'slipway.columns': JSON.stringify(columns) },
  });
  const signature = version.signature;
  const describe = (t: { name: string; type: string; shape: Array<number | string> }) => `${t.name} ${t.type} [${t.shape.join(',')}]`;
  console.log(`registered  ${MODEL} version ${version.version} (${version.status}): ${signature ? `${signature.inputs.map(describe).join(', ')} -> ${signature.outputs.map(describe).join(', ')}` : 'no ONNX signature'}`);

  // 4. Promote it: the server serves a model's champion.
  await slipway.models.setAlias(MODEL, 'champion', version.version);
  console.log(`alias       champion -> version ${(await slipway.models.getByAlias(MODEL, 'champion')).version}`);

  // 5. Score one row over the Open Inference Protocol.
  const answer = await infer(MODEL, version.version, row);
  const output = answer.outputs[0];
  if (!output) throw new Error(`The answer of ${MODEL} has no outputs: ${JSON.stringify(answer)}`);
  console.log(`prediction  ${output.name}=${output.data[0]} (model ${answer.model_name} version ${answer.model_version}, first row of ${rowsFile})`);
}

main().catch((err: unknown) => {
  if (isSlipwayApiError(err)) {
    console.error(`error: ${err.code} (${err.status}): ${err.message}`);
    if (err.code === 'UNAVAILABLE') console.error(`Start a server with \`npm start\`, or point SLIPWAY_SERVER at yours (now ${url}).`);
  } else {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exitCode = 1;
});
