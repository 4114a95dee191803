import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import type { App } from '../../http/app.ts';
import { actorOf, auditActor } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import { changeWithAudit } from '../transactional.ts';

const idParams = z.object({ id: z.uuid('expected a session id') }).strict();
const adminParams = z.object({ userId: z.uuid('expected a user id') }).strict();

/** One's own sessions and devices; admins end anyone's. Ending sessions is recorded. */
export function registerSessionRoutes(
  app: App,
  identity: () => IdentityContext,
  audit: () => AuditLedger,
) {
  app.get('/v1/sessions', { config: { action: 'me.sessions' } }, async (req) => {
    const actor = actorOf(req);
    return { sessions: await identity().sessions.list(actor.userId, actor.sessionId) };
  });

  app.delete('/v1/sessions/:id', { config: { action: 'me.sessions' } }, async (req, reply) => {
    const actor = actorOf(req);
    const { id } = idParams.parse(req.params);
    await changeWithAudit(identity(), audit(), async (tx) => {
      await tx.sessions.revokeOwn(actor.userId, id);
      await tx.record({
        action: 'session.revoke',
        actor: auditActor(req),
        target: { type: 'session', id },
      });
    });
    return reply.status(204).send();
  });

  app.post('/v1/sessions/revoke-others', { config: { action: 'me.sessions' } }, async (req) => {
    const actor = actorOf(req);
    const revoked = await changeWithAudit(identity(), audit(), async (tx) => {
      const n = await tx.sessions.revokeAllForUser(actor.userId, 'user', actor.sessionId);
      await tx.record({
        action: 'session.revoke-others',
        actor: auditActor(req),
        target: { type: 'user', id: actor.userId },
        after: { revoked: n },
      });
      return n;
    });
    return { revoked };
  });

  /** Viewing another person's sessions is a sensitive read: recorded. */
  app.get(
    '/v1/admin/users/:userId/sessions',
    { config: { action: 'user.admin-read' } },
    async (req) => {
      const { userId: id } = adminParams.parse(req.params);
      const sessions = await identity().sessions.list(id, null);
      await audit().record({
        action: 'session.list-other',
        actor: auditActor(req),
        target: { type: 'user', id },
        scope: { orgId: req.authz?.scope.orgId ?? null },
      });
      return { sessions };
    },
  );

  app.post(
    '/v1/admin/users/:userId/sessions/revoke',
    { config: { action: 'user.admin-change' } },
    async (req) => {
      const { userId: id } = adminParams.parse(req.params);
      const revoked = await changeWithAudit(identity(), audit(), async (tx) => {
        const n = await tx.sessions.revokeAllForUser(id, 'admin');
        await tx.record({
          action: 'session.revoke-all',
          actor: auditActor(req),
          target: { type: 'user', id },
          scope: { orgId: req.authz?.scope.orgId ?? null },
          after: { revoked: n },
        });
        return n;
      });
      return { revoked };
    },
  );
}
