import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { Storage } from '../../storage/storage.ts';
import { actorOf, auditActor } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import { issueEnrolmentLink } from '../passkeys/enrolment-link.ts';
import { changeWithAudit } from '../transactional.ts';
import { type User, UserStore } from '../user-store.ts';

const idParams = z.object({ userId: z.uuid('expected a user id') }).strict();
const newUserBody = z
  .object({
    displayName: z.string().trim().min(1).max(100),
    username: z
      .string()
      .min(2)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
    email: z.email().max(254).optional(),
    /** Installation admin (creates orgs, reads the whole ledger); only installation admins grant it. */
    isAdmin: z.boolean().default(false),
    /** Role in the org; only org owners make admins. */
    orgRole: z.enum(['admin', 'member']).default('member'),
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
    orgId: u.orgId,
    orgRole: u.orgRole,
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
  const actorFor = auditActor;

  /** The caller's home org, when they administer it. */
  const administeredOrg = (req: FastifyRequest): string => {
    const actor = actorOf(req);
    if (actor.orgId === null || (actor.orgRole !== 'owner' && actor.orgRole !== 'admin')) {
      throw new BulwarkError('forbidden', 'Only admins of your org manage its accounts.');
    }
    return actor.orgId;
  };

  app.get('/v1/admin/users', { config: { action: 'org-users.list' } }, async (req) => ({
    users: (await identity().users.list(administeredOrg(req))).map(publicUser),
  }));

  app.post('/v1/admin/users', { config: { action: 'org-users.create' } }, async (req, reply) => {
    const orgId = administeredOrg(req);
    const body = newUserBody.parse(req.body);
    const actor = actorOf(req);
    if (body.isAdmin && !actor.isAdmin) {
      throw new BulwarkError('forbidden', 'Only installation admins make installation admins.');
    }
    if (body.orgRole === 'admin' && actor.orgRole !== 'owner') {
      throw new BulwarkError('forbidden', 'Only org owners make org admins.');
    }
    if (await identity().users.findByUsername(body.username)) {
      throw new BulwarkError('conflict', `The username ${body.username} is taken.`);
    }
    // The account, its enrolment link and the ledger entry commit together, or not at all.
    const { user, link } = await changeWithAudit(identity(), audit(), async (tx) => {
      const created = await tx.users.create({
        displayName: body.displayName,
        username: body.username,
        email: body.email ?? null,
        isAdmin: body.isAdmin,
        orgId,
        orgRole: body.orgRole,
      });
      const issued = await issueEnrolmentLink(
        { challenges: tx.challenges, relyingParty: identity().relyingParty },
        created.id,
      );
      await tx.record({
        action: 'user.create',
        actor: actorFor(req),
        target: { type: 'user', id: created.id },
        scope: { orgId },
        after: publicUser(created),
      });
      return { user: created, link: issued };
    });
    return reply.status(201).send({ user: publicUser(user), ...link });
  });

  /** A new enrolment link: for a lost link, or an admin reset after every factor was lost. */
  app.post(
    '/v1/admin/users/:userId/enrolment-link',
    { config: { action: 'user.admin-change' } },
    async (req) => {
      const { userId: id } = idParams.parse(req.params);
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
          scope: { orgId: user.orgId },
        });
        return link;
      });
    },
  );

  /**
   * The right to erasure: the person's data in the ledger is crypto-shredded
   * (their key deleted) and the account stripped to its id, in one
   * transaction with the ledger entry that records the erasure itself.
   */
  app.post('/v1/admin/users/:userId/erase', { config: { action: 'user.erase' } }, async (req) => {
    const { userId: id } = idParams.parse(req.params);
    if (id === actorOf(req).userId) {
      throw new BulwarkError('bad_request', 'You cannot erase your own account.');
    }
    const user = await identity().users.get(id);
    if (!user) throw new BulwarkError('not_found', 'No such user.');
    if (user.orgRole === 'owner') {
      throw new BulwarkError(
        'would_lock_out',
        'Owners are not erased: make them an admin or member first.',
      );
    }
    await changeWithAudit(identity(), audit(), async (tx) => {
      await tx.users.erase(id, identity().clock.now());
      await tx.sessions.revokeAllForUser(id, 'erased');
      await audit().erasePerson(tx.storage.db, id);
      await tx.record({
        action: 'user.erase',
        actor: actorFor(req),
        target: { type: 'user', id },
        scope: { orgId: user.orgId },
      });
    });
    return { erased: id };
  });

  app.put(
    '/v1/admin/users/:userId/status',
    { config: { action: 'user.admin-change' } },
    async (req) => {
      const { userId: id } = idParams.parse(req.params);
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
          scope: { orgId: user.orgId },
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
