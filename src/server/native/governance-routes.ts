/** GET /api/v1/models/{name}/versions/{version}/lineage and …/card: a version's lineage and its model card. */
import { CardQuery, Lineage, ModelCard, VersionPathParams } from '../../client/schemas/governance.js';
import { buildLineage, buildModelCard, cardToHtml, cardToMarkdown, type GovernanceSources } from '../../governance/index.js';
import { ReleaseService } from '../../release/release-service.js';
import type { ServerContext } from '../context.js';
import { registryOf, trackingOf } from './services.js';
import { nativeRoute, type NativeRoute } from './native-route.js';

const CONTENT_TYPES = { md: 'text/markdown; charset=utf-8', html: 'text/html; charset=utf-8' } as const;

/** The governance routes. */
export function governanceRoutes(ctx: ServerContext): NativeRoute[] {
  let releases: ReleaseService | undefined;
  // Reads only: a service of its own over the shared store and registry, never attached to a runner.
  const sources = (): GovernanceSources => {
    const registry = registryOf(ctx);
    releases ??= new ReleaseService({ store: ctx.store, registry, artifacts: ctx.artifacts, clock: ctx.clock, logger: ctx.logger });
    return { store: ctx.store, registry, tracking: trackingOf(ctx), releases, artifacts: ctx.artifacts };
  };
  return [
    nativeRoute({
      method: 'GET',
      path: '/models/:name/versions/:version/lineage',
      tag: 'governance',
      operationId: 'getModelVersionLineage',
      summary: 'Which run, parameters, code revision, datasets and environment produced the version, its artifact digest, its releases with gates and approvals, and the aliases serving it.',
      params: VersionPathParams,
      response: Lineage,
      async handler({ params }) {
        return buildLineage(sources(), { name: params.name, version: params.version });
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/models/:name/versions/:version/card',
      tag: 'governance',
      operationId: 'getModelCard',
      summary: 'The model card of a version: JSON (ModelCard), Markdown (format=md) or one self-contained HTML page (format=html).',
      params: VersionPathParams,
      query: CardQuery,
      response: ModelCard,
      async handler({ params, query, reply }) {
        const card = await buildModelCard(sources(), params.name, params.version, ctx.clock.now());
        if (query.format === 'json') return card;
        // Markdown and HTML are documents, not JSON: sent as they are, with their own media type.
        return reply.code(200).type(CONTENT_TYPES[query.format]).send(query.format === 'md' ? cardToMarkdown(card) : cardToHtml(card));
      },
    }),
  ];
}
