import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.ts';
import type { ProjectPolicy } from '../policy/policy.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import type { ProjectRole } from '../policy/relation.ts';
import type { Storage } from '../storage/storage.ts';

export interface Project {
  id: string;
  orgId: string;
  key: string;
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Project keys prefix issue ids (`APOLLO-42`): 2-10 capitals and digits, starting with a letter. */
export const projectKeyPattern = /^[A-Z][A-Z0-9]{1,9}$/;

type ProjectRow = {
  id: string;
  org_id: string;
  key_enc: string;
  name_enc: string;
  description_enc: string | null;
  created_at: string;
  updated_at: string;
};

/** Projects of an org. Key (unique in the org), name and description are encrypted. */
export class ProjectStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  #keyIndex(orgId: string, key: string) {
    return this.#storage.fields.blindIndex('projects.key', `${orgId}:${key}`, (v) => v);
  }

  async create(
    input: { orgId: string; key: string; name: string; description: string | null },
    now: Date,
  ): Promise<Project> {
    const { db, fields } = this.#storage;
    const index = this.#keyIndex(input.orgId, input.key);
    const clash = await db
      .selectFrom('projects')
      .select('id')
      .where('key_index', '=', index)
      .executeTakeFirst();
    if (clash) {
      throw new BulwarkError(
        'conflict',
        `The org has a project with the key ${input.key} already.`,
      );
    }
    const id = randomUUID();
    const at = now.toISOString();
    const ctx = (column: string) => ({ table: 'projects', column, rowId: id });
    await db
      .insertInto('projects')
      .values({
        id,
        org_id: input.orgId,
        key_enc: fields.encrypt(ctx('key'), input.key),
        key_index: index,
        name_enc: fields.encrypt(ctx('name'), input.name),
        description_enc: fields.encryptNullable(ctx('description'), input.description),
        policy_enc: null,
        created_at: at,
        updated_at: at,
        archived_at: null,
      })
      .execute();
    return { id, ...input, createdAt: at, updatedAt: at };
  }

  async get(id: string): Promise<Project | null> {
    const row = await this.#storage.db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', id)
      .where('archived_at', 'is', null)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async listForOrg(orgId: string): Promise<Project[]> {
    const rows = await this.#storage.db
      .selectFrom('projects')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('archived_at', 'is', null)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#decode(r));
  }

  async update(
    id: string,
    change: { name?: string | undefined; description?: string | null | undefined },
    now: Date,
  ): Promise<void> {
    const { fields } = this.#storage;
    const ctx = (column: string) => ({ table: 'projects', column, rowId: id });
    await this.#storage.db
      .updateTable('projects')
      .set({
        ...(change.name !== undefined
          ? { name_enc: fields.encrypt(ctx('name'), change.name) }
          : {}),
        ...(change.description !== undefined
          ? { description_enc: fields.encryptNullable(ctx('description'), change.description) }
          : {}),
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .execute();
  }

  /** Archiving hides the project everywhere and ends its partner links; the rows stay for the ledger. */
  async archive(id: string, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.#storage.db
      .updateTable('projects')
      .set({ archived_at: at, updated_at: at })
      .where('id', '=', id)
      .execute();
    await this.#storage.db
      .updateTable('partner_links')
      .set({ status: 'ended', ended_at: at })
      .where('project_id', '=', id)
      .where('status', '!=', 'ended')
      .execute();
  }

  async setPolicy(id: string, policy: ProjectPolicy | null, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('projects')
      .set({
        policy_enc: new PolicyStore(this.#storage).encryptProjectPolicy(id, policy),
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .execute();
  }

  #decode(row: ProjectRow): Project {
    const { fields } = this.#storage;
    const ctx = (column: string) => ({ table: 'projects', column, rowId: row.id });
    return {
      id: row.id,
      orgId: row.org_id,
      key: fields.decrypt(ctx('key'), row.key_enc),
      name: fields.decrypt(ctx('name'), row.name_enc),
      description: fields.decryptNullable(ctx('description'), row.description_enc),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}

export interface Member {
  userId: string;
  role: ProjectRole;
  /** internal: the project's org; external: a partner org's person or a guest. */
  kind: 'internal' | 'external';
  viaLinkId: string | null;
  orgId: string | null;
  createdAt: string;
}

export interface GroupMember {
  groupId: string;
  role: ProjectRole;
  createdAt: string;
}

/** Who is in a project: people (direct rows) and groups of the project's org. */
export class MemberStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async list(projectId: string): Promise<Member[]> {
    const rows = await this.#storage.db
      .selectFrom('project_members')
      .innerJoin('projects', 'projects.id', 'project_members.project_id')
      .innerJoin('users', 'users.id', 'project_members.user_id')
      .select([
        'project_members.user_id',
        'project_members.role',
        'project_members.via_link_id',
        'project_members.created_at',
        'projects.org_id as project_org',
        'users.org_id as user_org',
        'users.org_role',
      ])
      .where('project_members.project_id', '=', projectId)
      .orderBy('project_members.created_at')
      .execute();
    return rows.map((r) => ({
      userId: r.user_id,
      role: r.role,
      kind: r.user_org === r.project_org && r.org_role !== 'guest' ? 'internal' : 'external',
      viaLinkId: r.via_link_id,
      orgId: r.user_org,
      createdAt: r.created_at,
    }));
  }

  async get(projectId: string, userId: string): Promise<Member | null> {
    return (await this.list(projectId)).find((m) => m.userId === userId) ?? null;
  }

  async put(
    row: { projectId: string; userId: string; role: ProjectRole; viaLinkId: string | null },
    addedBy: string,
    now: Date,
  ): Promise<void> {
    const db = this.#storage.db;
    const updated = await db
      .updateTable('project_members')
      .set({ role: row.role, via_link_id: row.viaLinkId })
      .where('project_id', '=', row.projectId)
      .where('user_id', '=', row.userId)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return;
    await db
      .insertInto('project_members')
      .values({
        project_id: row.projectId,
        user_id: row.userId,
        role: row.role,
        via_link_id: row.viaLinkId,
        added_by: addedBy,
        created_at: now.toISOString(),
      })
      .execute();
  }

  async remove(projectId: string, userId: string): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('project_members')
      .where('project_id', '=', projectId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Ending a partner link: every person who came through it leaves at once. */
  async removeVia(linkId: string): Promise<string[]> {
    const rows = await this.#storage.db
      .selectFrom('project_members')
      .select('user_id')
      .where('via_link_id', '=', linkId)
      .execute();
    await this.#storage.db
      .deleteFrom('project_members')
      .where('via_link_id', '=', linkId)
      .execute();
    return rows.map((r) => r.user_id);
  }

  async groups(projectId: string): Promise<GroupMember[]> {
    const rows = await this.#storage.db
      .selectFrom('project_group_members')
      .select(['group_id', 'role', 'created_at'])
      .where('project_id', '=', projectId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ groupId: r.group_id, role: r.role, createdAt: r.created_at }));
  }

  async putGroup(
    projectId: string,
    groupId: string,
    role: ProjectRole,
    addedBy: string,
    now: Date,
  ): Promise<void> {
    const db = this.#storage.db;
    const updated = await db
      .updateTable('project_group_members')
      .set({ role })
      .where('project_id', '=', projectId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return;
    await db
      .insertInto('project_group_members')
      .values({
        project_id: projectId,
        group_id: groupId,
        role,
        added_by: addedBy,
        created_at: now.toISOString(),
      })
      .execute();
  }

  async removeGroup(projectId: string, groupId: string): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('project_group_members')
      .where('project_id', '=', projectId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Projects the user belongs to directly (search scoping, org visibility). */
  async projectsOf(userId: string): Promise<string[]> {
    const rows = await this.#storage.db
      .selectFrom('project_members')
      .innerJoin('projects', 'projects.id', 'project_members.project_id')
      .select('projects.id')
      .where('project_members.user_id', '=', userId)
      .where('projects.archived_at', 'is', null)
      .execute();
    return rows.map((r) => r.id);
  }
}
