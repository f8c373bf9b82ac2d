/**
 * MLflow's basic-auth REST API (2.12) under /api/2.0/mlflow, so
 * `mlflow.server.get_app_client("basic-auth", tracking_uri=…)` manages Slipway's users and
 * permissions: users/{create,get,update-password,update-admin,delete},
 * experiments/permissions/{create,get,update,delete} and
 * registered-models/permissions/{create,get,update,delete}. GET fields come in the query
 * string, the others in a JSON body (user creation also takes a form, like MLflow's sign-up
 * page). Admins manage users; a user reads their own account and changes their own password;
 * permissions on an object are managed by admins and by users with MANAGE on it, as in MLflow.
 * Errors are SlipwayErrors, written as MLflow `{"error_code", "message"}` bodies.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessService, ObjectKind, PermissionGrant, User } from '../../access/access-service.js';
import { parsePermission } from '../../access/access-service.js';
import { SlipwayError, errors } from '../../core/errors.js';
import type { DomainPlugin } from '../app.js';
import type { ServerContext } from '../context.js';
import { accessServiceOf, principalOf, requireAdmin, requireManage, requireSelfOrAdmin } from '../native/access-routes.js';
import { mutationOf } from '../native/services.js';

/** The paths, as MLflow's `mlflow/server/auth/routes.py` names them. */
export const MLFLOW_AUTH_ROUTES = {
  CREATE_USER: '/api/2.0/mlflow/users/create',
  GET_USER: '/api/2.0/mlflow/users/get',
  UPDATE_USER_PASSWORD: '/api/2.0/mlflow/users/update-password',
  UPDATE_USER_ADMIN: '/api/2.0/mlflow/users/update-admin',
  DELETE_USER: '/api/2.0/mlflow/users/delete',
  CREATE_EXPERIMENT_PERMISSION: '/api/2.0/mlflow/experiments/permissions/create',
  GET_EXPERIMENT_PERMISSION: '/api/2.0/mlflow/experiments/permissions/get',
  UPDATE_EXPERIMENT_PERMISSION: '/api/2.0/mlflow/experiments/permissions/update',
  DELETE_EXPERIMENT_PERMISSION: '/api/2.0/mlflow/experiments/permissions/delete',
  CREATE_REGISTERED_MODEL_PERMISSION: '/api/2.0/mlflow/registered-models/permissions/create',
  GET_REGISTERED_MODEL_PERMISSION: '/api/2.0/mlflow/registered-models/permissions/get',
  UPDATE_REGISTERED_MODEL_PERMISSION: '/api/2.0/mlflow/registered-models/permissions/update',
  DELETE_REGISTERED_MODEL_PERMISSION: '/api/2.0/mlflow/registered-models/permissions/delete',
} as const;

type Fields = Record<string, unknown>;

function fieldsOf(request: FastifyRequest): Fields {
  const raw = request.method === 'GET' ? request.query : request.body;
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new SlipwayError('MALFORMED_REQUEST', 'The request body must be a JSON object.');
  return raw as Fields;
}

function requiredString(f: Fields, field: string): string {
  const v = f[field];
  if (v === undefined || v === null || v === '') throw errors.missing(field);
  // MLflow's client sends experiment ids as strings; a bare number is accepted too.
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw errors.invalid(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: it must be a string.`, { field });
  return v;
}

function requiredBoolean(f: Fields, field: string): boolean {
  const v = f[field];
  if (v === undefined || v === null || v === '') throw errors.missing(field);
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  throw errors.invalid(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: it must be true or false.`, { field });
}

async function userJson(access: AccessService, user: User): Promise<Record<string, unknown>> {
  const grants = await access.listPermissions({ username: user.username });
  const wire = (g: PermissionGrant) => (g.kind === 'experiment' ? { experiment_id: g.objectId, user_id: user.id, permission: g.permission } : { name: g.objectId, user_id: user.id, permission: g.permission });
  return {
    id: user.id,
    username: user.username,
    is_admin: user.isAdmin,
    experiment_permissions: grants.filter((g) => g.kind === 'experiment').map(wire),
    registered_model_permissions: grants.filter((g) => g.kind === 'registered_model').map(wire),
  };
}

async function permissionJson(access: AccessService, g: PermissionGrant): Promise<Record<string, unknown>> {
  const { id } = await access.getUser(g.username);
  return g.kind === 'experiment' ? { experiment_id: g.objectId, user_id: id, permission: g.permission } : { name: g.objectId, user_id: id, permission: g.permission };
}

