/**
 * The access-management routes whose handlers decide who may call them (an admin, the user
 * themselves, or a user with MANAGE on the object): the route table lets any authenticated
 * user through to them. Kept apart from the routes so the access gate loads no route code.
 */
export const SELF_CHECKED_ACCESS_ROUTES: readonly string[] = [
  'GET /api/v1/users/:username',
  'PATCH /api/v1/users/:username',
  'POST /api/v1/tokens',
  'GET /api/v1/tokens',
  'DELETE /api/v1/tokens/:id',
  'GET /api/v1/permissions',
  'PUT /api/v1/permissions',
  'DELETE /api/v1/permissions',
  'GET /api/2.0/mlflow/users/get',
  'PATCH /api/2.0/mlflow/users/update-password',
  'POST /api/2.0/mlflow/experiments/permissions/create',
  'GET /api/2.0/mlflow/experiments/permissions/get',
  'PATCH /api/2.0/mlflow/experiments/permissions/update',
  'DELETE /api/2.0/mlflow/experiments/permissions/delete',
  'POST /api/2.0/mlflow/registered-models/permissions/create',
  'GET /api/2.0/mlflow/registered-models/permissions/get',
  'PATCH /api/2.0/mlflow/registered-models/permissions/update',
  'DELETE /api/2.0/mlflow/registered-models/permissions/delete',
];
