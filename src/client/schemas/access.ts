/** Wire schemas of the access routes: users, API tokens and permissions. */
import { z } from 'zod';
import { named } from './common.js';

const PermissionLevel = z.enum(['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE']).describe("MLflow's permission levels, in rising order of rights.");

/** A user (never the password). */
export const User = named(
  z.object({
    id: z.number().int().describe("MLflow's integer user id."),
    username: z.string(),
    isAdmin: z.boolean().describe('Admins may do everything, including managing users and permissions.'),
    rights: z.array(z.enum(['monitoring'])).describe('Rights besides object permissions: `monitoring` reads inference logs and monitoring data of readable models.'),
    createdTime: z.number().int(),
    updatedTime: z.number().int(),
  }),
  'User',
  'A local user of the server.',
);
/** A user. */
export type User = z.infer<typeof User>;

/** GET /users. */
export const UserList = z.object({ users: z.array(User) });
/** GET /users. */
export type UserList = z.infer<typeof UserList>;

/** POST /users. */
export const CreateUserBody = z.object({
  username: z.string().min(1).max(128).describe('1 to 128 letters, digits and . _ @ + -, starting with a letter or digit.'),
  password: z.string().min(8).max(1024).describe('At least 8 characters.'),
  isAdmin: z.boolean().optional(),
});
/** POST /users. */
export type CreateUserBody = z.input<typeof CreateUserBody>;

/** The `:username` of a user route. */
export const UsernameParams = z.object({ username: z.string().min(1).max(128) });

/** PATCH /users/:username: a user may change their own password; admin flag and rights need an admin. */
export const UpdateUserBody = z
  .object({
    password: z.string().min(8).max(1024).optional(),
    isAdmin: z.boolean().optional(),
    rights: z.array(z.enum(['monitoring'])).optional(),
  })
  .refine((b) => b.password !== undefined || b.isAdmin !== undefined || b.rights !== undefined, { message: 'give at least one of password, isAdmin, rights' });
/** PATCH /users/:username. */
export type UpdateUserBody = z.input<typeof UpdateUserBody>;

/** An API token, without its secret. */
export const ApiToken = named(
  z.object({
    id: z.string(),
    username: z.string(),
    name: z.string(),
    createdTime: z.number().int(),
    expiresTime: z.number().int().nullable().describe('Epoch ms after which the token is refused; null: never.'),
    revokedTime: z.number().int().nullable(),
    lastUsedTime: z.number().int().nullable().describe('When it last authenticated a request (written at most once a minute).'),
  }),
  'ApiToken',
  'An API token of a user; its secret is shown only when it is created.',
);
/** An API token. */
export type ApiToken = z.infer<typeof ApiToken>;

/** POST /tokens answer: the token with its secret, shown this once. */
export const CreatedToken = named(
  ApiToken.extend({ secret: z.string().describe('`slw_…`: send as `Authorization: Bearer <secret>` or as the password of HTTP Basic. Shown only now.') }),
  'CreatedToken',
  'A token just created, with its secret.',
);
/** A token just created. */
export type CreatedToken = z.infer<typeof CreatedToken>;

/** POST /tokens. */
export const CreateTokenBody = z.object({
  name: z.string().min(1).max(200).describe('What the token is for, e.g. cli@laptop or ci-deploy.'),
  username: z.string().min(1).max(128).optional().describe("Whose token; only admins may create another user's. @default the caller"),
  expiresInSeconds: z.number().int().positive().max(10 * 365 * 86_400).optional().describe('Lifetime; without it the token does not expire.'),
});
/** POST /tokens. */
export type CreateTokenBody = z.input<typeof CreateTokenBody>;

/** GET /tokens. */
export const TokenListQuery = z.object({
  username: z.string().min(1).max(128).optional().describe("Whose tokens; only admins may list another user's. @default the caller"),
  all: z.enum(['true', 'false']).optional().describe('Admins: every user\'s tokens.'),
});
/** GET /tokens. */
export type TokenListQuery = z.input<typeof TokenListQuery>;

/** GET /tokens answer. */
export const TokenList = z.object({ tokens: z.array(ApiToken) });
/** GET /tokens answer. */
export type TokenList = z.infer<typeof TokenList>;

/** The `:id` of a token. */
export const TokenIdParams = z.object({ id: z.string().min(1).max(64) });

/** A user's permission on an experiment or a registered model. */
export const PermissionGrant = named(
  z.object({
    kind: z.enum(['experiment', 'registered_model']),
    objectId: z.string().describe("The experiment id or the registered model's name."),
    username: z.string(),
    permission: PermissionLevel,
  }),
  'PermissionGrant',
  "A user's stored permission on one object; objects without one get the server's default permission.",
);
/** A stored permission. */
export type PermissionGrant = z.infer<typeof PermissionGrant>;

/** GET /permissions. */
export const PermissionQuery = z.object({
  username: z.string().min(1).max(128).optional(),
  experimentId: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(500).optional().describe('A registered model name.'),
});
/** GET /permissions. */
export type PermissionQuery = z.input<typeof PermissionQuery>;

/** GET /permissions answer. */
export const PermissionList = z.object({
  permissions: z.array(PermissionGrant),
  defaultPermission: PermissionLevel.describe('What users have on objects without a stored permission.'),
});
/** GET /permissions answer. */
export type PermissionList = z.infer<typeof PermissionList>;

const ObjectRef = z.object({
  experimentId: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(500).optional(),
  username: z.string().min(1).max(128),
});
const oneObject = (b: { experimentId?: string | undefined; model?: string | undefined }) => (b.experimentId === undefined) !== (b.model === undefined);

/** PUT /permissions: set (create or replace) a user's permission on one experiment or one model. */
export const SetPermissionBody = ObjectRef.extend({ permission: PermissionLevel }).refine(oneObject, { message: 'give exactly one of experimentId, model' });
/** PUT /permissions. */
export type SetPermissionBody = z.input<typeof SetPermissionBody>;

/** DELETE /permissions: the user falls back to the default permission. */
export const DeletePermissionQuery = ObjectRef.refine(oneObject, { message: 'give exactly one of experimentId, model' });
/** DELETE /permissions. */
export type DeletePermissionQuery = z.input<typeof DeletePermissionQuery>;
