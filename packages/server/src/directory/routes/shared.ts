import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import { actorOf } from '../../identity/actor.ts';
import type { Authorized } from '../../policy/authorize.ts';

export const uuid = (what: string) => z.uuid(`expected ${what} id (a UUID)`);
export const projectRole = z.enum(['owner', 'admin', 'member', 'viewer']);
export const displayText = (max: number) => z.string().trim().min(1).max(max);

/** What the request guard resolved for this route (it always runs first). */
export function authzOf(req: FastifyRequest): Authorized {
  if (!req.authz) throw new BulwarkError('unauthenticated');
  return req.authz;
}

export function scopeProject(req: FastifyRequest): string {
  const id = authzOf(req).scope.projectId;
  if (id === null) throw new Error('route without a project scope asked for its project');
  return id;
}

export function scopeOrg(req: FastifyRequest): string {
  const id = authzOf(req).scope.orgId;
  if (id === null) throw new Error('route without an org scope asked for its org');
  return id;
}

export function actorId(req: FastifyRequest): string {
  return actorOf(req).userId;
}
