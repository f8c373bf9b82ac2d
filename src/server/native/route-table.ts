/**
 * The routes a Fastify app has registered, read back from `printRoutes`. Fastify
 * gives an encapsulated plugin no list of its siblings' routes (an `onRoute` hook
 * only sees its own context), and the OpenAPI document must cover every /api/v1
 * route, whichever plugin registered it. route-table.test.ts pins the format.
 */
import type { FastifyInstance } from 'fastify';

/** One registered method and path, in Fastify syntax (`/runs/:runId`). */
export interface RegisteredRoute {
  method: string;
  path: string;
}

const LINE = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/;

/**
 * Parses `printRoutes()` output, where each line holds one tree node's own part of the path and a
 * route's path is the concatenation of its line and its ancestors'; HEAD and OPTIONS (implicit) are
 * left out. (With `commonPrefix: false` find-my-way prints a wildcard `*` without the static text
 * before it, so `/api/v1/artifacts/*` would read as `*`.)
 */
export function parseRouteTree(tree: string): RegisteredRoute[] {
  const out: RegisteredRoute[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    const path = (stack[depth - 1] ?? '') + (m[2] as string);
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) {
      if (method && method !== 'HEAD' && method !== 'OPTIONS') out.push({ method, path });
    }
  }
  return out;
}

/** Every route of `app` whose path starts with `prefix`. */
export function registeredRoutes(app: FastifyInstance, prefix: string): RegisteredRoute[] {
  return parseRouteTree(app.printRoutes({ commonPrefix: true })).filter((r) => r.path === prefix || r.path.startsWith(`${prefix}/`));
}
