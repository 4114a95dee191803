import { MemberStore, ProjectStore } from '../directory/projects.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import { effectiveProjectRole } from '../policy/relation.ts';
import type { Storage } from '../storage/storage.ts';
import type { Conversation } from './conversations.ts';
import { type Device, DeviceStore } from './devices.ts';

/**
 * Which devices belong in a conversation's group, from the directory alone:
 * the live devices of active people who are in the project now (directly or
 * through a group; for a direct conversation, its two people), minus
 * unverified devices where the project's policy for that person's audience
 * requires verification. The Delivery Service adds nothing else and proposes
 * the removal of everything else (SECURITY.md, End-to-end encryption).
 */
export async function entitledDevices(
  storage: Storage,
  conversation: Pick<Conversation, 'projectId' | 'kind' | 'participants'>,
): Promise<Map<string, Device>> {
  const project = await new ProjectStore(storage).get(conversation.projectId);
  const entitled = new Map<string, Device>();
  // Archived projects are gone (get() does not return them): everyone is removed.
  if (!project) return entitled;

  const audiences = await audiencesOf(storage, conversation.projectId);
  const candidates =
    conversation.kind === 'direct' ? (conversation.participants ?? []) : [...audiences.keys()];
  const users: string[] = [];
  for (const userId of candidates) {
    if (conversation.kind === 'direct' && !audiences.has(userId)) {
      // A group member is not in the direct list of members: ask the full rule.
      if ((await effectiveProjectRole(storage, userId, conversation.projectId)) === null) continue;
      audiences.set(userId, 'internal');
    }
    users.push(userId);
  }
  const active = await activeUsers(storage, users);
  const { effective } = await new PolicyStore(storage).effectiveForProject(conversation.projectId);
  for (const device of await new DeviceStore(storage).liveForUsers([...active])) {
    const audience = audiences.get(device.userId) ?? 'external';
    const rules = audience === 'internal' ? effective.internal : effective.external;
    if (device.status === 'pending' && rules.deviceVerificationRequired) continue;
    entitled.set(device.id, device);
  }
  return entitled;
}

/**
 * Whether one device is entitled, by the same rules as `entitledDevices`
 * but without listing the whole project: the check on every message sent.
 */
export async function deviceEntitled(
  storage: Storage,
  conversation: Pick<Conversation, 'projectId' | 'kind' | 'participants'>,
  device: Device,
): Promise<boolean> {
  if (device.status === 'revoked') return false;
  if (
    conversation.kind === 'direct' &&
    !(conversation.participants ?? []).includes(device.userId)
  ) {
    return false;
  }
  if ((await activeUsers(storage, [device.userId])).size === 0) return false;
  if ((await effectiveProjectRole(storage, device.userId, conversation.projectId)) === null) {
    return false;
  }
  if (device.status === 'active') return true;
  // Pending: only where the person's audience needs no verification.
  const project = await new ProjectStore(storage).get(conversation.projectId);
  const user = await storage.db
    .selectFrom('users')
    .select(['org_id', 'org_role'])
    .where('id', '=', device.userId)
    .executeTakeFirst();
  const internal = project !== null && user?.org_id === project.orgId && user.org_role !== 'guest';
  const { effective } = await new PolicyStore(storage).effectiveForProject(conversation.projectId);
  return !(internal ? effective.internal : effective.external).deviceVerificationRequired;
}

/** The project's people and whether each is internal: direct members, then members of its groups. */
async function audiencesOf(
  storage: Storage,
  projectId: string,
): Promise<Map<string, 'internal' | 'external'>> {
  const found = new Map<string, 'internal' | 'external'>();
  for (const m of await new MemberStore(storage).list(projectId)) found.set(m.userId, m.kind);
  const db = storage.db;
  const granted = await db
    .selectFrom('project_group_members')
    .select('group_id')
    .where('project_id', '=', projectId)
    .execute();
  // Groups belong to the project's org, so their people are internal. Walk nested groups down.
  const seen = new Set<string>();
  let frontier = granted.map((g) => g.group_id);
  while (frontier.length > 0) {
    for (const g of frontier) seen.add(g);
    const members = await db
      .selectFrom('group_members')
      .select(['member_kind', 'member_id'])
      .where('group_id', 'in', frontier)
      .execute();
    frontier = [];
    for (const m of members) {
      if (m.member_kind === 'user') {
        if (!found.has(m.member_id)) found.set(m.member_id, 'internal');
      } else if (!seen.has(m.member_id)) {
        frontier.push(m.member_id);
      }
    }
  }
  return found;
}

async function activeUsers(storage: Storage, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await storage.db
    .selectFrom('users')
    .select('id')
    .where('id', 'in', [...userIds])
    .where('status', '=', 'active')
    .execute();
  return new Set(rows.map((r) => r.id));
}
