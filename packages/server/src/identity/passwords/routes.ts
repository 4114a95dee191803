import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, auditActor, sourceOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import type { RecoveryCodeService } from '../recovery/service.ts';
import { setSessionCookie } from '../session-cookie.ts';
import type { AuthMethod } from '../sessions/service.ts';
import type { SmsCodeService } from '../sms/service.ts';
import type { TotpService } from '../totp/service.ts';
import { changeWithAudit } from '../transactional.ts';
import type { PasswordService } from './service.ts';

type SecondFactor = 'totp' | 'recovery-code' | 'sms';

interface PendingLogin {
  userId: string;
  username: string;
  methods: SecondFactor[];
}

const SECOND_FACTOR_TTL_MS = 5 * 60_000;
const SECOND_FACTOR_TRIES = 5;

const passwordLoginBody = z
  .object({ username: z.string().min(1).max(256), password: z.string().min(1).max(4096) })
  .strict();
const secondFactorBody = z
  .object({
    challengeId: z.string().min(1).max(200),
    method: z.enum(['totp', 'recovery-code', 'sms']),
    code: z.string().min(1).max(64),
    smsChallengeId: z.string().min(1).max(200).optional(),
    session: z.enum(['cookie', 'bearer']).default('cookie'),
  })
  .strict();
const setPasswordBody = z.object({ password: z.string().min(1).max(4096) }).strict();

export interface PasswordRouteDeps {
  identity: () => IdentityContext;
  passwords: () => PasswordService;
  totp: () => TotpService;
  recovery: () => RecoveryCodeService;
  sms: (() => SmsCodeService) | null;
  throttle: LoginThrottle;
  passwordsAllowed: boolean;
  sessionMaxAgeSeconds: number;
  audit: () => AuditLedger;
}

/**
 * Username + password, always followed by a second factor: passwords are
 * phishable, so alone they never make a session. Only TOTP counts as a
 * fresh step-up among second factors (SMS and recovery codes do not).
 */
