import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registeredRoutes } from './route-table.js';

describe('route table', () => {
  it('lists every route with its full path, wildcard routes too, across encapsulated plugins', async () => {
    const app = Fastify();
    await app.register(async (child) => {
      child.get('/api/v1/runs/:runId', async () => 1);
      child.post('/api/v1/runs/:runId/log', async () => 1);
      child.get('/api/v1/runs/:runId/metrics/:key/history', async () => 1);
    });
    await app.register(async (child) => {
      child.post('/api/v1/loadtests', async () => 1);
      child.post('/api/v1/loadtests/capacity', async () => 1);
      child.route({ method: ['PUT', 'DELETE'], url: '/api/v1/models/:name/aliases/:alias', handler: async () => 1 });
    });
    await app.register(async (child) => {
      child.get('/api/v1/runs/:runId/artifacts', async () => 1);
      child.route({ method: ['GET', 'PUT'], url: '/api/v1/runs/:runId/artifacts/*', handler: async () => 1 });
      child.put('/api/v1/artifacts/*', async () => 1);
      child.get('/api/v1/audit/events', async () => 1);
    });
    app.get('/api/2.0/mlflow-artifacts/artifacts/*', async () => 1);
    app.get('/health', async () => 'OK');
    await app.ready();
    const routes = registeredRoutes(app, '/api/v1').map((r) => `${r.method} ${r.path}`);
    expect(routes.sort()).toEqual(
      [
        'GET /api/v1/runs/:runId',
        'POST /api/v1/runs/:runId/log',
        'GET /api/v1/runs/:runId/metrics/:key/history',
        'POST /api/v1/loadtests',
        'POST /api/v1/loadtests/capacity',
        'PUT /api/v1/models/:name/aliases/:alias',
        'DELETE /api/v1/models/:name/aliases/:alias',
        'GET /api/v1/runs/:runId/artifacts',
        'GET /api/v1/runs/:runId/artifacts/*',
        'PUT /api/v1/runs/:runId/artifacts/*',
        'PUT /api/v1/artifacts/*',
        'GET /api/v1/audit/events',
      ].sort(),
    );
    await app.close();
  });
});
