/** The server's public health answer, which also says whether signing in is needed. */
import type { Health } from '../../../src/client/schemas/health.js';
import { getJson } from './http';

/** The React Query key of the health answer. */
export const HEALTH_KEY = ['health'] as const;

/** GET /api/v1/health. */
export function fetchHealth(): Promise<Health> {
  return getJson<Health>('/api/v1/health');
}
