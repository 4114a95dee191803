import type { ConversationView } from '@bulwark/protocol';

export interface ProjectMember {
  userId: string;
  role: string;
  displayName: string | null;
  username: string | null;
}

/** userId → how to call the person; unknown people get a short id, never nothing. */
export type Names = (userId: string) => string;

export function namesFrom(
  members: readonly ProjectMember[],
  me: { id: string; displayName: string },
): Names {
  const map = new Map<string, string>();
  for (const m of members) map.set(m.userId, m.displayName ?? m.username ?? m.userId.slice(0, 8));
  map.set(me.id, me.displayName);
  return (userId) => map.get(userId) ?? `someone (${userId.slice(0, 8)})`;
}

export function conversationTitle(view: ConversationView, names: Names, myId: string): string {
  if (view.kind === 'channel') return `#${view.name ?? 'channel'}`;
  const other = view.participants?.find((p) => p !== myId) ?? myId;
  return names(other);
}
