/**
 * /api/v1/users, /api/v1/tokens and /api/v1/permissions: manage who may use the server.
 * Admins manage everyone; a user reads themselves, changes their own password and manages
 * their own tokens; a user with MANAGE on an experiment or model manages its permissions,
 * as in MLflow. The route-level gate has already authenticated the caller.
 */
import type { FastifyRequest } from 'fastify';
import { AccessService, type ObjectKind, type PermissionGrant } from '../../access/access-service.js';
import { ANONYMOUS, type Principal } from '../../access/access-types.js';
import {
  ApiToken,
  CreateTokenBody,
  CreateUserBody,
  CreatedToken,
  DeletePermissionQuery,
  PermissionGrant as PermissionGrantSchema,
  PermissionList,
  PermissionQuery,
  SetPermissionBody,
  TokenIdParams,
  TokenList,
  TokenListQuery,
  UpdateUserBody,
  User,
  UserList,
  UsernameParams,
} from '../../client/schemas/access.js';
import { SlipwayError } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import { mutationOf, registryOf, trackingOf } from './services.js';

const ownServices = new WeakMap<ServerContext, AccessService>();

/**
 * The server's AccessService: the one access control runs on when it is on (so a password
 * change here drops that instance's cached credentials), else one built for these routes,
 * which manage users before access control is turned on.
 */
export function accessServiceOf(ctx: ServerContext): AccessService {
  if (ctx.access instanceof AccessService) return ctx.access;
  let own = ownServices.get(ctx);
  if (!own) {
    own = new AccessService({ store: ctx.store, clock: ctx.clock, logger: ctx.logger, defaultPermission: ctx.config.auth?.defaultPermission });
    ownServices.set(ctx, own);
  }
  return own;
}

/** The caller: the authenticated principal, or the anonymous admin while access control is off. */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? ANONYMOUS;
}

/** Refuses unless the caller is an admin. */
export function requireAdmin(principal: Principal, what: string): void {
  if (!principal.isAdmin) throw new SlipwayError('PERMISSION_DENIED', `Permission denied: only admins may ${what}.`);
}

/** Refuses unless the caller is `username` or an admin. */
export function requireSelfOrAdmin(principal: Principal, username: string, what: string): void {
  if (!principal.isAdmin && principal.username !== username) throw new SlipwayError('PERMISSION_DENIED', `Permission denied: only admins may ${what} of another user.`);
}

/**
 * Refuses unless the caller may manage permissions on the object (admin or MANAGE on it), and
 * answers 404 for an object that does not exist.
 */
export async function requireManage(ctx: ServerContext, principal: Principal, kind: ObjectKind, objectId: string): Promise<void> {
  if (kind === 'experiment') await trackingOf(ctx).getExperiment(objectId);
  else await registryOf(ctx).getRegisteredModel(objectId);
  const have = await accessServiceOf(ctx).effectivePermission(principal, kind, objectId);
  if (have !== 'MANAGE') {
    throw new SlipwayError('PERMISSION_DENIED', `Permission denied: managing permissions on ${kind === 'experiment' ? 'experiment' : 'registered model'} '${objectId}' needs MANAGE on it.`);
  }
}

function objectOf(ref: { experimentId?: string | undefined; model?: string | undefined }): { kind: ObjectKind; objectId: string } {
  return ref.experimentId !== undefined ? { kind: 'experiment', objectId: ref.experimentId } : { kind: 'registered_model', objectId: ref.model! };
}

