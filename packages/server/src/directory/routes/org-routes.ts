import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, sourceOf } from '../../identity/actor.ts';
import { ChallengeStore } from '../../identity/challenges/challenge-store.ts';
import { issueEnrolmentLink } from '../../identity/passkeys/enrolment-link.ts';
import { UserStore } from '../../identity/user-store.ts';
import { effectivePolicy } from '../../policy/effective.ts';
import { lockOutReason } from '../../policy/lockout.ts';
import { orgPolicySchema } from '../../policy/policy.ts';
import { PolicyStore } from '../../policy/policy-store.ts';
import { GroupStore } from '../groups.ts';
import { OrgStore, slugPattern } from '../orgs.ts';
import { PartnerLinkStore } from '../partner-links.ts';
import { MemberStore, ProjectStore, projectKeyPattern } from '../projects.ts';
import { type DirectoryDeps, directoryChange } from '../transaction.ts';
import { authzOf, displayText, scopeOrg, uuid } from './shared.ts';

const username = z
  .string()
  .min(2)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only');
const orgBody = z
  .object({
    slug: z.string().regex(slugPattern, 'lowercase letters, digits and inner dashes, 1-40'),
    name: displayText(100),
    owner: z
      .object({ displayName: displayText(100), username, email: z.email().max(254).optional() })
      .strict(),
  })
  .strict();
const renameBody = z.object({ name: displayText(100) }).strict();
const projectBody = z
  .object({
    key: z.string().regex(projectKeyPattern, '2-10 capitals and digits, starting with a letter'),
    name: displayText(100),
    description: z.string().max(2000).nullable().default(null),
  })
  .strict();
const groupBody = z
  .object({ name: displayText(100), ldapDn: z.string().min(3).max(1000).nullable().default(null) })
  .strict();
const roleBody = z.object({ role: z.enum(['owner', 'admin', 'member']) }).strict();
const userParams = z.object({ userId: uuid('a user') }).strict();

