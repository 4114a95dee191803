import type { OrgRole } from '../identity/user-store.ts';
import type { Storage } from '../storage/storage.ts';
import type { ResourceKind } from './actions.ts';

export type ProjectRole = 'owner' | 'admin' | 'member' | 'viewer';

/** What a route acts on, resolved from its URL: the owning org and, where there is one, the project. */
export interface Scope {
  kind: ResourceKind;
  id: string | null;
  orgId: string | null;
  projectId: string | null;
  link: { id: string; hostOrgId: string; partnerOrgId: string; status: string } | null;
}

/** How the actor stands to the scope: the only input of the action rules besides the action. */
export interface Relation {
  instanceAdmin: boolean;
  /** The actor's role in the scope's org; null when the actor's home org is another. */
  orgRole: OrgRole | null;
  /** Strongest project role, direct or through a group; null without membership. */
  projectRole: ProjectRole | null;
  /** internal = the actor's home org owns the project (guests are always external). */
  projectKind: 'internal' | 'external' | null;
  /** The actor administers an org that a pending or active link invites into the scope's project. */
  partnerAdmin: boolean;
  /** The actor may know this org exists: their own, or one whose project they belong to. */
  orgVisible: boolean;
}

export interface ActorFacts {
  userId: string;
  isAdmin: boolean;
  orgId: string | null;
  orgRole: OrgRole;
}

const rank = { viewer: 1, member: 2, admin: 3, owner: 4 } as const;

/**
 * Finds the resource a route names, or null (the route answers 404 without
 * saying whether it exists). Archived projects are gone for authorization.
 */
export async function resolveScope(
  storage: Storage,
  kind: ResourceKind,
  id: string | null,
): Promise<Scope | null> {
  const none: Scope = { kind, id, orgId: null, projectId: null, link: null };
  if (kind === 'none') return none;
  if (id === null || !/^[0-9a-f-]{36}$/.test(id)) return null;
  const db = storage.db;
  switch (kind) {
    case 'org': {
      const org = await db.selectFrom('orgs').select('id').where('id', '=', id).executeTakeFirst();
      return org ? { ...none, orgId: org.id } : null;
    }
    case 'project': {
      const p = await db
        .selectFrom('projects')
        .select(['id', 'org_id'])
        .where('id', '=', id)
        .where('archived_at', 'is', null)
        .executeTakeFirst();
      return p ? { ...none, orgId: p.org_id, projectId: p.id } : null;
    }
    case 'group': {
      const g = await db
        .selectFrom('groups')
        .select(['id', 'org_id'])
        .where('id', '=', id)
        .executeTakeFirst();
      return g ? { ...none, orgId: g.org_id } : null;
    }
    case 'partner-link': {
      const l = await db
        .selectFrom('partner_links')
        .innerJoin('projects', 'projects.id', 'partner_links.project_id')
        .select([
          'partner_links.id',
          'partner_links.project_id',
          'partner_links.host_org_id',
          'partner_links.partner_org_id',
          'partner_links.status',
        ])
        .where('partner_links.id', '=', id)
        .where('projects.archived_at', 'is', null)
        .executeTakeFirst();
      return l
        ? {
            ...none,
            orgId: l.host_org_id,
            projectId: l.project_id,
            link: {
              id: l.id,
              hostOrgId: l.host_org_id,
              partnerOrgId: l.partner_org_id,
              status: l.status,
            },
          }
        : null;
    }
    case 'invitation': {
      const i = await db
        .selectFrom('invitations')
        .innerJoin('projects', 'projects.id', 'invitations.project_id')
        .select(['invitations.id', 'projects.id as project_id', 'projects.org_id'])
        .where('invitations.id', '=', id)
        .where('projects.archived_at', 'is', null)
        .executeTakeFirst();
      return i ? { ...none, orgId: i.org_id, projectId: i.project_id } : null;
    }
    case 'issue': {
      const i = await db
        .selectFrom('issues')
        .innerJoin('projects', 'projects.id', 'issues.project_id')
        .select(['issues.id', 'projects.id as project_id', 'projects.org_id'])
        .where('issues.id', '=', id)
        .where('issues.deleted_at', 'is', null)
        .where('projects.archived_at', 'is', null)
        .executeTakeFirst();
      return i ? { ...none, orgId: i.org_id, projectId: i.project_id } : null;
    }
    case 'column': {
      const c = await db
        .selectFrom('board_columns')
        .innerJoin('projects', 'projects.id', 'board_columns.project_id')
        .select(['board_columns.id', 'projects.id as project_id', 'projects.org_id'])
        .where('board_columns.id', '=', id)
        .where('board_columns.deleted_at', 'is', null)
        .where('projects.archived_at', 'is', null)
        .executeTakeFirst();
      return c ? { ...none, orgId: c.org_id, projectId: c.project_id } : null;
    }
    case 'conversation': {
      const c = await db
        .selectFrom('conversations')
        .innerJoin('projects', 'projects.id', 'conversations.project_id')
        .select(['conversations.id', 'projects.id as project_id', 'projects.org_id'])
        .where('conversations.id', '=', id)
        .where('projects.archived_at', 'is', null)
        .executeTakeFirst();
      return c ? { ...none, orgId: c.org_id, projectId: c.project_id } : null;
    }
    case 'user': {
      const u = await db
        .selectFrom('users')
        .select(['id', 'org_id'])
        .where('id', '=', id)
        .executeTakeFirst();
      return u ? { ...none, orgId: u.org_id } : null;
    }
  }
}

