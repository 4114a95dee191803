import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, sourceOf } from '../../identity/actor.ts';
import { UserStore } from '../../identity/user-store.ts';
import { roleRank } from '../../policy/actions.ts';
import { effectivePolicy, loosenings } from '../../policy/effective.ts';
import { lockOutReason } from '../../policy/lockout.ts';
import { projectPolicySchema } from '../../policy/policy.ts';
import { PolicyStore } from '../../policy/policy-store.ts';
import type { Relation } from '../../policy/relation.ts';
import type { Storage } from '../../storage/storage.ts';
import { GroupStore } from '../groups.ts';
import { InvitationStore } from '../invitations.ts';
import { OrgStore } from '../orgs.ts';
import { PartnerLinkStore } from '../partner-links.ts';
import { MemberStore, ProjectStore } from '../projects.ts';
import { type DirectoryDeps, directoryChange } from '../transaction.ts';
import { authzOf, displayText, projectRole, scopeProject, uuid } from './shared.ts';

const updateBody = z
  .object({
    name: displayText(100).optional(),
    description: z.string().max(2000).nullable().optional(),
  })
  .strict();
const memberParams = z.object({ projectId: uuid('a project'), userId: uuid('a user') }).strict();
const groupParams = z.object({ projectId: uuid('a project'), groupId: uuid('a group') }).strict();
const roleBody = z.object({ role: projectRole }).strict();
const linkBody = z
  .object({
    partnerOrg: z.string().min(1).max(40).describe('the partner org’s slug'),
    maxRole: z.enum(['admin', 'member', 'viewer']).default('member'),
  })
  .strict();
const invitationBody = z
  .object({
    email: z.email().max(254).optional(),
    domain: z
      .string()
      .max(253)
      .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'a DNS domain')
      .optional(),
    role: z.enum(['admin', 'member', 'viewer']).default('member'),
    expiresInHours: z.number().int().min(1).max(720).default(168),
  })
  .strict()
  .refine((b) => (b.email === undefined) !== (b.domain === undefined), {
    message: 'give exactly one of email or domain',
  });

const isProjectAdmin = (r: Relation) =>
  r.orgRole === 'owner' ||
  r.orgRole === 'admin' ||
  (r.projectKind === 'internal' && r.projectRole !== null && roleRank[r.projectRole] >= 3);

/** The people who administer a project: its internal owners/admins and its org's admins. */
export async function projectAdmins(storage: Storage, projectId: string): Promise<string[]> {
  const project = await new ProjectStore(storage).get(projectId);
  if (!project) return [];
  const members = await new MemberStore(storage).list(projectId);
  const ids = new Set(
    members
      .filter((m) => m.kind === 'internal' && roleRank[m.role] >= roleRank.admin)
      .map((m) => m.userId),
  );
  const orgAdmins = await storage.db
    .selectFrom('users')
    .select('id')
    .where('org_id', '=', project.orgId)
    .where('org_role', 'in', ['owner', 'admin'])
    .where('status', '=', 'active')
    .execute();
  for (const a of orgAdmins) ids.add(a.id);
  return [...ids];
}

