import type { FastifyRequest } from 'fastify';
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
