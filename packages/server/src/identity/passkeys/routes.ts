import {
  emptyRequestSchema,
  enrolOptionsRequestSchema,
  enrolVerifyRequestSchema,
  loginVerifyRequestSchema,
  passkeyRegisterVerifyRequestSchema,
  passkeyRenameRequestSchema,
  setupOptionsRequestSchema,
  setupVerifyRequestSchema,
  stepUpVerifyRequestSchema,
} from '@bulwark/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import type { App } from '../../http/app.ts';
import type { Action } from '../../policy/actions.ts';
import { PolicyStore } from '../../policy/policy-store.ts';
import { homePolicyVerdict } from '../../policy/standing.ts';
import { actorOf, auditActor, sourceOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import { clearSessionCookie, setSessionCookie } from '../session-cookie.ts';
import { changeWithAudit, type TransactionalIdentity } from '../transactional.ts';
import type { NewSession } from './service.ts';
import { issueSetupLink } from './setup-link.ts';

/** Auth bodies are small: a WebAuthn response is a few kilobytes. */
const AUTH_BODY_LIMIT = 64 * 1024;

const idParamsSchema = z.object({ id: z.string().min(1).max(1024) });

/** Options requests carry no body, or an empty JSON object. */
const parseEmpty = (body: unknown) => emptyRequestSchema.parse(body ?? {});

function deviceOf(req: FastifyRequest): string | null {
  const ua = req.headers['user-agent'];
  return typeof ua === 'string' && ua.length > 0 ? ua : null;
}

function startSession(reply: FastifyReply, session: NewSession, kind: 'cookie' | 'bearer') {
  if (kind === 'bearer') return { user: session.user, token: session.token };
  setSessionCookie(reply, session.token, session.maxAgeSeconds);
  return { user: session.user };
}

/** Passkey setup, login, step-up, logout and managing one's passkeys. */
export function registerPasskeyRoutes(identity: () => IdentityContext, audit: () => AuditLedger) {
  const change = <T>(fn: (tx: TransactionalIdentity) => Promise<T>) =>
    changeWithAudit(identity(), audit(), fn);
  return (app: App): void => {
    // The request guard sets req.actor and enforces the action's rule and step-up.
    const as = (action: Action) => ({ config: { action }, bodyLimit: AUTH_BODY_LIMIT });

    // A new first-admin link, for when the one printed at init expired or was lost.
    app.post('/v1/sys/setup-link', as('sys.setup-link'), async (req) =>
      issueSetupLink(identity(), audit(), {
        kind: 'operator',
        source: sourceOf(req),
        channel: 'api',
      }),
    );

    app.post('/v1/auth/setup/options', as('auth.setup'), async (req) =>
      identity().passkeys.startSetup(setupOptionsRequestSchema.parse(req.body)),
    );

    app.post('/v1/auth/setup/verify', as('auth.setup'), async (req, reply) => {
      const body = setupVerifyRequestSchema.parse(req.body);
      const session = await change(async (tx) => {
        const made = await tx.passkeys.finishSetup({ ...body, device: deviceOf(req) });
        const actor = {
          kind: 'user' as const,
          userId: made.user.id,
          source: sourceOf(req),
          channel: 'web' as const,
        };
        await tx.record({
          action: 'user.create-first-admin',
          actor,
          target: { type: 'user', id: made.user.id },
          after: made.user,
        });
        await tx.record({
          action: 'passkey.add',
          actor,
          target: { type: 'user', id: made.user.id },
        });
        return made;
      });
      return startSession(reply, session, 'cookie');
    });

    app.post('/v1/auth/enrol/options', as('auth.enrol'), async (req) => {
      const { token } = enrolOptionsRequestSchema.parse(req.body);
      return identity().passkeys.startEnrolment(token);
    });

    app.post('/v1/auth/enrol/verify', as('auth.enrol'), async (req, reply) => {
      const body = enrolVerifyRequestSchema.parse(req.body);
      const session = await change(async (tx) => {
        const made = await tx.passkeys.finishEnrolment({ ...body, device: deviceOf(req) });
        await tx.record({
          action: 'passkey.add',
          actor: { kind: 'user', userId: made.user.id, source: sourceOf(req), channel: 'web' },
          target: { type: 'user', id: made.user.id },
        });
        return made;
      });
      return startSession(reply, session, 'cookie');
    });

    app.post('/v1/auth/passkey/login/options', as('auth.login'), async (req) => {
      parseEmpty(req.body);
      return identity().passkeys.startLogin();
    });

    app.post('/v1/auth/passkey/login/verify', as('auth.login'), async (req, reply) => {
      const body = loginVerifyRequestSchema.parse(req.body);
      const session = await change(async (tx) => {
        const made = await tx.passkeys.finishLogin({
          challengeId: body.challengeId,
          response: body.response,
          session: body.session,
          device: deviceOf(req),
          log: req.log,
        });
        await tx.record({
          action: 'session.create',
          actor: { kind: 'user', userId: made.user.id, source: sourceOf(req), channel: 'web' },
          target: { type: 'user', id: made.user.id },
          after: { methods: ['passkey'] },
        });
        return made;
      });
      return startSession(reply, session, body.session);
    });

    app.post('/v1/auth/logout', as('auth.logout'), async (req, reply) => {
      const actor = actorOf(req);
      await change(async (tx) => {
        await tx.sessions.revokeOwn(actor.userId, actor.sessionId);
        await tx.record({
          action: 'session.logout',
          actor: auditActor(req),
          target: { type: 'session', id: actor.sessionId },
        });
      });
      clearSessionCookie(reply);
      return reply.status(204).send();
    });

    app.post('/v1/auth/step-up/options', as('auth.step-up'), async (req) => {
      parseEmpty(req.body);
      return identity().passkeys.startStepUp(actorOf(req));
    });

    app.post('/v1/auth/step-up/verify', as('auth.step-up'), async (req) => {
      const body = stepUpVerifyRequestSchema.parse(req.body);
      return change(async (tx) => {
        const result = await tx.passkeys.finishStepUp(actorOf(req), { ...body, log: req.log });
        await tx.record({
          action: 'session.step-up',
          actor: auditActor(req),
          target: { type: 'session', id: actorOf(req).sessionId },
        });
        return result;
      });
    });

    app.get('/v1/me', as('me.read'), async (req) => {
      const actor = actorOf(req);
      // Answered even when the session fails its org's policy, so the client can say why.
      const verdict = await homePolicyVerdict(
        new PolicyStore(identity().storage),
        actor,
        sourceOf(req),
        identity().clock.now(),
      );
      return {
        user: await identity().passkeys.userSummary(actor.userId),
        orgId: actor.orgId,
        orgRole: actor.orgRole,
        methods: actor.methods,
        stepUpAt: actor.stepUpAt?.toISOString() ?? null,
        policy: verdict.ok
          ? { satisfied: true }
          : { satisfied: false, rule: verdict.rule, message: verdict.message },
      };
    });

    app.get('/v1/me/passkeys', as('me.credentials.read'), async (req) => ({
      passkeys: await identity().passkeys.list(actorOf(req).userId),
    }));

    app.post('/v1/me/passkeys/options', as('me.credentials.change-sensitive'), async (req) => {
      parseEmpty(req.body);
      return identity().passkeys.startRegistration(actorOf(req));
    });

    app.post('/v1/me/passkeys/verify', as('me.credentials.change-sensitive'), async (req) => {
      const body = passkeyRegisterVerifyRequestSchema.parse(req.body);
      const passkey = await change(async (tx) => {
        const added = await tx.passkeys.finishRegistration(actorOf(req), body);
        await tx.record({
          action: 'passkey.add',
          actor: auditActor(req),
          target: { type: 'passkey', id: added.id },
        });
        return added;
      });
      return { passkey };
    });

    app.patch('/v1/me/passkeys/:id', as('me.credentials.change'), async (req) => {
      const { id } = idParamsSchema.parse(req.params);
      const { name } = passkeyRenameRequestSchema.parse(req.body);
      const passkey = await change(async (tx) => {
        const renamed = await tx.passkeys.rename(actorOf(req).userId, id, name);
        await tx.record({
          action: 'passkey.rename',
          actor: auditActor(req),
          target: { type: 'passkey', id },
        });
        return renamed;
      });
      return { passkey };
    });

    app.delete('/v1/me/passkeys/:id', as('me.credentials.change-sensitive'), async (req, reply) => {
      const { id } = idParamsSchema.parse(req.params);
      await change(async (tx) => {
        await tx.passkeys.remove(actorOf(req).userId, id);
        await tx.record({
          action: 'passkey.remove',
          actor: auditActor(req),
          target: { type: 'passkey', id },
        });
      });
      return reply.status(204).send();
    });
  };
}