/** Orgs (tenants), their default policy, and the org-level lists. */
export function registerOrgRoutes(deps: DirectoryDeps) {
  const storage = () => deps.identity().storage;
  const now = () => deps.identity().clock.now();

  return (app: App): void => {
    app.get('/v1/orgs', { config: { action: 'org.list' } }, async (req) => {
      const actor = actorOf(req);
      const orgs = new OrgStore(storage());
      if (actor.isAdmin) return { orgs: await orgs.list() };
      // One's own org (not for guests) and the orgs whose projects one belongs to.
      const ids = new Set<string>();
      if (actor.orgId !== null && actor.orgRole !== 'guest') ids.add(actor.orgId);
      const projects = new ProjectStore(storage());
      for (const id of await new MemberStore(storage()).projectsOf(actor.userId)) {
        const p = await projects.get(id);
        if (p) ids.add(p.orgId);
      }
      // A partner org's admins see the orgs that invited theirs.
      if (actor.orgId !== null && (actor.orgRole === 'owner' || actor.orgRole === 'admin')) {
        for (const link of await new PartnerLinkStore(storage()).forOrg(actor.orgId)) {
          if (link.status !== 'ended') ids.add(link.hostOrgId);
        }
      }
      return { orgs: await orgs.list([...ids]) };
    });

    app.post('/v1/orgs', { config: { action: 'org.create' } }, async (req, reply) => {
      const body = orgBody.parse(req.body);
      const identity = deps.identity();
      if (await identity.users.findByUsername(body.owner.username)) {
        throw new BulwarkError('conflict', `The username ${body.owner.username} is taken.`);
      }
      const made = await directoryChange(deps, req, async (tx) => {
        const org = await new OrgStore(tx.storage).create(
          { slug: body.slug, name: body.name },
          now(),
        );
        const owner = await new UserStore(tx.storage).create(
          {
            displayName: body.owner.displayName,
            username: body.owner.username,
            email: body.owner.email ?? null,
            orgId: org.id,
            orgRole: 'owner',
          },
          now(),
        );
        const challenges = new ChallengeStore({
          storage: tx.storage,
          hasher: identity.hasher,
          clock: identity.clock,
        });
        const link = await issueEnrolmentLink(
          { challenges, relyingParty: identity.relyingParty },
          owner.id,
        );
        const scope = { orgId: org.id };
        await tx.record({
          action: 'org.create',
          target: { type: 'org', id: org.id },
          after: org,
          scope,
        });
        await tx.record({
          action: 'user.create',
          scope,
          target: { type: 'user', id: owner.id },
          after: { id: owner.id, orgId: org.id, orgRole: 'owner' },
        });
        return { org, owner: { id: owner.id, ...link } };
      });
      return reply.status(201).send(made);
    });

    app.get('/v1/orgs/:orgId', { config: { action: 'org.read' } }, async (req) => {
      const org = await new OrgStore(storage()).get(scopeOrg(req));
      return { org, role: authzOf(req).relation.orgRole };
    });

    app.patch('/v1/orgs/:orgId', { config: { action: 'org.update' } }, async (req) => {
      const { name } = renameBody.parse(req.body);
      const orgId = scopeOrg(req);
      return directoryChange(deps, req, async (tx) => {
        const orgs = new OrgStore(tx.storage);
        const before = await orgs.get(orgId);
        await orgs.rename(orgId, name, now());
        const after = await orgs.get(orgId);
        await tx.record({
          action: 'org.update',
          target: { type: 'org', id: orgId },
          before,
          after,
        });
        return { org: after };
      });
    });

    app.get('/v1/orgs/:orgId/policy', { config: { action: 'org.policy.read' } }, async (req) => ({
      policy: await new PolicyStore(storage()).orgPolicy(scopeOrg(req)),
    }));

    app.put('/v1/orgs/:orgId/policy', { config: { action: 'org.policy.update' } }, async (req) => {
      const orgId = scopeOrg(req);
      const policy = orgPolicySchema.parse(req.body);
      const actor = actorOf(req);
      const answer = await directoryChange(deps, req, async (tx) => {
        const admins = await tx.storage.db
          .selectFrom('users')
          .select('id')
          .where('org_id', '=', orgId)
          .where('org_role', 'in', ['owner', 'admin'])
          .where('status', '=', 'active')
          .execute();
        const reason = await lockOutReason(
          tx.storage,
          effectivePolicy(policy, null).internal,
          admins.map((a) => a.id),
          { userId: actor.userId, source: sourceOf(req) },
        );
        if (reason) throw new BulwarkError('would_lock_out', `Policy refused: ${reason}.`);
        const before = await new PolicyStore(tx.storage).orgPolicy(orgId);
        await new OrgStore(tx.storage).setPolicy(orgId, policy, now());
        await tx.record({
          action: 'org.policy.update',
          target: { type: 'org', id: orgId },
          before,
          after: policy,
        });
        return { policy };
      });
      await deps.policyChanged?.();
      return answer;
    });

    app.get(
      '/v1/orgs/:orgId/partner-links',
      { config: { action: 'org.partner-links.list' } },
      async (req) => ({ links: await new PartnerLinkStore(storage()).forOrg(scopeOrg(req)) }),
    );

    app.get(
      '/v1/orgs/:orgId/projects',
      { config: { action: 'org.projects.list' } },
      async (req) => {
        const orgId = scopeOrg(req);
        const { relation } = authzOf(req);
        const all = await new ProjectStore(storage()).listForOrg(orgId);
        if (relation.orgRole === 'owner' || relation.orgRole === 'admin') return { projects: all };
        // Everyone else sees only the projects they belong to (need to know).
        const mine = new Set(await new MemberStore(storage()).projectsOf(actorOf(req).userId));
        return { projects: all.filter((p) => mine.has(p.id)) };
      },
    );

    app.post(
      '/v1/orgs/:orgId/projects',
      { config: { action: 'org.projects.create' } },
      async (req, reply) => {
        const body = projectBody.parse(req.body);
        const orgId = scopeOrg(req);
        const project = await directoryChange(deps, req, async (tx) => {
          const created = await new ProjectStore(tx.storage).create({ orgId, ...body }, now());
          await new MemberStore(tx.storage).put(
            { projectId: created.id, userId: actorOf(req).userId, role: 'owner', viaLinkId: null },
            actorOf(req).userId,
            now(),
          );
          await tx.record({
            action: 'project.create',
            target: { type: 'project', id: created.id },
            after: created,
            scope: { orgId, projectId: created.id },
          });
          return created;
        });
        return reply.status(201).send({ project });
      },
    );

    app.get('/v1/orgs/:orgId/groups', { config: { action: 'org.groups.list' } }, async (req) => ({
      groups: await new GroupStore(storage()).listForOrg(scopeOrg(req)),
    }));

    app.post(
      '/v1/orgs/:orgId/groups',
      { config: { action: 'org.groups.create' } },
      async (req, reply) => {
        const body = groupBody.parse(req.body);
        const orgId = scopeOrg(req);
        const group = await directoryChange(deps, req, async (tx) => {
          const created = await new GroupStore(tx.storage).create({ orgId, ...body }, now());
          await tx.record({
            action: 'group.create',
            target: { type: 'group', id: created.id },
            after: created,
          });
          return created;
        });
        return reply.status(201).send({ group });
      },
    );

    app.put(
      '/v1/admin/users/:userId/org-role',
      { config: { action: 'user.role-change' } },
      async (req) => {
        const { userId } = userParams.parse(req.params);
        const { role } = roleBody.parse(req.body);
        const orgId = scopeOrg(req);
        return directoryChange(deps, req, async (tx) => {
          const users = new UserStore(tx.storage);
          const user = await users.get(userId);
          if (!user) throw new BulwarkError('not_found', 'No such user.');
          if (user.orgRole === 'guest') {
            throw new BulwarkError('bad_request', 'Guests have no org role to change.');
          }
          if (user.orgRole === 'owner' && role !== 'owner') {
            const owners = await tx.storage.db
              .selectFrom('users')
              .select('id')
              .where('org_id', '=', orgId)
              .where('org_role', '=', 'owner')
              .where('status', '=', 'active')
              .execute();
            if (owners.length <= 1) {
              throw new BulwarkError(
                'would_lock_out',
                'That is the org’s last owner; make someone else owner first.',
              );
            }
          }
          await users.setOrgRole(userId, role, now());
          await tx.record({
            action: 'user.org-role',
            target: { type: 'user', id: userId },
            before: { orgRole: user.orgRole },
            after: { orgRole: role },
          });
          return { user: { id: userId, orgId, orgRole: role } };
        });
      },
    );
  };
}
