import type { Storage } from '../storage/storage.ts';
import { effectivePolicy } from './effective.ts';
import {
  defaultOrgPolicy,
  type EffectivePolicy,
  type OrgPolicy,
  orgPolicySchema,
  type ProjectPolicy,
  projectPolicySchema,
} from './policy.ts';

/**
 * Policies at rest: encrypted per row (they name the org's networks and
 * authenticators), read fresh on every request so a change applies to every
 * session at its next request, on every node (only the decryption of an
 * unchanged row is remembered).
 */
export class PolicyStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  encryptOrgPolicy(orgId: string, policy: OrgPolicy): string {
    return this.#storage.fields.encrypt(
      { table: 'orgs', column: 'policy', rowId: orgId },
      JSON.stringify(policy),
    );
  }

  encryptProjectPolicy(projectId: string, policy: ProjectPolicy | null): string | null {
    return policy === null
      ? null
      : this.#storage.fields.encrypt(
          { table: 'projects', column: 'policy', rowId: projectId },
          JSON.stringify(policy),
        );
  }

  async orgPolicy(orgId: string): Promise<OrgPolicy> {
    const row = await this.#storage.db
      .selectFrom('orgs')
      .select('policy_enc')
      .where('id', '=', orgId)
      .executeTakeFirst();
    if (!row) return defaultOrgPolicy;
    const json = this.#storage.fields.decryptRecent(
      { table: 'orgs', column: 'policy', rowId: orgId },
      row.policy_enc,
    );
    return orgPolicySchema.parse(JSON.parse(json));
  }

  async projectPolicy(
    projectId: string,
  ): Promise<{ orgId: string; override: ProjectPolicy | null }> {
    const row = await this.#storage.db
      .selectFrom('projects')
      .select(['org_id', 'policy_enc'])
      .where('id', '=', projectId)
      .executeTakeFirstOrThrow();
    const override =
      row.policy_enc === null
        ? null
        : projectPolicySchema.parse(
            JSON.parse(
              this.#storage.fields.decryptRecent(
                { table: 'projects', column: 'policy', rowId: projectId },
                row.policy_enc,
              ),
            ),
          );
    return { orgId: row.org_id, override };
  }

  async effectiveForProject(projectId: string): Promise<{
    org: OrgPolicy;
    override: ProjectPolicy | null;
    effective: EffectivePolicy;
  }> {
    const { orgId, override } = await this.projectPolicy(projectId);
    const org = await this.orgPolicy(orgId);
    return { org, override, effective: effectivePolicy(org, override) };
  }
}
