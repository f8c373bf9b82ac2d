/**
 * The access domain's contract: who a caller is (a principal), what a route needs
 * (a requirement), and the two functions the server's plugin calls on every
 * request. No Fastify types here: the server maps its routes to requirements.
 */

/** MLflow's permission levels, in rising order of rights. */
export const PERMISSIONS = ['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Who makes a request. */
export interface Principal {
  username: string;
  isAdmin: boolean;
  /** How the caller proved it: a password (HTTP Basic), an API token (Bearer, or Basic with the token as password), or nobody (auth off). */
  via: 'password' | 'token' | 'anonymous';
  /** The token's id when `via` is `token`. */
  tokenId?: string;
}

/** The principal of every request while access control is off. */
export const ANONYMOUS: Principal = { username: 'anonymous', isAdmin: true, via: 'anonymous' };

/**
 * What one request needs. The server's route table maps each route to one of these;
 * `authorize` decides it for a principal.
 */
export type Requirement =
  /** Anyone, even without credentials: health, readiness, the OpenAPI document, login. */
  | { kind: 'public' }
  /** Any authenticated user (creating an experiment or a model: MLflow gives the creator MANAGE on it). */
  | { kind: 'authenticated' }
  /** An experiment's permission (by id), at least `level`. */
  | { kind: 'experiment'; experimentId: string; level: Exclude<Permission, 'NO_PERMISSIONS'> }
  /** A run's experiment's permission (resolved by the server from the run id). */
  | { kind: 'run'; runId: string; level: Exclude<Permission, 'NO_PERMISSIONS'> }
  /** A registered model's permission (by name), at least `level`. */
  | { kind: 'registered_model'; name: string; level: Exclude<Permission, 'NO_PERMISSIONS'> }
  /** Admins only: user management, model control, server-started load tests, audit key rotation. */
  | { kind: 'admin' }
  /** Reading inference logs and monitoring data of a model: READ on the model plus the monitoring right. */
  | { kind: 'monitoring'; name: string }
  /** Approving a release of `name` to `environment`: MANAGE on the model, and not its requester (checked by releases). */
  | { kind: 'release_approval'; name: string; environment: string };

/** Why a request was refused; the server turns it into 401 or 403 without saying whether a user exists. */
export interface AccessDenied {
  status: 401 | 403;
  /** For the client: never names a user that does not exist or why a password was wrong. */
  message: string;
  /** Set when sign-ins are refused for too many failures: seconds until the client may try again (for a Retry-After header). */
  retryAfterSeconds?: number;
}
