import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';

const idParams = z.object({ id: z.uuid('expected a session or user id') }).strict();

/** One's own sessions and devices; admins end anyone's. */
export function registerSessionRoutes(app: App, identity: () => IdentityContext) {
  app.get('/v1/sessions', { config: { access: 'authenticated' } }, async (req) => {
    const actor = actorOf(req);
    return { sessions: await identity().sessions.list(actor.userId, actor.sessionId) };
  });

  app.delete('/v1/sessions/:id', { config: { access: 'authenticated' } }, async (req, reply) => {
    const actor = actorOf(req);
    const { id } = idParams.parse(req.params);
    await identity().sessions.revokeOwn(actor.userId, id);
    return reply.status(204).send();
  });

  app.post('/v1/sessions/revoke-others', { config: { access: 'authenticated' } }, async (req) => {
    const actor = actorOf(req);
    const revoked = await identity().sessions.revokeAllForUser(
      actor.userId,
      'user',
      actor.sessionId,
    );
    return { revoked };
  });

  app.get('/v1/admin/users/:id/sessions', { config: { access: 'admin' } }, async (req) => {
    const { id } = idParams.parse(req.params);
    if (!(await identity().users.get(id))) throw new BulwarkError('not_found', 'No such user.');
    return { sessions: await identity().sessions.list(id, null) };
  });

  app.post(
    '/v1/admin/users/:id/sessions/revoke',
    { config: { access: 'admin', stepUp: true } },
    async (req) => {
      const { id } = idParams.parse(req.params);
      if (!(await identity().users.get(id))) throw new BulwarkError('not_found', 'No such user.');
      return { revoked: await identity().sessions.revokeAllForUser(id, 'admin') };
    },
  );
}