/** The user, token and permission routes. */
export function accessRoutes(ctx: ServerContext): NativeRoute[] {
  const access = () => accessServiceOf(ctx);
  return [
    nativeRoute({
      method: 'POST',
      path: '/users',
      tag: 'access',
      operationId: 'createUser',
      summary: 'Create a user (admins only).',
      body: CreateUserBody,
      response: User,
      status: 201,
      async handler({ body, request }) {
        requireAdmin(principalOf(request), 'create users');
        return access().createUser(body, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/users',
      tag: 'access',
      operationId: 'listUsers',
      summary: 'List every user (admins only).',
      response: UserList,
      async handler({ request }) {
        requireAdmin(principalOf(request), 'list users');
        return { users: await access().listUsers() };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/users/:username',
      tag: 'access',
      operationId: 'getUser',
      summary: 'One user: yourself, or anyone for admins.',
      params: UsernameParams,
      response: User,
      async handler({ params, request }) {
        requireSelfOrAdmin(principalOf(request), params.username, 'read the account');
        return access().getUser(params.username);
      },
    }),
    nativeRoute({
      method: 'PATCH',
      path: '/users/:username',
      tag: 'access',
      operationId: 'updateUser',
      summary: "Change a password (your own, or anyone's for admins), the admin flag or rights (admins only).",
      params: UsernameParams,
      body: UpdateUserBody,
      response: User,
      async handler({ params, body, request }) {
        const principal = principalOf(request);
        requireSelfOrAdmin(principal, params.username, 'change the password');
        if (body.isAdmin !== undefined || body.rights !== undefined) requireAdmin(principal, 'change admin flags and rights');
        const svc = access();
        let user = await svc.getUser(params.username);
        if (body.password !== undefined) user = await svc.updatePassword(params.username, body.password, mutationOf(request));
        if (body.isAdmin !== undefined) user = await svc.setAdmin(params.username, body.isAdmin, mutationOf(request));
        if (body.rights !== undefined) user = await svc.setRights(params.username, body.rights, mutationOf(request));
        return user;
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/users/:username',
      tag: 'access',
      operationId: 'deleteUser',
      summary: 'Delete a user with their tokens and permissions (admins only; never the last admin).',
      params: UsernameParams,
      async handler({ params, request }) {
        requireAdmin(principalOf(request), 'delete users');
        await access().deleteUser(params.username, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/tokens',
      tag: 'access',
      operationId: 'createToken',
      summary: "Create an API token for yourself (admins: for anyone); the answer holds the secret, shown only this once.",
      body: CreateTokenBody,
      response: CreatedToken,
      status: 201,
      async handler({ body, request }) {
        const principal = principalOf(request);
        const username = body.username ?? principal.username;
        requireSelfOrAdmin(principal, username, 'create tokens');
        const expiresTime = body.expiresInSeconds !== undefined ? ctx.clock.now() + body.expiresInSeconds * 1000 : null;
        return access().createToken(username, { name: body.name, expiresTime }, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/tokens',
      tag: 'access',
      operationId: 'listTokens',
      summary: "List your tokens (admins: anyone's, or everyone's with all=true), newest first, without secrets.",
      query: TokenListQuery,
      response: TokenList,
      async handler({ query, request }) {
        const principal = principalOf(request);
        if (query.all === 'true') {
          requireAdmin(principal, "list every user's tokens");
          return { tokens: await access().listTokens() };
        }
        const username = query.username ?? principal.username;
        requireSelfOrAdmin(principal, username, 'list the tokens');
        return { tokens: await access().listTokens(username) };
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/tokens/:id',
      tag: 'access',
      operationId: 'revokeToken',
      summary: 'Revoke a token (your own, or anyone\'s for admins); it stops working at once.',
      params: TokenIdParams,
      response: ApiToken,
      async handler({ params, request }) {
        const principal = principalOf(request);
        const token = await access().getToken(params.id);
        // Another user's token id is answered like a missing one.
        if (!principal.isAdmin && token.username !== principal.username) throw new SlipwayError('NOT_FOUND', `Token '${params.id}' does not exist.`, { id: params.id });
        return access().revokeToken(params.id, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/permissions',
      tag: 'access',
      operationId: 'listPermissions',
      summary: 'Stored permissions by user and/or object: your own, the ones on objects you MANAGE, or any for admins.',
      query: PermissionQuery,
      response: PermissionList,
      async handler({ query, request }) {
        const principal = principalOf(request);
        const object = query.experimentId !== undefined || query.model !== undefined ? objectOf(query) : undefined;
        if (!principal.isAdmin) {
          if (object) await requireManage(ctx, principal, object.kind, object.objectId);
          else requireSelfOrAdmin(principal, query.username ?? '', 'list the permissions');
        }
        const grants: PermissionGrant[] = await access().listPermissions({
          ...(query.username !== undefined ? { username: query.username } : {}),
          ...(object ? { kind: object.kind, objectId: object.objectId } : {}),
        });
        return { permissions: grants, defaultPermission: access().defaultPermission };
      },
    }),
    nativeRoute({
      method: 'PUT',
      path: '/permissions',
      tag: 'access',
      operationId: 'setPermission',
      summary: "Set a user's permission on one experiment or model (admins, or users with MANAGE on it).",
      body: SetPermissionBody,
      response: PermissionGrantSchema,
      async handler({ body, request }) {
        const { kind, objectId } = objectOf(body);
        await requireManage(ctx, principalOf(request), kind, objectId);
        return access().setPermission({ kind, objectId, username: body.username, permission: body.permission }, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/permissions',
      tag: 'access',
      operationId: 'deletePermission',
      summary: "Delete a user's permission on one object; they fall back to the default (admins, or users with MANAGE on it).",
      query: DeletePermissionQuery,
      async handler({ query, request }) {
        const { kind, objectId } = objectOf(query);
        await requireManage(ctx, principalOf(request), kind, objectId);
        await access().deletePermission(kind, objectId, query.username, mutationOf(request));
      },
    }),
  ];
}
