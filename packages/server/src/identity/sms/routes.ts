import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf } from '../actor.ts';
import type { SmsCodeService } from './service.ts';

const phoneBody = z.object({ phone: z.string().min(1).max(32) }).strict();
const confirmBody = z
  .object({ challengeId: z.string().min(1).max(200), code: z.string().min(1).max(32) })
  .strict();

/**
 * SMS as a second factor: only registered when enabled in config, and every
 * answer carries `insecure: true` and a warning the client must show.
 */
export function registerSmsRoutes(app: App, sms: () => SmsCodeService) {
  app.get('/v1/me/sms', { config: { access: 'authenticated' } }, async (req) => {
    const status = await sms().getNumber(actorOf(req).userId);
    if (!status) throw new BulwarkError('not_found', 'No phone number is enrolled for SMS codes.');
    return status;
  });

  app.post('/v1/me/sms', { config: { access: 'authenticated', stepUp: true } }, async (req) => {
    const userId = actorOf(req).userId;
    const { phone } = phoneBody.parse(req.body);
    await sms().enrolNumber(userId, phone);
    return sms().sendCode(userId);
  });

  app.post('/v1/me/sms/confirm', { config: { access: 'authenticated' } }, async (req) => {
    const { challengeId, code } = confirmBody.parse(req.body);
    if (!(await sms().confirmNumber(actorOf(req).userId, challengeId, code))) {
      throw new BulwarkError('bad_request', 'That code is not right, or it expired.');
    }
    return (await sms().getNumber(actorOf(req).userId)) ?? {};
  });

  app.delete(
    '/v1/me/sms',
    { config: { access: 'authenticated', stepUp: true } },
    async (req, reply) => {
      if (!(await sms().removeNumber(actorOf(req).userId))) {
        throw new BulwarkError('not_found', 'No phone number is enrolled for SMS codes.');
      }
      return reply.status(204).send();
    },
  );
}
