import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, auditActor } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import { changeWithAudit, type TransactionalIdentity } from '../transactional.ts';
import type { SmsCodeService } from './service.ts';

const phoneBody = z.object({ phone: z.string().min(1).max(32) }).strict();
const confirmBody = z
  .object({ challengeId: z.string().min(1).max(200), code: z.string().min(1).max(32) })
  .strict();

function smsOf(tx: TransactionalIdentity): SmsCodeService {
  if (!tx.sms) throw new Error('SMS routes are registered but SMS is off');
  return tx.sms;
}

/**
 * SMS as a second factor: only registered when enabled in config, and every
 * answer carries `insecure: true` and a warning the client must show. Number
 * changes are recorded in the ledger; codes are sent outside the
 * transaction (a network call must not hold the database).
 */
export function registerSmsRoutes(
  app: App,
  sms: () => SmsCodeService,
  identity: () => IdentityContext,
  audit: () => AuditLedger,
) {
  app.get('/v1/me/sms', { config: { action: 'me.credentials.read' } }, async (req) => {
    const status = await sms().getNumber(actorOf(req).userId);
    if (!status) throw new BulwarkError('not_found', 'No phone number is enrolled for SMS codes.');
    return status;
  });

  app.post('/v1/me/sms', { config: { action: 'me.credentials.change-sensitive' } }, async (req) => {
    const userId = actorOf(req).userId;
    const { phone } = phoneBody.parse(req.body);
    await changeWithAudit(identity(), audit(), async (tx) => {
      await smsOf(tx).enrolNumber(userId, phone);
      await tx.record({
        action: 'sms.enrol',
        actor: auditActor(req),
        target: { type: 'user', id: userId },
      });
    });
    return sms().sendCode(userId);
  });

  app.post('/v1/me/sms/confirm', { config: { action: 'me.credentials.change' } }, async (req) => {
    const { challengeId, code } = confirmBody.parse(req.body);
    const userId = actorOf(req).userId;
    // A wrong code must still spend its try: return (commit) rather than throw inside.
    const confirmed = await changeWithAudit(identity(), audit(), async (tx) => {
      if (!(await smsOf(tx).confirmNumber(userId, challengeId, code))) return false;
      await tx.record({
        action: 'sms.confirm',
        actor: auditActor(req),
        target: { type: 'user', id: userId },
      });
      return true;
    });
    if (!confirmed) throw new BulwarkError('bad_request', 'That code is not right, or it expired.');
    return (await sms().getNumber(userId)) ?? {};
  });

  app.delete(
    '/v1/me/sms',
    { config: { action: 'me.credentials.change-sensitive' } },
    async (req, reply) => {
      const userId = actorOf(req).userId;
      await changeWithAudit(identity(), audit(), async (tx) => {
        if (!(await smsOf(tx).removeNumber(userId))) {
          throw new BulwarkError('not_found', 'No phone number is enrolled for SMS codes.');
        }
        await tx.record({
          action: 'sms.remove',
          actor: auditActor(req),
          target: { type: 'user', id: userId },
        });
      });
      return reply.status(204).send();
    },
  );
}