/** Projects, their policy, members, groups, partner links and invitations. */
export function registerProjectRoutes(deps: DirectoryDeps) {
  const storage = () => deps.identity().storage;
  const now = () => deps.identity().clock.now();
  /** Live updates, after the commit: ids and what changed, never the new values. */
  const announce = (projectId: string, event: object, accessChanged = false) =>
    deps.publish?.(projectId, event, { accessChanged });

  const lastOwnerGuard = async (s: Storage, projectId: string, userId: string) => {
    const members = await new MemberStore(s).list(projectId);
    const owners = members.filter((m) => m.role === 'owner');
    if (owners.length === 1 && owners[0]?.userId === userId) {
      throw new BulwarkError(
        'would_lock_out',
        'That is the project’s last owner; make someone else owner first.',
      );
    }
  };

  /** Who may add, change or remove this person, and how (a project admin, or a partner org's admin). */
  const memberChangeRoute = async (req: FastifyRequest, s: Storage, userId: string) => {
    const projectId = scopeProject(req);
    const { relation } = authzOf(req);
    const actor = actorOf(req);
    const project = await new ProjectStore(s).get(projectId);
    const target = await new UserStore(s).get(userId);
    const existing = await new MemberStore(s).get(projectId, userId);
    if (!project || !target) throw new BulwarkError('not_found', 'No such user.');
    const targetInternal = target.orgId === project.orgId && target.orgRole !== 'guest';
    if (isProjectAdmin(relation) && (targetInternal || existing)) {
      if (targetInternal) return { projectId, viaLinkId: null, maxRole: 'owner' as const };
      // An external keeps the ceiling they came in with: their link's role, or member for guests.
      const link = existing?.viaLinkId
        ? await new PartnerLinkStore(s).get(existing.viaLinkId)
        : null;
      return {
        projectId,
        viaLinkId: existing?.viaLinkId ?? null,
        maxRole: link?.maxRole ?? 'member',
      };
    }
    // A partner org's admins decide which of their own people join, up to the link's role.
    if (relation.partnerAdmin && actor.orgId !== null && target.orgId === actor.orgId) {
      const link = await new PartnerLinkStore(s).live(projectId, actor.orgId);
      if (link?.status !== 'active') {
        throw new BulwarkError(
          'conflict',
          'Accept the partner link before adding people through it.',
        );
      }
      return { projectId, viaLinkId: link.id, maxRole: link.maxRole };
    }
    // Anyone else is somebody the caller may not know of: the same answer as an unused id.
    throw new BulwarkError('not_found', 'No such user.');
  };

  return (app: App): void => {
    app.get('/v1/projects/:projectId', { config: { action: 'project.read' } }, async (req) => {
      const { relation } = authzOf(req);
      return {
        project: await new ProjectStore(storage()).get(scopeProject(req)),
        role: relation.projectRole,
        kind: relation.projectKind,
      };
    });

    app.patch('/v1/projects/:projectId', { config: { action: 'project.update' } }, async (req) => {
      const change = updateBody.parse(req.body);
      const id = scopeProject(req);
      const updated = await directoryChange(deps, req, async (tx) => {
        const projects = new ProjectStore(tx.storage);
        const before = await projects.get(id);
        await projects.update(id, change, now());
        const after = await projects.get(id);
        await tx.record({
          action: 'project.update',
          target: { type: 'project', id },
          before,
          after,
        });
        return { project: after };
      });
      await announce(id, { type: 'project.updated', fields: Object.keys(change) });
      return updated;
    });

    app.delete(
      '/v1/projects/:projectId',
      { config: { action: 'project.archive' } },
      async (req, reply) => {
        const id = scopeProject(req);
        await directoryChange(deps, req, async (tx) => {
          await new ProjectStore(tx.storage).archive(id, now());
          await tx.record({ action: 'project.archive', target: { type: 'project', id } });
        });
        await announce(id, { type: 'project.archived' }, true);
        return reply.status(204).send();
      },
    );

    app.get(
      '/v1/projects/:projectId/policy',
      { config: { action: 'project.policy.read' } },
      async (req) => {
        const { org, override, effective } = await new PolicyStore(storage()).effectiveForProject(
          scopeProject(req),
        );
        return { org, project: override, effective };
      },
    );

    app.put(
      '/v1/projects/:projectId/policy',
      { config: { action: 'project.policy.update' } },
      async (req) => {
        const id = scopeProject(req);
        const override = projectPolicySchema.parse(req.body);
        const actor = actorOf(req);
        const answer = await directoryChange(deps, req, async (tx) => {
          const policies = new PolicyStore(tx.storage);
          const { orgId, override: before } = await policies.projectPolicy(id);
          const org = await policies.orgPolicy(orgId);
          const looser = loosenings(org, override);
          if (looser.length > 0) {
            throw new BulwarkError(
              'bad_request',
              `A project policy may only tighten its org's: ${looser.join('; ')}.`,
            );
          }
          const effective = effectivePolicy(org, override);
          const reason = await lockOutReason(
            tx.storage,
            effective.internal,
            await projectAdmins(tx.storage, id),
            { userId: actor.userId, source: sourceOf(req) },
          );
          if (reason) throw new BulwarkError('would_lock_out', `Policy refused: ${reason}.`);
          await new ProjectStore(tx.storage).setPolicy(id, override, now());
          await tx.record({
            action: 'project.policy.update',
            target: { type: 'project', id },
            before,
            after: override,
          });
          return { org, project: override, effective };
        });
        await deps.policyChanged?.();
        return answer;
      },
    );

    app.get(
      '/v1/projects/:projectId/members',
      { config: { action: 'project.members.list' } },
      async (req) => {
        const id = scopeProject(req);
        const users = new UserStore(storage());
        const people = [];
        for (const m of await new MemberStore(storage()).list(id)) {
          const u = await users.get(m.userId);
          people.push({ ...m, displayName: u?.displayName ?? null, username: u?.username ?? null });
        }
        return { members: people, groups: await new MemberStore(storage()).groups(id) };
      },
    );

    app.put(
      '/v1/projects/:projectId/members/:userId',
      { config: { action: 'project.members.change' } },
      async (req) => {
        const { userId } = memberParams.parse(req.params);
        const { role } = roleBody.parse(req.body);
        const changed = await directoryChange(deps, req, async (tx) => {
          const how = await memberChangeRoute(req, tx.storage, userId);
          if (roleRank[role] > roleRank[how.maxRole]) {
            throw new BulwarkError(
              'forbidden',
              `This person may hold at most the role ${how.maxRole} here (external members are capped by their partner link; guests by member).`,
            );
          }
          const { relation } = authzOf(req);
          const mayMakeOwner =
            relation.orgRole === 'owner' ||
            relation.orgRole === 'admin' ||
            relation.projectRole === 'owner';
          if (role === 'owner' && !mayMakeOwner) {
            throw new BulwarkError('forbidden', 'Only owners make owners.');
          }
          const members = new MemberStore(tx.storage);
          const before = await members.get(how.projectId, userId);
          if (before?.role === 'owner' && role !== 'owner') {
            await lastOwnerGuard(tx.storage, how.projectId, userId);
          }
          await members.put(
            { projectId: how.projectId, userId, role, viaLinkId: how.viaLinkId },
            actorOf(req).userId,
            now(),
          );
          const after = await members.get(how.projectId, userId);
          await tx.record({
            action: before ? 'project.member.role' : 'project.member.add',
            target: { type: 'project-member', id: `${how.projectId}/${userId}` },
            before,
            after,
          });
          return { member: after };
        });
        await announce(scopeProject(req), { type: 'member.changed', user: userId });
        return changed;
      },
    );

    app.delete(
      '/v1/projects/:projectId/members/:userId',
      { config: { action: 'project.members.change' } },
      async (req, reply) => {
        const { userId } = memberParams.parse(req.params);
        await directoryChange(deps, req, async (tx) => {
          const how = await memberChangeRoute(req, tx.storage, userId);
          await lastOwnerGuard(tx.storage, how.projectId, userId);
          const members = new MemberStore(tx.storage);
          const before = await members.get(how.projectId, userId);
          if (!before || !(await members.remove(how.projectId, userId))) {
            throw new BulwarkError('not_found', 'That person is not a member.');
          }
          await tx.record({
            action: 'project.member.remove',
            target: { type: 'project-member', id: `${how.projectId}/${userId}` },
            before,
          });
        });
        await announce(scopeProject(req), { type: 'member.changed', user: userId }, true);
        return reply.status(204).send();
      },
    );

    app.post(
      '/v1/projects/:projectId/leave',
      { config: { action: 'project.members.leave' } },
      async (req, reply) => {
        const projectId = scopeProject(req);
        const userId = actorOf(req).userId;
        await directoryChange(deps, req, async (tx) => {
          await lastOwnerGuard(tx.storage, projectId, userId);
          const members = new MemberStore(tx.storage);
          const before = await members.get(projectId, userId);
          if (!(await members.remove(projectId, userId))) {
            throw new BulwarkError(
              'bad_request',
              'You belong through a group; ask an admin to change the group.',
            );
          }
          await tx.record({
            action: 'project.member.leave',
            target: { type: 'project-member', id: `${projectId}/${userId}` },
            before,
          });
        });
        await announce(projectId, { type: 'member.changed', user: userId }, true);
        return reply.status(204).send();
      },
    );

    app.put(
      '/v1/projects/:projectId/groups/:groupId',
      { config: { action: 'project.groups.change' } },
      async (req) => {
        const { groupId } = groupParams.parse(req.params);
        const { role } = roleBody.parse(req.body);
        const projectId = scopeProject(req);
        const put = await directoryChange(deps, req, async (tx) => {
          const group = await new GroupStore(tx.storage).get(groupId);
          if (!group || group.orgId !== authzOf(req).scope.orgId) {
            throw new BulwarkError('not_found', 'No such group in this project’s org.');
          }
          if (role === 'owner') {
            throw new BulwarkError('bad_request', 'Owners are people, not groups.');
          }
          await new MemberStore(tx.storage).putGroup(
            projectId,
            groupId,
            role,
            actorOf(req).userId,
            now(),
          );
          await tx.record({
            action: 'project.group.put',
            target: { type: 'project-group', id: `${projectId}/${groupId}` },
            after: { role },
          });
          return { group: { groupId, role } };
        });
        await announce(projectId, { type: 'member.changed', group: groupId });
        return put;
      },
    );

    app.delete(
      '/v1/projects/:projectId/groups/:groupId',
      { config: { action: 'project.groups.change' } },
      async (req, reply) => {
        const { groupId } = groupParams.parse(req.params);
        const projectId = scopeProject(req);
        await directoryChange(deps, req, async (tx) => {
          if (!(await new MemberStore(tx.storage).removeGroup(projectId, groupId))) {
            throw new BulwarkError('not_found', 'That group is not a member.');
          }
          await tx.record({
            action: 'project.group.remove',
            target: { type: 'project-group', id: `${projectId}/${groupId}` },
          });
        });
        await announce(projectId, { type: 'member.changed', group: groupId }, true);
        return reply.status(204).send();
      },
    );

    app.get(
      '/v1/projects/:projectId/partner-links',
      { config: { action: 'project.partner-links.list' } },
      async (req) => {
        const links = await new PartnerLinkStore(storage()).forProject(scopeProject(req));
        const { relation } = authzOf(req);
        const actor = actorOf(req);
        // A partner org's admins see their own link, not the project's other partners.
        return {
          links: isProjectAdmin(relation)
            ? links
            : links.filter((l) => l.partnerOrgId === actor.orgId),
        };
      },
    );

    app.post(
      '/v1/projects/:projectId/partner-links',
      { config: { action: 'project.partner-links.create' } },
      async (req, reply) => {
        const body = linkBody.parse(req.body);
        const projectId = scopeProject(req);
        const link = await directoryChange(deps, req, async (tx) => {
          const project = await new ProjectStore(tx.storage).get(projectId);
          const partner = await new OrgStore(tx.storage).findBySlug(body.partnerOrg);
          if (!project || !partner) {
            throw new BulwarkError('not_found', `No org with the slug "${body.partnerOrg}".`);
          }
          if (partner.id === project.orgId) {
            throw new BulwarkError('bad_request', 'A project cannot partner with its own org.');
          }
          const links = new PartnerLinkStore(tx.storage);
          if (await links.live(projectId, partner.id)) {
            throw new BulwarkError(
              'conflict',
              `${partner.slug} is already linked to this project.`,
            );
          }
          const created = await links.create(
            {
              projectId,
              hostOrgId: project.orgId,
              partnerOrgId: partner.id,
              maxRole: body.maxRole,
            },
            actorOf(req).userId,
            now(),
          );
          await tx.record({
            action: 'partner-link.create',
            target: { type: 'partner-link', id: created.id },
            after: created,
          });
          return created;
        });
        return reply.status(201).send({ link });
      },
    );

    app.get(
      '/v1/projects/:projectId/invitations',
      { config: { action: 'project.invitations.list' } },
      async (req) => ({
        invitations: await new InvitationStore(storage(), deps.identity().hasher).forProject(
          scopeProject(req),
          now(),
        ),
      }),
    );

    app.post(
      '/v1/projects/:projectId/invitations',
      { config: { action: 'project.invitations.create' } },
      async (req, reply) => {
        const body = invitationBody.parse(req.body);
        const projectId = scopeProject(req);
        const identity = deps.identity();
        const made = await directoryChange(deps, req, async (tx) => {
          const issued = await new InvitationStore(tx.storage, identity.hasher).create(
            {
              projectId,
              role: body.role,
              email: body.email ?? null,
              domain: body.domain ?? null,
              ttlHours: body.expiresInHours,
            },
            actorOf(req).userId,
            now(),
          );
          await tx.record({
            action: 'invitation.create',
            target: { type: 'invitation', id: issued.invitation.id },
            after: issued.invitation,
          });
          return issued;
        });
        const origin = identity.relyingParty.origins[0] ?? `https://${identity.relyingParty.id}`;
        return reply.status(201).send({
          invitation: made.invitation,
          // Shown once; in the fragment it never reaches a log or a Referer.
          token: made.token,
          acceptUrl: `${origin}/invite#${made.token}`,
        });
      },
    );
  };
}
