/** Experiments under /api/v1/experiments: list, create, get (by id or name), rename/tag, delete, restore. */
import { CreateExperimentBody, Experiment, ExperimentIdParams, ExperimentNameParams, ExperimentPage, ListExperimentsQuery, UpdateExperimentBody } from '../../client/schemas/experiments.js';
import type { TrackingService } from '../../tracking/index.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import { mutationOf } from './services.js';

/** The experiment routes over `tracking` (resolved per request). */
export function experimentRoutes(tracking: () => TrackingService): NativeRoute[] {
  const tag = 'experiments';
  return [
    nativeRoute({
      method: 'GET',
      path: '/experiments',
      tag,
      operationId: 'listExperiments',
      summary: 'List experiments, filtered and ordered as MLflow search_experiments.',
      query: ListExperimentsQuery,
      response: ExperimentPage,
      async handler({ query }) {
        return tracking().searchExperiments({ filter: query.filter, orderBy: query.orderBy, viewType: query.view, maxResults: query.maxResults, pageToken: query.pageToken });
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/experiments',
      tag,
      operationId: 'createExperiment',
      summary: 'Create an experiment.',
      body: CreateExperimentBody,
      response: Experiment,
      status: 201,
      async handler({ body, request }) {
        const t = tracking();
        const id = await t.createExperiment(body, mutationOf(request));
        return t.getExperiment(id);
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/experiments/:experimentId',
      tag,
      operationId: 'getExperiment',
      summary: 'Get an experiment by id.',
      params: ExperimentIdParams,
      response: Experiment,
      async handler({ params }) {
        return tracking().getExperiment(params.experimentId);
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/experiments/by-name/:name',
      tag,
      operationId: 'getExperimentByName',
      summary: 'Get an experiment by name (active or deleted).',
      params: ExperimentNameParams,
      response: Experiment,
      async handler({ params }) {
        return tracking().getExperimentByName(params.name);
      },
    }),
    nativeRoute({
      method: 'PATCH',
      path: '/experiments/:experimentId',
      tag,
      operationId: 'updateExperiment',
      summary: 'Rename an experiment and/or set tags on it.',
      params: ExperimentIdParams,
      body: UpdateExperimentBody,
      response: Experiment,
      async handler({ params, body, request }) {
        const t = tracking();
        const who = mutationOf(request);
        if (body.name !== undefined) await t.updateExperiment(params.experimentId, body.name, who);
        for (const { key, value } of body.tags ?? []) await t.setExperimentTag(params.experimentId, key, value, who);
        return t.getExperiment(params.experimentId);
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/experiments/:experimentId',
      tag,
      operationId: 'deleteExperiment',
      summary: 'Mark an experiment and its runs deleted (restorable).',
      params: ExperimentIdParams,
      async handler({ params, request }) {
        await tracking().deleteExperiment(params.experimentId, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/experiments/:experimentId/restore',
      tag,
      operationId: 'restoreExperiment',
      summary: 'Restore a deleted experiment and the runs deleted with it.',
      params: ExperimentIdParams,
      response: Experiment,
      async handler({ params, request }) {
        const t = tracking();
        await t.restoreExperiment(params.experimentId, mutationOf(request));
        return t.getExperiment(params.experimentId);
      },
    }),
  ];
}