type Handler = (f: Fields, request: FastifyRequest) => Promise<Record<string, unknown>>;

function permissionRoutes(ctx: ServerContext, kind: ObjectKind, paths: { create: string; get: string; update: string; delete: string }): Array<[string, string, Handler]> {
  const idField = kind === 'experiment' ? 'experiment_id' : 'name';
  const key = kind === 'experiment' ? 'experiment_permission' : 'registered_model_permission';
  const target = async (f: Fields, request: FastifyRequest) => {
    const objectId = requiredString(f, idField);
    const username = requiredString(f, 'username');
    await requireManage(ctx, principalOf(request), kind, objectId);
    return { objectId, username };
  };
  const write = (mode: 'create' | 'update'): Handler => async (f, request) => {
    const permission = parsePermission(requiredString(f, 'permission'));
    const { objectId, username } = await target(f, request);
    const access = accessServiceOf(ctx);
    const grant = await access.setPermission({ kind, objectId, username, permission }, mutationOf(request), mode);
    return mode === 'create' ? { [key]: await permissionJson(access, grant) } : {};
  };
  return [
    ['POST', paths.create, write('create')],
    ['GET', paths.get, async (f, request) => {
      const { objectId, username } = await target(f, request);
      const access = accessServiceOf(ctx);
      return { [key]: await permissionJson(access, await access.getPermission(kind, objectId, username)) };
    }],
    ['PATCH', paths.update, write('update')],
    ['DELETE', paths.delete, async (f, request) => {
      const { objectId, username } = await target(f, request);
      await accessServiceOf(ctx).deletePermission(kind, objectId, username, mutationOf(request));
      return {};
    }],
  ];
}

function routesOf(ctx: ServerContext): Array<[string, string, Handler]> {
  const R = MLFLOW_AUTH_ROUTES;
  const access = () => accessServiceOf(ctx);
  return [
    ['POST', R.CREATE_USER, async (f, request) => {
      requireAdmin(principalOf(request), 'create users');
      const user = await access().createUser({ username: requiredString(f, 'username'), password: requiredString(f, 'password') }, mutationOf(request));
      return { user: await userJson(access(), user) };
    }],
    ['GET', R.GET_USER, async (f, request) => {
      const username = requiredString(f, 'username');
      requireSelfOrAdmin(principalOf(request), username, 'read the account');
      return { user: await userJson(access(), await access().getUser(username)) };
    }],
    ['PATCH', R.UPDATE_USER_PASSWORD, async (f, request) => {
      const username = requiredString(f, 'username');
      requireSelfOrAdmin(principalOf(request), username, 'change the password');
      await access().updatePassword(username, requiredString(f, 'password'), mutationOf(request));
      return {};
    }],
    ['PATCH', R.UPDATE_USER_ADMIN, async (f, request) => {
      requireAdmin(principalOf(request), 'change admin flags');
      await access().setAdmin(requiredString(f, 'username'), requiredBoolean(f, 'is_admin'), mutationOf(request));
      return {};
    }],
    ['DELETE', R.DELETE_USER, async (f, request) => {
      requireAdmin(principalOf(request), 'delete users');
      await access().deleteUser(requiredString(f, 'username'), mutationOf(request));
      return {};
    }],
    ...permissionRoutes(ctx, 'experiment', { create: R.CREATE_EXPERIMENT_PERMISSION, get: R.GET_EXPERIMENT_PERMISSION, update: R.UPDATE_EXPERIMENT_PERMISSION, delete: R.DELETE_EXPERIMENT_PERMISSION }),
    ...permissionRoutes(ctx, 'registered_model', { create: R.CREATE_REGISTERED_MODEL_PERMISSION, get: R.GET_REGISTERED_MODEL_PERMISSION, update: R.UPDATE_REGISTERED_MODEL_PERMISSION, delete: R.DELETE_REGISTERED_MODEL_PERMISSION }),
  ];
}

const mlflowAuth: DomainPlugin = async (app: FastifyInstance, ctx: ServerContext) => {
  // MLflow's sign-up page posts a form; only user creation accepts one.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  for (const [method, url, handler] of routesOf(ctx)) {
    app.route({ method: method as 'GET', url, handler: async (request) => handler(fieldsOf(request), request) });
  }
};

export default mlflowAuth;
