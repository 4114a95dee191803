import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, auditActor, sourceOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import { changeWithAudit } from '../transactional.ts';
import type { TotpService } from './service.ts';

/** Spaces are how people copy codes ("123 456"); the service wants six digits. */
const codeBody = z
  .object({
    code: z
      .string()
      .max(32)
      .transform((c) => c.replace(/\s+/g, '')),
  })
  .strict();

export function registerTotpRoutes(
  app: App,
  deps: {
    identity: () => IdentityContext;
    totp: () => TotpService;
    throttle: LoginThrottle;
    audit: () => AuditLedger;
  },
) {
  app.post(
    '/v1/me/totp',
    { config: { action: 'me.credentials.change-sensitive' } },
    async (req) => {
      const actor = actorOf(req);
      const user = await deps.identity().users.get(actor.userId);
      if (!user) throw new BulwarkError('unauthenticated');
      // An unconfirmed secret is not a credential yet: the ledger records the confirmation.
      const enrolment = await deps
        .totp()
        .beginEnrolment(user.id, user.username ?? user.displayName);
      return { ...enrolment, next: 'POST /v1/me/totp/confirm with a code from your app' };
    },
  );

  app.post('/v1/me/totp/confirm', { config: { action: 'me.credentials.change' } }, async (req) => {
    const { code } = codeBody.parse(req.body);
    const userId = actorOf(req).userId;
    await changeWithAudit(deps.identity(), deps.audit(), async (tx) => {
      await tx.totp.confirmEnrolment(userId, code);
      await tx.record({
        action: 'totp.enrol',
        actor: auditActor(req),
        target: { type: 'user', id: userId },
      });
    });
    return { enrolled: true };
  });

  app.delete(
    '/v1/me/totp',
    { config: { action: 'me.credentials.change-sensitive' } },
    async (req, reply) => {
      const userId = actorOf(req).userId;
      await changeWithAudit(deps.identity(), deps.audit(), async (tx) => {
        if (!(await tx.totp.remove(userId))) {
          throw new BulwarkError('not_found', 'No authenticator app is set up.');
        }
        await tx.record({
          action: 'totp.remove',
          actor: auditActor(req),
          target: { type: 'user', id: userId },
        });
      });
      return reply.status(204).send();
    },
  );

  app.get('/v1/me/totp', { config: { action: 'me.credentials.read' } }, async (req) => ({
    enrolled: await deps.totp().isEnrolled(actorOf(req).userId),
  }));

  /** Step-up with an authenticator code: fresh proof for sensitive actions. */
  app.post('/v1/auth/step-up/totp', { config: { action: 'auth.step-up' } }, async (req) => {
    const actor = actorOf(req);
    const { code } = codeBody.parse(req.body);
    const source = sourceOf(req);
    deps.throttle.check(actor.userId, source);
    if (!(await deps.totp().verify(actor.userId, code))) {
      deps.throttle.failure(actor.userId, source);
      throw new BulwarkError('login_failed', 'That code was not accepted.');
    }
    deps.throttle.success(actor.userId, source);
    await deps.identity().sessions.markSteppedUp(actor.sessionId);
    return { steppedUp: true };
  });
}
