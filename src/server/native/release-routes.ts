/** The release routes of the native API: releases, approvals, aborts, rollbacks and stored release policies. */
import { z } from 'zod';
import {
  AbortReleaseBody,
  ApproveReleaseBody,
  CreateReleaseBody,
  ListReleasesQuery,
  ModelNameOnlyParams,
  PutReleasePolicyBody,
  Release,
  ReleasePage,
  ReleaseParams,
  ReleasePolicyList,
  ReleasePolicyParams,
  ReleasePolicyRecord,
  RollbackBody,
  RollbackResult,
  TrafficHeartbeatBody,
  TrafficParams,
  TrafficState,
  TrafficStatsBody,
} from '../../client/schemas/releases.js';
import type { ReleaseService } from '../../release/release-service.js';
import type { TrafficHub } from '../../release/traffic-hub.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import { mutationOf } from './services.js';

const TAG = 'releases';

const PolicyListQuery = z.object({ model: z.string().min(1).optional().describe('Only this model’s policies.') });

/** The release routes over one service. */
export function releaseRoutes(releases: () => ReleaseService): NativeRoute[] {
  return [
    nativeRoute({
      method: 'POST',
      path: '/releases',
      tag: TAG,
      operationId: 'createRelease',
      summary: 'Starts a release of a model version into an environment; 409 when the model already has an active release.',
      body: CreateReleaseBody,
      response: Release,
      status: 201,
      async handler({ body, request }) {
        return releases().create(body, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/releases',
      tag: TAG,
      operationId: 'listReleases',
      summary: 'Lists releases, newest first, by model and state (`active`: any unfinished one).',
      query: ListReleasesQuery,
      response: ReleasePage,
      async handler({ query }) {
        return releases().list(query);
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/releases/:id',
      tag: TAG,
      operationId: 'getRelease',
      summary: 'Gets a release with its gate evidence, approvals, rollout and history.',
      params: ReleaseParams,
      response: Release,
      async handler({ params }) {
        return releases().get(params.id);
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/releases/:id/approve',
      tag: TAG,
      operationId: 'approveRelease',
      summary: 'Approves a release awaiting approval (by someone other than its requester); the last approval needed starts the rollout.',
      params: ReleaseParams,
      body: ApproveReleaseBody,
      response: Release,
      async handler({ params, body, request }) {
        return releases().approve(params.id, body, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/releases/:id/abort',
      tag: TAG,
      operationId: 'abortRelease',
      summary: 'Aborts an unfinished release; a rollout in progress returns all traffic to the champion.',
      params: ReleaseParams,
      body: AbortReleaseBody,
      response: Release,
      async handler({ params, body, request }) {
        return releases().abort(params.id, body, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/models/:name/rollback',
      tag: TAG,
      operationId: 'rollbackModel',
      summary: "Moves an environment back to an earlier version (default: the one its last promotion replaced); instant during a blue-green bake.",
      params: ModelNameOnlyParams,
      body: RollbackBody,
      response: RollbackResult,
      async handler({ params, body, request }) {
        return releases().rollback(params.name, body, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/release-policies',
      tag: TAG,
      operationId: 'listReleasePolicies',
      summary: 'Lists the stored release policies, of one model or all.',
      query: PolicyListQuery,
      response: ReleasePolicyList,
      async handler({ query }) {
        return { policies: await releases().listPolicies(query.model) };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/models/:name/release-policies/:environment',
      tag: TAG,
      operationId: 'getReleasePolicy',
      summary: 'Gets the release policy stored for a model and environment.',
      params: ReleasePolicyParams,
      response: ReleasePolicyRecord,
      async handler({ params }) {
        return releases().getPolicy(params.name, params.environment);
      },
    }),
    nativeRoute({
      method: 'PUT',
      path: '/models/:name/release-policies/:environment',
      tag: TAG,
      operationId: 'putReleasePolicy',
      summary: 'Stores the release policy of a model and environment (what releases there run unless they bring their own).',
      params: ReleasePolicyParams,
      body: PutReleasePolicyBody,
      response: ReleasePolicyRecord,
      async handler({ params, body, request }) {
        return releases().putPolicy(params.name, params.environment, body.policy, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/models/:name/release-policies/:environment',
      tag: TAG,
      operationId: 'deleteReleasePolicy',
      summary: 'Removes the release policy stored for a model and environment.',
      params: ReleasePolicyParams,
      async handler({ params, request }) {
        await releases().deletePolicy(params.name, params.environment, mutationOf(request));
      },
    }),
  ];
}

/**
 * The routes `slipway serve models:/… --server URL` processes follow releases by: they poll the
 * traffic a release wants for their model, say they are alive (and what they applied), and post
 * the figures of the running split.
 */
export function trafficRoutes(hub: () => TrafficHub): NativeRoute[] {
  return [
    nativeRoute({
      method: 'GET',
      path: '/traffic/:model',
      tag: TAG,
      operationId: 'getTraffic',
      summary: 'The traffic split a release wants for a model, polled by the serving processes that follow this server; `epoch` changes on every change.',
      params: TrafficParams,
      response: TrafficState,
      async handler({ params }) {
        return hub().state(params.model);
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/traffic/:model/agents',
      tag: TAG,
      operationId: 'trafficHeartbeat',
      summary: 'A serving process of the model says it is alive, what it serves and which state it applied; answers with the current state.',
      params: TrafficParams,
      body: TrafficHeartbeatBody,
      response: TrafficState,
      async handler({ params, body }) {
        return hub().heartbeat(params.model, body);
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/traffic/:model/stats',
      tag: TAG,
      operationId: 'postTrafficStats',
      summary: "Adds a serving process's figures of the running split to the release's next analysis; 409 when that split is not the one running.",
      params: TrafficParams,
      body: TrafficStatsBody,
      async handler({ params, body }) {
        await hub().postStats(params.model, body);
      },
    }),
  ];
}
