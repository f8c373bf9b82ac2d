/** Wire schema of GET /api/v1/health (served by the health plugin, documented here with the rest of /api/v1). */
import { z } from 'zod';
import { named } from './common.js';

/** The server's health. */
export const Health = named(
  z.object({
    status: z.enum(['ok', 'unavailable']),
    version: z.string(),
    store: z.object({ backend: z.enum(['sqlite', 'postgres']), status: z.enum(['ok', 'unavailable']) }),
    artifacts: z.enum(['configured', 'none']),
    uptime_seconds: z.number().int(),
    auth: z.boolean().describe('Whether access control is on: requests other than the public ones (health, the OpenAPI document, the web UI shell) need credentials.'),
  }),
  'Health',
  'Liveness and readiness: 200 when the metadata store answers, 503 otherwise.',
);
/** The server's health. */
export type Health = z.infer<typeof Health>;
