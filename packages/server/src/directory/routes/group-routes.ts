import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf } from '../../identity/actor.ts';
import { UserStore } from '../../identity/user-store.ts';
import { GroupStore } from '../groups.ts';
import { MemberStore } from '../projects.ts';
import { type DirectoryDeps, directoryChange } from '../transaction.ts';
import { authzOf, scopeOrg, uuid } from './shared.ts';

const memberParams = z
  .object({
    groupId: uuid('a group'),
    memberKind: z.enum(['user', 'group']),
    memberId: uuid('a member'),
  })
  .strict();

/** Groups by id: read, delete, add and remove members (people or nested groups). */
export function registerGroupRoutes(deps: DirectoryDeps) {
  const storage = () => deps.identity().storage;
  const now = () => deps.identity().clock.now();

  return (app: App): void => {
    app.get('/v1/groups/:groupId', { config: { action: 'group.read' } }, async (req) => {
      const groups = new GroupStore(storage());
      const id = authzOf(req).scope.id as string;
      return { group: await groups.get(id), members: await groups.members(id) };
    });

    app.delete(
      '/v1/groups/:groupId',
      { config: { action: 'group.change' } },
      async (req, reply) => {
        const id = authzOf(req).scope.id as string;
        await directoryChange(deps, req, async (tx) => {
          const groups = new GroupStore(tx.storage);
          const before = await groups.get(id);
          await groups.delete(id);
          await tx.record({ action: 'group.delete', target: { type: 'group', id }, before });
        });
        return reply.status(204).send();
      },
    );

    app.put(
      '/v1/groups/:groupId/members/:memberKind/:memberId',
      { config: { action: 'group.change' } },
      async (req) => {
        const { groupId, memberKind, memberId } = memberParams.parse(req.params);
        const orgId = scopeOrg(req);
        return directoryChange(deps, req, async (tx) => {
          // Only people and groups of the group's own org: anything else is unknown to the caller.
          if (memberKind === 'user') {
            const user = await new UserStore(tx.storage).get(memberId);
            if (user?.orgId !== orgId || user.orgRole === 'guest') {
              throw new BulwarkError('not_found', 'No such user in this org.');
            }
          } else {
            const nested = await new GroupStore(tx.storage).get(memberId);
            if (nested?.orgId !== orgId) {
              throw new BulwarkError('not_found', 'No such group in this org.');
            }
          }
          await new GroupStore(tx.storage).addMember(
            groupId,
            { kind: memberKind, id: memberId },
            now(),
          );
          await tx.record({
            action: 'group.member.add',
            target: { type: 'group', id: groupId },
            after: { kind: memberKind, id: memberId },
          });
          return { member: { kind: memberKind, id: memberId } };
        });
      },
    );

    app.delete(
      '/v1/groups/:groupId/members/:memberKind/:memberId',
      { config: { action: 'group.change' } },
      async (req, reply) => {
        const { groupId, memberKind, memberId } = memberParams.parse(req.params);
        await directoryChange(deps, req, async (tx) => {
          const removed = await new GroupStore(tx.storage).removeMember(groupId, {
            kind: memberKind,
            id: memberId,
          });
          if (!removed) throw new BulwarkError('not_found', 'Not a member of this group.');
          await tx.record({
            action: 'group.member.remove',
            target: { type: 'group', id: groupId },
            before: { kind: memberKind, id: memberId },
          });
        });
        return reply.status(204).send();
      },
    );

    const searchQuery = z
      .object({
        q: z.string().trim().min(1).max(100),
        limit: z.coerce.number().int().min(1).max(50).default(20),
      })
      .strict();

    /**
     * People search, scoped to whom the caller may see: their own org's people
     * (not for guests) and co-members of their projects. An external member
     * finds only co-members; nobody finds another tenant's people.
     */
    app.get('/v1/directory/search', { config: { action: 'directory.search' } }, async (req) => {
      const { q, limit } = searchQuery.parse(req.query);
      const actor = actorOf(req);
      const s = storage();
      const visible = new Set<string>();
      if (actor.orgId !== null && actor.orgRole !== 'guest') {
        const own = await s.db
          .selectFrom('users')
          .select('id')
          .where('org_id', '=', actor.orgId)
          .execute();
        for (const u of own) visible.add(u.id);
      }
      const members = new MemberStore(s);
      for (const projectId of await members.projectsOf(actor.userId)) {
        for (const m of await members.list(projectId)) visible.add(m.userId);
      }
      const needle = q.toLowerCase();
      const users = new UserStore(s);
      const found = [];
      for (const id of visible) {
        const u = await users.get(id);
        if (u?.status !== 'active') continue;
        const sameOrg = u.orgId === actor.orgId && actor.orgRole !== 'guest';
        const haystack = [u.displayName, u.username ?? '', sameOrg ? (u.email ?? '') : ''];
        if (!haystack.some((h) => h.toLowerCase().includes(needle))) continue;
        found.push({
          id: u.id,
          displayName: u.displayName,
          username: u.username,
          // Addresses only within one's own org; partners see names.
          email: sameOrg ? u.email : null,
          orgId: u.orgId,
          external: !sameOrg,
        });
        if (found.length >= limit) break;
      }
      return { people: found };
    });
  };
}
