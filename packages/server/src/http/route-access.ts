/**
 * Every route declares who may call it and whether it answers while sealed;
 * a route without a declaration fails to register (SECURITY.md,
 * Authorization). The directory issue turns `access` into the inputs of the
 * one `authorize()` choke point.
 */
export type RouteAccess =
  /** Anyone who reaches the port (health, status, unseal). */
  | 'anonymous'
  /** Holder of the operator token written at init (seal). */
  | 'operator';

export interface RouteAccessConfig {
  access: RouteAccess;
  /** Answered while sealed or uninitialised; everything else gets `sealed`. */
  availableWhileSealed?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    availableWhileSealed?: boolean;
  }
}
