import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

export interface PartnerLink {
  id: string;
  projectId: string;
  hostOrgId: string;
  partnerOrgId: string;
  /** The strongest project role the partner's admins may give their people. */
  maxRole: 'admin' | 'member' | 'viewer';
  status: 'pending' | 'active' | 'ended';
  createdBy: string;
  createdAt: string;
  acceptedAt: string | null;
  endedAt: string | null;
}

const decode = (r: Selectable<Tables['partner_links']>): PartnerLink => ({
  id: r.id,
  projectId: r.project_id,
  hostOrgId: r.host_org_id,
  partnerOrgId: r.partner_org_id,
  maxRole: r.max_role,
  status: r.status,
  createdBy: r.created_by,
  createdAt: r.created_at,
  acceptedAt: r.accepted_at,
  endedAt: r.ended_at,
});

/** Federated teams: org A invites org B into one of A's projects. */
export class PartnerLinkStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async create(
    input: Pick<PartnerLink, 'projectId' | 'hostOrgId' | 'partnerOrgId' | 'maxRole'>,
    createdBy: string,
    now: Date,
  ): Promise<PartnerLink> {
    const id = randomUUID();
    await this.#storage.db
      .insertInto('partner_links')
      .values({
        id,
        project_id: input.projectId,
        host_org_id: input.hostOrgId,
        partner_org_id: input.partnerOrgId,
        max_role: input.maxRole,
        status: 'pending',
        created_by: createdBy,
        created_at: now.toISOString(),
        accepted_by: null,
        accepted_at: null,
        ended_by: null,
        ended_at: null,
      })
      .execute();
    return (await this.get(id)) as PartnerLink;
  }

  async get(id: string): Promise<PartnerLink | null> {
    const row = await this.#storage.db
      .selectFrom('partner_links')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? decode(row) : null;
  }

  /** The live (pending or active) link between a project and a partner org, if any. */
  async live(projectId: string, partnerOrgId: string): Promise<PartnerLink | null> {
    const row = await this.#storage.db
      .selectFrom('partner_links')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('partner_org_id', '=', partnerOrgId)
      .where('status', 'in', ['pending', 'active'])
      .executeTakeFirst();
    return row ? decode(row) : null;
  }

  async forProject(projectId: string): Promise<PartnerLink[]> {
    const rows = await this.#storage.db
      .selectFrom('partner_links')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('created_at')
      .execute();
    return rows.map(decode);
  }

  async forOrg(orgId: string): Promise<PartnerLink[]> {
    const rows = await this.#storage.db
      .selectFrom('partner_links')
      .selectAll()
      .where((eb) => eb.or([eb('host_org_id', '=', orgId), eb('partner_org_id', '=', orgId)]))
      .orderBy('created_at')
      .execute();
    return rows.map(decode);
  }

  async accept(id: string, by: string, now: Date): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('partner_links')
      .set({ status: 'active', accepted_by: by, accepted_at: now.toISOString() })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async end(id: string, by: string, now: Date): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('partner_links')
      .set({ status: 'ended', ended_by: by, ended_at: now.toISOString() })
      .where('id', '=', id)
      .where('status', '!=', 'ended')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