/** Computes the actor's relation to a scope from the directory tables. */
export async function relationTo(
  storage: Storage,
  actor: ActorFacts,
  scope: Scope,
): Promise<Relation> {
  const sameOrg = scope.orgId !== null && actor.orgId === scope.orgId;
  const orgRole = sameOrg ? actor.orgRole : null;
  const isOrgAdmin = actor.orgRole === 'owner' || actor.orgRole === 'admin';
  let projectRole: ProjectRole | null = null;
  let projectKind: Relation['projectKind'] = null;
  let partnerAdmin = false;

  if (scope.projectId !== null) {
    projectRole = await effectiveProjectRole(storage, actor.userId, scope.projectId);
    if (projectRole !== null) {
      projectKind = sameOrg && actor.orgRole !== 'guest' ? 'internal' : 'external';
    }
    if (isOrgAdmin && actor.orgId !== null) {
      const link = await storage.db
        .selectFrom('partner_links')
        .select('id')
        .where('project_id', '=', scope.projectId)
        .where('partner_org_id', '=', actor.orgId)
        .where('status', 'in', ['pending', 'active'])
        .$if(scope.link !== null, (q) => q.where('id', '=', scope.link?.id ?? ''))
        .executeTakeFirst();
      partnerAdmin = link !== undefined;
    }
  }

  let orgVisible = sameOrg && actor.orgRole !== 'guest';
  if (!orgVisible && scope.orgId !== null) {
    orgVisible =
      actor.isAdmin ||
      (await belongsToProjectOf(storage, actor.userId, scope.orgId)) ||
      (actor.orgId !== null &&
        isOrgAdmin &&
        (await isPartnerOf(storage, actor.orgId, scope.orgId)));
  }

  return {
    instanceAdmin: actor.isAdmin,
    orgRole,
    projectRole,
    projectKind,
    partnerAdmin,
    orgVisible,
  };
}

/** The strongest of the direct role and the roles of the groups (nested) the user is in. */
export async function effectiveProjectRole(
  storage: Storage,
  userId: string,
  projectId: string,
): Promise<ProjectRole | null> {
  const direct = await storage.db
    .selectFrom('project_members')
    .select('role')
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  let best: ProjectRole | null = direct?.role ?? null;
  const viaGroups = await storage.db
    .selectFrom('project_group_members')
    .select(['group_id', 'role'])
    .where('project_id', '=', projectId)
    .execute();
  if (viaGroups.length === 0) return best;
  const mine = await groupsOf(storage, userId);
  for (const g of viaGroups) {
    if (mine.has(g.group_id) && (best === null || rank[g.role] > rank[best])) best = g.role;
  }
  return best;
}

/**
 * Every group the user is in, directly, through nested groups, or through an
 * LDAP / AD group bound to it (the user's last synced directory groups).
 */
export async function groupsOf(storage: Storage, userId: string): Promise<Set<string>> {
  const db = storage.db;
  const user = await db
    .selectFrom('users')
    .select('org_id')
    .where('id', '=', userId)
    .executeTakeFirst();
  const found = new Set<string>();
  if (!user?.org_id) return found;
  const direct = await db
    .selectFrom('group_members')
    .select('group_id')
    .where('member_kind', '=', 'user')
    .where('member_id', '=', userId)
    .execute();
  for (const d of direct) found.add(d.group_id);

  const bound = await db
    .selectFrom('groups')
    .select(['id', 'ldap_dn_enc'])
    .where('org_id', '=', user.org_id)
    .where('ldap_dn_enc', 'is not', null)
    .execute();
  if (bound.length > 0) {
    const ldapGroups = await ldapGroupsOf(storage, userId);
    for (const g of bound) {
      const dn = storage.fields.decrypt(
        { table: 'groups', column: 'ldap_dn', rowId: g.id },
        g.ldap_dn_enc as string,
      );
      if (ldapGroups.has(dn.toLowerCase())) found.add(g.id);
    }
  }

  // Nested groups: walk upwards; the group API refuses cycles, the visited set guards anyway.
  let frontier = [...found];
  while (frontier.length > 0) {
    const parents = await db
      .selectFrom('group_members')
      .select('group_id')
      .where('member_kind', '=', 'group')
      .where('member_id', 'in', frontier)
      .execute();
    frontier = [];
    for (const p of parents) {
      if (!found.has(p.group_id)) {
        found.add(p.group_id);
        frontier.push(p.group_id);
      }
    }
  }
  return found;
}

async function ldapGroupsOf(storage: Storage, userId: string): Promise<Set<string>> {
  const rows = await storage.db
    .selectFrom('external_identities')
    .select(['connector_id', 'groups_enc'])
    .where('user_id', '=', userId)
    .where('removed_at', 'is', null)
    .execute();
  const groups = new Set<string>();
  for (const row of rows) {
    const list = JSON.parse(
      storage.fields.decrypt(
        {
          table: 'external_identities',
          column: 'groups',
          rowId: `${row.connector_id}/${userId}`,
        },
        row.groups_enc,
      ),
    ) as string[];
    for (const g of list) groups.add(g.toLowerCase());
  }
  return groups;
}

async function belongsToProjectOf(storage: Storage, userId: string, orgId: string) {
  const row = await storage.db
    .selectFrom('project_members')
    .innerJoin('projects', 'projects.id', 'project_members.project_id')
    .select('projects.id')
    .where('project_members.user_id', '=', userId)
    .where('projects.org_id', '=', orgId)
    .where('projects.archived_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

async function isPartnerOf(storage: Storage, partnerOrgId: string, hostOrgId: string) {
  const row = await storage.db
    .selectFrom('partner_links')
    .select('id')
    .where('partner_org_id', '=', partnerOrgId)
    .where('host_org_id', '=', hostOrgId)
    .where('status', 'in', ['pending', 'active'])
    .executeTakeFirst();
  return row !== undefined;
}
