import type { Action } from '../policy/actions.ts';

/**
 * Every route declares the action it performs; the action catalogue
 * (policy/actions.ts) says who may, and a route without a known action
 * fails to register (SECURITY.md, Authorization).
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    action?: Action;
  }
}
