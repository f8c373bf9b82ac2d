/** Queries and changes of the model registry pages: models, versions, aliases, lineage and the model card. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient, type UseInfiniteQueryResult, type UseMutationResult, type UseQueryResult, type InfiniteData } from '@tanstack/react-query';
import type { Lineage } from '../../../src/client/schemas/governance.js';
import type { ModelVersion, ModelVersionPage, RegisteredModel, RegisteredModelPage } from '../../../src/client/schemas/models.js';
import { api, getJson, getText, sendJson } from './http';

/** Models per page of the list. */
export const MODELS_PAGE_SIZE = 50;

/**
 * The registry filter for a name search: a case-insensitive substring. The filter grammar has no
 * escapes, so the text is quoted with the quote it does not contain; undefined when it holds both.
 */
export function nameFilter(search: string): string | undefined {
  const text = search.trim();
  if (text === '') return '';
  const quote = text.includes("'") ? (text.includes('"') ? undefined : '"') : "'";
  return quote === undefined ? undefined : `name ILIKE ${quote}%${text}%${quote}`;
}

/** Registered models matching a name search, page after page. */
export function useModels(filter: string, order: 'name' | 'updated'): UseInfiniteQueryResult<InfiniteData<RegisteredModelPage>> {
  return useInfiniteQuery({
    queryKey: ['models', filter, order],
    queryFn: ({ pageParam, signal }) =>
      getJson<RegisteredModelPage>(
        api('models'),
        {
          maxResults: MODELS_PAGE_SIZE,
          ...(filter ? { filter } : {}),
          orderBy: order === 'updated' ? 'last_updated_timestamp DESC' : 'name ASC',
          ...(pageParam ? { pageToken: pageParam } : {}),
        },
        signal,
      ),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextPageToken,
  });
}

/** One registered model with its aliases and latest version per stage. */
export function useModel(name: string): UseQueryResult<RegisteredModel> {
  return useQuery({ queryKey: ['model', name], queryFn: ({ signal }) => getJson<RegisteredModel>(api('models', name), undefined, signal) });
}

/** A model's versions, newest first, a thousand per page. */
export function useVersions(name: string): UseInfiniteQueryResult<InfiniteData<ModelVersionPage>> {
  return useInfiniteQuery({
    queryKey: ['model-versions', name],
    queryFn: ({ pageParam, signal }) => getJson<ModelVersionPage>(api('models', name, 'versions'), { maxResults: 1000, ...(pageParam ? { pageToken: pageParam } : {}) }, signal),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextPageToken,
  });
}

/** One version with its signature. */
export function useVersion(name: string, version: string): UseQueryResult<ModelVersion> {
  return useQuery({ queryKey: ['model-version', name, version], queryFn: ({ signal }) => getJson<ModelVersion>(api('models', name, 'versions', version), undefined, signal) });
}

/** Where a version came from and what serves it. */
export function useLineage(name: string, version: string): UseQueryResult<Lineage> {
  return useQuery({ queryKey: ['lineage', name, version], queryFn: ({ signal }) => getJson<Lineage>(api('models', name, 'versions', version, 'lineage'), undefined, signal) });
}

/** The model card as one self-contained HTML page, fetched only once asked for. */
export function useCardHtml(name: string, version: string, enabled: boolean): UseQueryResult<string> {
  return useQuery({
    queryKey: ['card-html', name, version],
    queryFn: async () => (await getText(`${api('models', name, 'versions', version, 'card')}?format=html`, 8 * 1024 * 1024)).text,
    enabled,
  });
}

/** Downloads the model card as Markdown, named MODEL-vVERSION-card.md. */
export async function downloadCardMarkdown(name: string, version: string): Promise<void> {
  const { text } = await getText(`${api('models', name, 'versions', version, 'card')}?format=md`, 8 * 1024 * 1024);
  const url = URL.createObjectURL(new Blob([text], { type: 'text/markdown;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name.replace(/[^\w.-]+/g, '_')}-v${version}-card.md`;
  document.body.append(a);
  a.click();
  a.remove();
  // The click has started the download; the URL can go once the event loop turns.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** What an alias change asks for: point `alias` at `version`, or remove it (version undefined). */
export interface AliasChange {
  alias: string;
  version?: string;
}

/** Points an alias at a version (PUT) or removes it (DELETE); the model's pages reload afterwards. */
export function useAliasChange(name: string): UseMutationResult<unknown, unknown, AliasChange> {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (change: AliasChange) =>
      change.version === undefined ? sendJson('DELETE', api('models', name, 'aliases', change.alias)) : sendJson('PUT', api('models', name, 'aliases', change.alias), { version: change.version }),
    onSuccess: async () => {
      await Promise.all([
        client.invalidateQueries({ queryKey: ['model', name] }),
        client.invalidateQueries({ queryKey: ['model-versions', name] }),
        client.invalidateQueries({ queryKey: ['model-version', name] }),
        client.invalidateQueries({ queryKey: ['lineage', name] }),
        client.invalidateQueries({ queryKey: ['models'] }),
      ]);
    },
  });
}
