/** Queries and changes of the release pages: the list, one release (refreshed while it runs), approve and abort. */
import { useMutation, useQuery, useQueryClient, type UseMutationResult, type UseQueryResult } from '@tanstack/react-query';
import type { Release, ReleasePage, ReleaseState } from '../../../src/client/schemas/releases.js';
import { ApiError, api, getJson, sendJson } from './http';

/** Every release state, in the order a release goes through them. */
export const RELEASE_STATES: readonly ReleaseState[] = ['pending', 'gates', 'awaiting_approval', 'rolling_out', 'promoted', 'rejected', 'rolled_back', 'aborted'];

/** States after which nothing more happens. */
export const FINISHED_STATES: readonly ReleaseState[] = ['promoted', 'rejected', 'rolled_back', 'aborted'];

/** Whether a release still runs. */
export function isFinished(state: ReleaseState): boolean {
  return FINISHED_STATES.includes(state);
}

/** How often a running release refreshes. */
const RUNNING_POLL_MS = 2000;

/** Releases newest first, by model and state (`active`: any unfinished one); refreshed while any of them runs. */
export function useReleases(filters: { model?: string; state?: string }): UseQueryResult<ReleasePage> {
  return useQuery({
    queryKey: ['releases', 'list', filters.model ?? '', filters.state ?? ''],
    queryFn: ({ signal }) => getJson<ReleasePage>(api('releases'), { maxResults: 1000, ...(filters.model ? { model: filters.model } : {}), ...(filters.state ? { state: filters.state } : {}) }, signal),
    refetchInterval: (q) => (q.state.data?.releases.some((r) => !isFinished(r.state)) ? RUNNING_POLL_MS * 2.5 : false),
  });
}

/** One release with its gates, approvals, rollout and history; refreshed every 2 s until it finishes. */
export function useRelease(id: string): UseQueryResult<Release> {
  return useQuery({
    queryKey: ['release', id],
    queryFn: ({ signal }) => getJson<Release>(api('releases', id), undefined, signal),
    refetchInterval: (q) => (q.state.data && !isFinished(q.state.data.state) ? RUNNING_POLL_MS : false),
    // A refusal (404 unknown release, 403) will not change on retry.
    retry: (count, err) => count < 2 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
  });
}

/** Approves a release (as the signed-in user; the server refuses the requester's own approval). */
export function useApproveRelease(id: string): UseMutationResult<Release, Error, { comment?: string; by?: string }> {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body) => sendJson<Release>('POST', api('releases', id, 'approve'), { ...(body.comment ? { comment: body.comment } : {}), ...(body.by ? { by: body.by } : {}) }),
    onSuccess: (release) => {
      qc.setQueryData(['release', id], (old: Release | undefined) => ({ ...release, events: release.events ?? old?.events }));
      void qc.invalidateQueries({ queryKey: ['release', id] });
      void qc.invalidateQueries({ queryKey: ['releases'] });
    },
  });
}

/** Aborts an unfinished release; a split in progress sends all traffic back to the champion. */
export function useAbortRelease(id: string): UseMutationResult<Release, Error, { reason?: string; by?: string }> {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body) => sendJson<Release>('POST', api('releases', id, 'abort'), { ...(body.reason ? { reason: body.reason } : {}), ...(body.by ? { by: body.by } : {}) }),
    onSuccess: (release) => {
      qc.setQueryData(['release', id], (old: Release | undefined) => ({ ...release, events: release.events ?? old?.events }));
      void qc.invalidateQueries({ queryKey: ['release', id] });
      void qc.invalidateQueries({ queryKey: ['releases'] });
    },
  });
}
