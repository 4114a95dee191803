import { PolicyStore } from '../policy/policy-store.ts';
import type { Storage } from '../storage/storage.ts';
import { ConversationStore } from './conversations.ts';
import { ConversationLog } from './log.ts';

/**
 * Queued ciphertext is kept as long as the project's retention policy says
 * (forever when it sets none): the offline queue is bounded by policy, and
 * what is pruned is gone for devices that never came back for it.
 */
export async function pruneMessaging(storage: Storage, now: Date): Promise<number> {
  const projects = await storage.db
    .selectFrom('conversations')
    .select('project_id')
    .distinct()
    .execute();
  const policies = new PolicyStore(storage);
  const conversations = new ConversationStore(storage);
  const log = new ConversationLog(storage);
  let pruned = 0;
  for (const { project_id } of projects) {
    const { effective } = await policies.effectiveForProject(project_id);
    if (effective.retentionDays === null) continue;
    const before = new Date(now.getTime() - effective.retentionDays * 86_400_000);
    const ids = (await conversations.listForProject(project_id)).map((c) => c.id);
    pruned += await log.prune(ids, before);
  }
  return pruned;
}
