import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { Storage } from '../../storage/storage.ts';
import { actorOf, sourceOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import { issueEnrolmentLink } from '../passkeys/enrolment-link.ts';
import { changeWithAudit } from '../transactional.ts';
import { type User, UserStore } from '../user-store.ts';

const idParams = z.object({ id: z.uuid('expected a user id') }).strict();
const newUserBody = z
  .object({
    displayName: z.string().trim().min(1).max(100),
    username: z
      .string()
      .min(2)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
    email: z.email().max(254).optional(),
    isAdmin: z.boolean().default(false),
  })
  .strict();
const statusBody = z.object({ status: z.enum(['active', 'disabled']) }).strict();

function publicUser(u: User) {
  return {
    id: u.id,
    displayName: u.displayName,
    username: u.username,
    email: u.email,
    status: u.status,
    isAdmin: u.isAdmin,
    source: u.source,
    createdAt: u.createdAt,
  };
}

/**
 * Local accounts, made by admins: there is no default password — a new
 * account gets a one-time enrolment link to register its passkey. The
 * directory issue adds orgs, projects and invitations on top.
 */
export function registerAdminUserRoutes(
  app: App,
  identity: () => IdentityContext,
  audit: () => AuditLedger,
) {
  const actorFor = (req: FastifyRequest) => {
    const actor = actorOf(req);
    return {
      kind: 'user' as const,
      userId: actor.userId,
      sessionId: actor.sessionId,
      source: sourceOf(req),
      channel: 'api' as const,
    };
  };

  app.get('/v1/admin/users', { config: { access: 'admin' } }, async () => ({
    users: (await identity().users.list()).map(publicUser),
  }));

  app.post('/v1/admin/users', { config: { access: 'admin', stepUp: true } }, async (req, reply) => {
    const body = newUserBody.parse(req.body);
    if (await identity().users.findByUsername(body.username)) {
      throw new BulwarkError('bad_request', `The username ${body.username} is taken.`);
    }
    // The account, its enrolment link and the ledger entry commit together, or not at all.
    const { user, link } = await changeWithAudit(identity(), audit(), async (tx) => {
      const created = await tx.users.create({
        displayName: body.displayName,
        username: body.username,
        email: body.email ?? null,
        isAdmin: body.isAdmin,
      });
      const issued = await issueEnrolmentLink(
        { challenges: tx.challenges, relyingParty: identity().relyingParty },
        created.id,
      );
      await tx.record({
        action: 'user.create',
        actor: actorFor(req),
        target: { type: 'user', id: created.id },
        after: publicUser(created),
      });
      return { user: created, link: issued };
    });
    return reply.status(201).send({ user: publicUser(user), ...link });
  });

  /** A new enrolment link: for a lost link, or an admin reset after every factor was lost. */
  app.post(
    '/v1/admin/users/:id/enrolment-link',
    { config: { access: 'admin', stepUp: true } },
    async (req) => {
      const { id } = idParams.parse(req.params);
      const user = await identity().users.get(id);
      if (!user) throw new BulwarkError('not_found', 'No such user.');
      if (user.status !== 'active')
        throw new BulwarkError('bad_request', 'The account is disabled.');
      return changeWithAudit(identity(), audit(), async (tx) => {
        const link = await issueEnrolmentLink(
          { challenges: tx.challenges, relyingParty: identity().relyingParty },
          user.id,
        );
        await tx.record({
          action: 'user.enrolment-link',
          actor: actorFor(req),
          target: { type: 'user', id: user.id },
        });
        return link;
      });
    },
  );

  app.put(
    '/v1/admin/users/:id/status',
    { config: { access: 'admin', stepUp: true } },
    async (req) => {
      const { id } = idParams.parse(req.params);
      const { status } = statusBody.parse(req.body);
      if (id === actorOf(req).userId && status === 'disabled') {
        throw new BulwarkError('bad_request', 'You cannot disable your own account.');
      }
      const users = identity().users;
      const user = await users.get(id);
      if (!user) throw new BulwarkError('not_found', 'No such user.');
      const storage = identity().storage;
      await storage.db.transaction().execute(async (trx) => {
        await new UserStore(new Storage(trx, storage.backend, storage.fields)).setStatus(
          id,
          status,
        );
        await audit().append(trx, {
          action: 'user.status',
          actor: actorFor(req),
          target: { type: 'user', id },
          before: publicUser(user),
          after: publicUser({ ...user, status }),
        });
      });
      // Disabling ends every session at once, not at the next expiry.
      if (status === 'disabled') await identity().sessions.revokeAllForUser(id, 'disabled');
      return { user: publicUser({ ...user, status }) };
    },
  );
}
