/** Registered dataset versions under /api/v1/datasets: register, list, get, delete, lineage, and logging one as a run input. */
import {
  DatasetLineage,
  DatasetNameParams,
  DatasetPage,
  DatasetRegistration,
  DatasetRunInput,
  DatasetVersionDetail,
  DatasetVersionPage,
  DatasetVersionParams,
  DeleteDatasetQuery,
  ListDatasetsQuery,
  LogDatasetInputBody,
  RegisterDatasetBody,
} from '../../client/schemas/datasets.js';
import type { DatasetService, VersionSelector } from '../../data/dataset-service.js';
import type { TrackingService } from '../../tracking/tracking-service.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import { mutationOf } from './services.js';

const TAG = 'datasets';

function selector(version: string): VersionSelector {
  return version === 'latest' ? 'latest' : Number(version);
}

/** The dataset routes over one service (resolved per request, as the other native routes). */
export function datasetRoutes(datasets: () => DatasetService, tracking: () => TrackingService): NativeRoute[] {
  return [
    nativeRoute({
      method: 'GET',
      path: '/datasets',
      tag: TAG,
      operationId: 'listDatasets',
      summary: 'Lists registered datasets by name, each with its newest version and how many versions it has.',
      query: ListDatasetsQuery,
      response: DatasetPage,
      async handler({ query }) {
        return datasets().list(query);
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/datasets/:name/versions',
      tag: TAG,
      operationId: 'registerDatasetVersion',
      summary:
        'Registers content (a sha256 digest with its size, origin and, for a table, schema and profile) as the next version of a dataset: 201 with the new version, or 200 with the version that already holds this digest; 409 when that version says another kind, file count or size.',
      params: DatasetNameParams,
      body: RegisterDatasetBody,
      response: DatasetRegistration,
      status: 201,
      async handler({ params, body, request, reply }) {
        const { version, created } = await datasets().register(params.name, body, mutationOf(request));
        // Registering the same content again is not an error: the existing version, with 200 instead of 201.
        return created ? { ...version, created } : reply.code(200).send({ ...version, created });
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/datasets/:name/versions',
      tag: TAG,
      operationId: 'listDatasetVersions',
      summary: "Lists a dataset's versions, newest first (without their profiles).",
      params: DatasetNameParams,
      query: ListDatasetsQuery,
      response: DatasetVersionPage,
      async handler({ params, query }) {
        return datasets().listVersions(params.name, query);
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/datasets/:name/versions/:version',
      tag: TAG,
      operationId: 'getDatasetVersion',
      summary: 'Gets a dataset version (a number, or latest) with its schema and profile.',
      params: DatasetVersionParams,
      response: DatasetVersionDetail,
      async handler({ params }) {
        return datasets().get(params.name, selector(params.version));
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/datasets/:name/versions/:version',
      tag: TAG,
      operationId: 'deleteDatasetVersion',
      summary: 'Deletes a dataset version; 409 when runs used it as an input, unless force=true. Its number is never given again.',
      params: DatasetVersionParams,
      query: DeleteDatasetQuery,
      async handler({ params, query, request }) {
        await datasets().delete(params.name, selector(params.version), { force: query.force }, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/datasets/:name/versions/:version/lineage',
      tag: TAG,
      operationId: 'getDatasetVersionLineage',
      summary: 'The runs that used a dataset version as an input (matched by name and digest) and the model versions registered from those runs.',
      params: DatasetVersionParams,
      response: DatasetLineage,
      async handler({ params }) {
        return datasets().lineage(params.name, selector(params.version));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/datasets/:name/versions/:version/inputs',
      tag: TAG,
      operationId: 'logDatasetInput',
      summary:
        "Logs a dataset version as an input of a run (MLflow's log-inputs: source type slipway, source {\"uri\":\"slipway-dataset:/NAME/VERSION\"}, schema as mlflow_colspec), with context training, evaluation…",
      params: DatasetVersionParams,
      body: LogDatasetInputBody,
      response: DatasetRunInput,
      status: 201,
      async handler({ params, body, request }) {
        const input = await datasets().runInput(params.name, selector(params.version), body.context);
        await tracking().logInputs(body.runId, [input], mutationOf(request));
        return { runId: body.runId, dataset: input.dataset, tags: input.tags };
      },
    }),
  ];
}
