import type { Actor } from '../identity/sessions/service.ts';

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
  | 'operator'
  /** A logged-in user (session cookie or `Bearer bws_…`). */
  | 'authenticated'
  /** A logged-in admin. */
  | 'admin'
  /** A logged-in admin, or the operator token (the CLI's audit commands on the server machine). */
  | 'admin-or-operator'
  /** Any logged-in user, or the operator token (public ledger material: key, heads, proofs). */
  | 'authenticated-or-operator';

export interface RouteAccessConfig {
  access: RouteAccess;
  /** Answered while sealed or uninitialised; everything else gets `sealed`. */
  availableWhileSealed?: boolean;
  /** Sensitive: needs a passkey or TOTP proof within the last 5 minutes (`step_up_required`). */
  stepUp?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    availableWhileSealed?: boolean;
    stepUp?: boolean;
  }
  interface FastifyRequest {
    /** Set by the auth hook on `authenticated` and `admin` routes. */
    actor: Actor | null;
  }
}
