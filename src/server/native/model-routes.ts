/** Registered models, versions (with their ONNX signature), aliases and stages under /api/v1/models. */
import {
  CreateModelBody,
  CreateVersionBody,
  ListModelsQuery,
  ListVersionsQuery,
  ModelAliasParams,
  ModelNameParams,
  ModelVersion,
  ModelVersionPage,
  ModelVersionParams,
  RegisteredModel,
  RegisteredModelPage,
  SetAliasBody,
  TransitionStageBody,
} from '../../client/schemas/models.js';
import type { RegistryService } from '../../registry/registry-service.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import { mutationOf } from './services.js';

/** A filter-string literal for `value`, quoted so the registry's filter parser reads it back verbatim. */
function quoted(value: string): string {
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}

/** The model routes over `registry` (resolved per request so a late-opened registry is used). */
export function modelRoutes(registry: () => RegistryService): NativeRoute[] {
  const tag = 'models';
  return [
    nativeRoute({
      method: 'GET',
      path: '/models',
      tag,
      operationId: 'listModels',
      summary: 'List registered models, filtered and ordered as MLflow search_registered_models.',
      query: ListModelsQuery,
      response: RegisteredModelPage,
      async handler({ query }) {
        const page = await registry().searchRegisteredModels({ filter: query.filter, orderBy: query.orderBy, maxResults: query.maxResults, pageToken: query.pageToken });
        return { models: page.items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/models',
      tag,
      operationId: 'createModel',
      summary: 'Register a model name.',
      body: CreateModelBody,
      response: RegisteredModel,
      status: 201,
      async handler({ body, request }) {
        return registry().createRegisteredModel(body, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/models/:name',
      tag,
      operationId: 'getModel',
      summary: 'Get a registered model with its tags, aliases and latest version per stage.',
      params: ModelNameParams,
      response: RegisteredModel,
      async handler({ params }) {
        return registry().getRegisteredModel(params.name);
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/models/:name',
      tag,
      operationId: 'deleteModel',
      summary: 'Delete a registered model with all its versions, aliases and tags.',
      params: ModelNameParams,
      async handler({ params, request }) {
        await registry().deleteRegisteredModel(params.name, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/models/:name/versions',
      tag,
      operationId: 'listModelVersions',
      summary: "List a model's versions, newest first.",
      params: ModelNameParams,
      query: ListVersionsQuery,
      response: ModelVersionPage,
      async handler({ params, query }) {
        const r = registry();
        await r.getRegisteredModel(params.name); // 404 for an unknown model instead of an empty list
        const page = await r.searchModelVersions({ filter: `name = ${quoted(params.name)}`, orderBy: ['version_number DESC'], maxResults: query.maxResults, pageToken: query.pageToken });
        return { versions: page.items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/models/:name/versions',
      tag,
      operationId: 'createModelVersion',
      summary: 'Register a new version from a source; its ONNX signature is read when the source holds an ONNX file.',
      params: ModelNameParams,
      body: CreateVersionBody,
      response: ModelVersion,
      status: 201,
      async handler({ params, body, request }) {
        return registry().createModelVersion({ name: params.name, ...body }, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/models/:name/versions/:version',
      tag,
      operationId: 'getModelVersion',
      summary: 'Get a model version with its signature.',
      params: ModelVersionParams,
      response: ModelVersion,
      async handler({ params }) {
        return registry().getModelVersion(params.name, params.version);
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/models/:name/versions/:version',
      tag,
      operationId: 'deleteModelVersion',
      summary: 'Delete a model version: its aliases and tags go with it, and its number is never reused.',
      params: ModelVersionParams,
      async handler({ params, request }) {
        await registry().deleteModelVersion(params.name, params.version, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/models/:name/versions/:version/stage',
      tag,
      operationId: 'transitionModelVersionStage',
      summary: 'Move a version to a legacy stage, optionally archiving the versions already there.',
      params: ModelVersionParams,
      body: TransitionStageBody,
      response: ModelVersion,
      async handler({ params, body, request }) {
        return registry().transitionStage(params.name, params.version, body.stage, body.archiveExistingVersions, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/models/:name/aliases/:alias',
      tag,
      operationId: 'getModelVersionByAlias',
      summary: 'Get the version an alias points at.',
      params: ModelAliasParams,
      response: ModelVersion,
      async handler({ params }) {
        return registry().getVersionByAlias(params.name, params.alias);
      },
    }),
    nativeRoute({
      method: 'PUT',
      path: '/models/:name/aliases/:alias',
      tag,
      operationId: 'setModelAlias',
      summary: 'Point an alias (e.g. champion) at a version, moving it if it pointed elsewhere.',
      params: ModelAliasParams,
      body: SetAliasBody,
      response: ModelVersion,
      async handler({ params, body, request }) {
        const r = registry();
        await r.setAlias(params.name, params.alias, body.version, mutationOf(request));
        return r.getModelVersion(params.name, body.version);
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/models/:name/aliases/:alias',
      tag,
      operationId: 'deleteModelAlias',
      summary: 'Remove an alias; succeeds when the alias does not exist.',
      params: ModelAliasParams,
      async handler({ params, request }) {
        await registry().deleteAlias(params.name, params.alias, mutationOf(request));
      },
    }),
  ];
}