export function registerPasswordRoutes(app: App, deps: PasswordRouteDeps) {
  const requireAllowed = () => {
    if (!deps.passwordsAllowed) {
      throw new BulwarkError(
        'method_not_allowed_by_policy',
        'Passwords are not allowed on this server; use a passkey.',
      );
    }
  };

  app.post('/v1/auth/login/password', { config: { action: 'auth.login' } }, async (req) => {
    requireAllowed();
    const body = passwordLoginBody.parse(req.body);
    const source = sourceOf(req);
    deps.throttle.check(body.username, source);
    const identity = deps.identity();
    const user = await identity.users.findByUsername(body.username);
    // verify() costs the same for unknown users: no enumeration by timing.
    const ok = await deps.passwords().verify(user?.id ?? 'no-such-user', body.password);
    const methods =
      user && ok && user.status === 'active' ? await availableSecondFactors(deps, user.id) : [];
    if (!user || methods.length === 0) {
      deps.throttle.failure(body.username, source);
      throw new BulwarkError('login_failed');
    }
    const pending: PendingLogin = { userId: user.id, username: body.username, methods };
    const challenge = await identity.challenges.issue('second-factor', {
      userId: user.id,
      data: pending,
      ttlMs: SECOND_FACTOR_TTL_MS,
    });
    return {
      secondFactor: {
        challengeId: challenge.id,
        expiresAt: challenge.expiresAt.toISOString(),
        methods,
        ...(methods.includes('sms')
          ? { smsWarning: 'SMS codes are not secure; prefer your authenticator app.' }
          : {}),
      },
    };
  });

  /** Sends the SMS code of a pending password login (insecure; only when enabled and enrolled). */
  app.post(
    '/v1/auth/login/second-factor/sms',
    { config: { action: 'auth.login' } },
    async (req) => {
      const { challengeId } = z
        .object({ challengeId: z.string().min(1).max(200) })
        .strict()
        .parse(req.body);
      const pending = await deps
        .identity()
        .challenges.peek<PendingLogin>('second-factor', challengeId);
      if (!pending || !deps.sms || !pending.data.methods.includes('sms'))
        throw new BulwarkError('login_failed');
      return deps.sms().sendCode(pending.data.userId);
    },
  );

  app.post(
    '/v1/auth/login/second-factor',
    { config: { action: 'auth.login' } },
    async (req, reply) => {
      const body = secondFactorBody.parse(req.body);
      const identity = deps.identity();
      const source = sourceOf(req);
      const pending = await identity.challenges.peek<PendingLogin>(
        'second-factor',
        body.challengeId,
      );
      if (!pending) throw new BulwarkError('login_failed', 'The login expired; start again.');
      const { userId, username, methods } = pending.data;
      deps.throttle.check(username, source);
      // The try is counted before the code is compared, so parallel guesses cannot exceed the budget.
      if (
        !methods.includes(body.method) ||
        !(await identity.challenges.spendAttempt(
          'second-factor',
          body.challengeId,
          SECOND_FACTOR_TRIES,
        ))
      ) {
        throw new BulwarkError('login_failed');
      }
      const ok = await verifySecondFactor(deps, userId, body);
      if (!ok) {
        deps.throttle.failure(username, source);
        throw new BulwarkError('login_failed');
      }
      const authMethods: AuthMethod[] = ['password', body.method];
      // The pending login is spent, the session made and the login recorded together.
      const made = await changeWithAudit(identity, deps.audit(), async (tx) => {
        if (!(await tx.challenges.consume('second-factor', body.challengeId))) return null;
        const created = await tx.sessions.create(userId, {
          kind: body.session,
          methods: authMethods,
          device: req.headers['user-agent'] ?? null,
          stepUp: body.method === 'totp',
        });
        await tx.record({
          action: 'session.create',
          actor: { kind: 'user', userId, source, channel: 'web' },
          target: { type: 'user', id: userId },
          after: { methods: authMethods },
        });
        return created;
      });
      if (!made) throw new BulwarkError('login_failed', 'The login expired; start again.');
      deps.throttle.success(username, source);
      const { token, session } = made;
      if (body.session === 'cookie') {
        setSessionCookie(reply, token, deps.sessionMaxAgeSeconds);
        return { session: { id: session.id, methods: authMethods } };
      }
      return { token, session: { id: session.id, methods: authMethods } };
    },
  );

  app.put(
    '/v1/me/password',
    { config: { action: 'me.credentials.change-sensitive' } },
    async (req, reply) => {
      requireAllowed();
      const actor = actorOf(req);
      const { password } = setPasswordBody.parse(req.body);
      const user = await deps.identity().users.get(actor.userId);
      if (!user) throw new BulwarkError('unauthenticated');
      await changeWithAudit(deps.identity(), deps.audit(), async (tx) => {
        await tx.passwords.setPassword(user.id, password, {
          ...(user.username ? { username: user.username } : {}),
          ...(user.email ? { email: user.email } : {}),
          displayName: user.displayName,
        });
        // A new password ends every other session (it may have been changed because of a leak).
        await tx.sessions.revokeAllForUser(user.id, 'password-changed', actor.sessionId);
        await tx.record({
          action: 'password.set',
          actor: auditActor(req),
          target: { type: 'user', id: user.id },
        });
      });
      return reply.status(204).send();
    },
  );

  app.delete(
    '/v1/me/password',
    { config: { action: 'me.credentials.change-sensitive' } },
    async (req, reply) => {
      const userId = actorOf(req).userId;
      await changeWithAudit(deps.identity(), deps.audit(), async (tx) => {
        if (!(await tx.passwords.remove(userId))) {
          throw new BulwarkError('not_found', 'No password is set.');
        }
        await tx.record({
          action: 'password.remove',
          actor: auditActor(req),
          target: { type: 'user', id: userId },
        });
      });
      return reply.status(204).send();
    },
  );
}

async function availableSecondFactors(
  deps: PasswordRouteDeps,
  userId: string,
): Promise<SecondFactor[]> {
  const methods: SecondFactor[] = [];
  if (await deps.totp().isEnrolled(userId)) methods.push('totp');
  if ((await deps.recovery().remaining(userId)) > 0) methods.push('recovery-code');
  if (deps.sms && (await deps.sms().getNumber(userId))?.confirmed) methods.push('sms');
  return methods;
}

async function verifySecondFactor(
  deps: PasswordRouteDeps,
  userId: string,
  body: z.infer<typeof secondFactorBody>,
): Promise<boolean> {
  switch (body.method) {
    case 'totp':
      return deps.totp().verify(userId, body.code.replace(/\s+/g, ''));
    case 'recovery-code':
      return deps.recovery().redeem(userId, body.code);
    case 'sms':
      return deps.sms !== null && body.smsChallengeId !== undefined
        ? deps.sms().verifyCode(userId, body.smsChallengeId, body.code)
        : false;
  }
}
