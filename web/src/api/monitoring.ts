/**
 * The monitoring pages' requests: the monitored models, a model's live windows (and one window
 * compared with its reference), alert rules and their events, performance from late labels,
 * and the offline report over a range of windows.
 */
import type { MonitoredModelList, MonitoringAlert, MonitoringAlertEvent, MonitoringWindowDetail, MonitoringWindowList, WindowPerformance } from '../../../src/client/schemas/monitoring.js';
import { api, getJson, request } from './http';

/** A time range in epoch ms; undefined ends are open. */
export interface TimeRange {
  from: number | undefined;
  to: number | undefined;
}

/** Every monitored model with its newest window and firing alerts. */
export function fetchMonitoredModels(signal?: AbortSignal): Promise<MonitoredModelList> {
  return getJson<MonitoredModelList>(api('monitoring', 'models'), undefined, signal);
}

/** The windows of a model starting in the range, newest first (at most 10,000). */
export function fetchWindows(model: string, range: TimeRange, signal?: AbortSignal): Promise<MonitoringWindowList> {
  return getJson<MonitoringWindowList>(api('monitoring', 'models', model, 'windows'), { from: range.from, to: range.to, limit: 10_000 }, signal);
}

/** One window compared with its version's reference: per-feature drift and the quality suite. */
export function fetchWindowDetail(model: string, windowStart: number, version: string, signal?: AbortSignal): Promise<MonitoringWindowDetail> {
  return getJson<MonitoringWindowDetail>(api('monitoring', 'models', model, 'windows', windowStart), { version }, signal);
}

/** The alert rules watching a model, with their state. */
export async function fetchAlerts(model: string, signal?: AbortSignal): Promise<MonitoringAlert[]> {
  return (await getJson<{ alerts: MonitoringAlert[] }>(api('monitoring', 'alerts'), { model }, signal)).alerts;
}

/** The transitions (firing, resolved) of one alert rule, newest first. */
export async function fetchAlertEvents(ruleId: string, signal?: AbortSignal): Promise<MonitoringAlertEvent[]> {
  return (await getJson<{ events: MonitoringAlertEvent[] }>(api('monitoring', 'alerts', ruleId, 'events'), undefined, signal)).events;
}

/** Performance per window from the labels received so far. */
export async function fetchPerformance(model: string, range: TimeRange, signal?: AbortSignal): Promise<WindowPerformance[]> {
  return (await getJson<{ windows: WindowPerformance[] }>(api('monitoring', 'models', model, 'performance'), { from: range.from, to: range.to }, signal)).windows;
}

/** Builds the offline HTML report of a version's windows in the range against its reference profile. */
export async function buildWindowsReport(model: string, version: string, range: TimeRange): Promise<string> {
  const body = {
    reference: { model: `models:/${encodeURIComponent(model)}/${version}` },
    current: { windows: { model, version, ...(range.from !== undefined ? { from: range.from } : {}), ...(range.to !== undefined ? { to: range.to } : {}) } },
    // How much the model relies on each feature, beside its drift; a model that cannot be explained still gets its report.
    importance: { model: `models:/${encodeURIComponent(model)}/${version}`, optional: true },
  };
  const res = await request('POST', api('monitoring', 'reports'), { body, query: { format: 'html' }, headers: { accept: 'text/html' } });
  return await res.text();
}
