import { effectivePolicy } from '../policy/effective.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import type { Storage } from '../storage/storage.ts';
import type { AuditLedger } from './ledger/ledger.ts';

const DAY_MS = 24 * 3600_000;

/**
 * Applies retention to the ledger: for every org whose policy keeps records
 * for a limited number of days, and every project whose effective policy is
 * stricter, empties the content of entries older than that. Hashes stay:
 * the tree, its signed heads and every proof are unchanged. Each sweep that
 * emptied something is itself recorded. Returns how many entries it emptied.
 */
export async function sweepRetention(opts: {
  storage: Storage;
  ledger: AuditLedger;
  now: Date;
}): Promise<number> {
  const { storage, ledger, now } = opts;
  const policies = new PolicyStore(storage);
  let total = 0;
  const note = async (scope: { orgId: string; projectId?: string }, days: number, n: number) => {
    total += n;
    if (n === 0) return;
    await ledger.record({
      action: 'audit.retention',
      actor: { kind: 'system', channel: 'system' },
      target: { type: 'audit-entries', id: null },
      scope: { orgId: scope.orgId, projectId: scope.projectId ?? null },
      after: { retentionDays: days, emptied: n },
    });
  };

  const orgs = await storage.db.selectFrom('orgs').select('id').execute();
  for (const { id: orgId } of orgs) {
    const days = (await policies.orgPolicy(orgId)).retentionDays;
    if (days === null) continue;
    await note(
      { orgId },
      days,
      await ledger.prune({ orgId }, new Date(now.getTime() - days * DAY_MS)),
    );
  }
  const projects = await storage.db
    .selectFrom('projects')
    .select(['id', 'org_id'])
    .where('policy_enc', 'is not', null)
    .execute();
  for (const project of projects) {
    const { org, override } = await policies.effectiveForProject(project.id);
    const days = effectivePolicy(org, override).retentionDays;
    if (days === null || days === org.retentionDays) continue;
    const before = new Date(now.getTime() - days * DAY_MS);
    await note(
      { orgId: project.org_id, projectId: project.id },
      days,
      await ledger.prune({ projectId: project.id }, before),
    );
  }
  return total;
}
