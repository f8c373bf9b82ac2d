/** The access domain: users, API tokens, permissions, authentication and authorisation. */
export * from './access-types.js';
export {
  ACCESS_RIGHTS,
  AccessService,
  MAX_AUTHORIZATION_BYTES,
  TOKEN_PREFIX,
  isAccessDenied,
  parsePermission,
  type AccessMutation,
  type AccessRight,
  type AccessServiceOptions,
  type AdminBootstrap,
  type ApiToken,
  type AuthorizationLookups,
  type CreatedToken,
  type ObjectKind,
  type PermissionGrant,
  type ReadableObjects,
  type User,
} from './access-service.js';
export { SCRYPT_PARAMS, hashPassword, verifyPassword } from './password-hash.js';
