import type { FastifyRequest } from 'fastify';
import type { AuditActor } from '../audit/ledger/entry.ts';
import { BulwarkError } from '../errors.ts';
import type { Actor } from './sessions/service.ts';

/** The actor of an `authenticated` route (the auth hook set it). */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw new BulwarkError('unauthenticated');
  return req.actor;
}

/** The caller's address, for throttling. */
export function sourceOf(req: FastifyRequest): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** The audit ledger's view of who made a change through this request. */
export function auditActor(req: FastifyRequest): AuditActor {
  const actor = req.actor;
  return actor
    ? {
        kind: 'user',
        userId: actor.userId,
        sessionId: actor.sessionId,
        source: sourceOf(req),
        // Provenance: the browser's cookie session is the web client; a bearer token is the API.
        channel: actor.sessionKind === 'cookie' ? 'web' : 'api',
      }
    : { kind: 'system', source: sourceOf(req), channel: 'api' };
}
