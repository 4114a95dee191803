import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, auditActor, sourceOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import { setSessionCookie } from '../session-cookie.ts';
import { changeWithAudit } from '../transactional.ts';
import type { RecoveryCodeService } from './service.ts';

const recoveryLoginBody = z
  .object({
    username: z.string().min(1).max(256),
    code: z.string().min(1).max(64),
    session: z.enum(['cookie', 'bearer']).default('cookie'),
  })
  .strict();

export function registerRecoveryRoutes(
  app: App,
  deps: {
    identity: () => IdentityContext;
    recovery: () => RecoveryCodeService;
    throttle: LoginThrottle;
    sessionMaxAgeSeconds: number;
    audit: () => AuditLedger;
  },
) {
  /** Shown once; the old set dies. */
  app.post(
    '/v1/me/recovery-codes',
    { config: { action: 'me.credentials.change-sensitive' } },
    async (req) => {
      const userId = actorOf(req).userId;
      const codes = await changeWithAudit(deps.identity(), deps.audit(), async (tx) => {
        const fresh = await tx.recovery.generate(userId);
        await tx.record({
          action: 'recovery-codes.regenerate',
          actor: auditActor(req),
          target: { type: 'user', id: userId },
        });
        return fresh;
      });
      return {
        codes,
        warning:
          'Store these codes somewhere safe and offline; each works once. They are not shown again.',
      };
    },
  );

  app.get('/v1/me/recovery-codes', { config: { action: 'me.credentials.read' } }, async (req) => ({
    remaining: await deps.recovery().remaining(actorOf(req).userId),
  }));

  /**
   * Lost every passkey: a recovery code logs in once, with no step-up, so the
   * user can register a new passkey. Unknown users and wrong codes get the
   * same answer, after the same throttle.
   */
  app.post('/v1/auth/login/recovery', { config: { action: 'auth.login' } }, async (req, reply) => {
    const body = recoveryLoginBody.parse(req.body);
    const source = sourceOf(req);
    deps.throttle.check(body.username, source);
    const identity = deps.identity();
    const user = await identity.users.findByUsername(body.username);
    // The code is spent, the session made and the login recorded together.
    const made =
      user && user.status === 'active'
        ? await changeWithAudit(identity, deps.audit(), async (tx) => {
            if (!(await tx.recovery.redeem(user.id, body.code))) return null;
            const created = await tx.sessions.create(user.id, {
              kind: body.session,
              methods: ['recovery-code'],
              device: req.headers['user-agent'] ?? null,
            });
            await tx.record({
              action: 'session.create',
              actor: { kind: 'user', userId: user.id, source, channel: 'web' },
              target: { type: 'user', id: user.id },
              after: { methods: ['recovery-code'] },
            });
            return created;
          })
        : null;
    if (!made || !user) {
      deps.throttle.failure(body.username, source);
      throw new BulwarkError('login_failed');
    }
    deps.throttle.success(body.username, source);
    const { token, session } = made;
    if (body.session === 'cookie') {
      setSessionCookie(reply, token, deps.sessionMaxAgeSeconds);
      return {
        session: { id: session.id },
        remainingCodes: await deps.recovery().remaining(user.id),
      };
    }
    return {
      token,
      session: { id: session.id },
      remainingCodes: await deps.recovery().remaining(user.id),
    };
  });
}
