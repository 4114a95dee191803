/**
 * Folds decrypted messages into what a conversation shows. Delivery is
 * at-least-once and only ordered per sender, so the fold is built to give
 * the same timeline for any arrival order with any duplicates:
 * - every event is applied once (dedup by message id);
 * - an edit, delete or reaction that arrives before its target waits in
 *   `pending` until the target arrives;
 * - concurrent edits and reaction toggles resolve last-writer-wins on
 *   (sentAt, id), not on arrival; a delete beats every edit.
 * Only the original sender (by user id, so any of their devices) may edit or
 * delete a message; anyone may react, and only their own reactions change.
 */
import type { AttachmentBody, MessageContent, MessageId } from './content.ts';
import type { DeviceRef, UserId } from './types.ts';

export interface TimelineEvent {
  /** The MLS-authenticated sender (from processIncoming), never a field of the payload. */
  readonly sender: DeviceRef;
  readonly content: MessageContent;
}

export interface Reaction {
  readonly emoji: string;
  readonly users: readonly UserId[];
}

export type AttachmentRef = Omit<AttachmentBody, 'kind' | 'text'>;

export interface TimelineMessage {
  readonly id: MessageId;
  readonly sender: DeviceRef;
  readonly sentAt: string;
  readonly kind: 'text' | 'reply' | 'attachment';
  readonly text: string;
  readonly replyTo?: MessageId;
  readonly attachment?: AttachmentRef;
  readonly editedAt?: string;
  readonly deleted: boolean;
  readonly reactions: readonly Reaction[];
}

interface Vote {
  readonly on: boolean;
  readonly stamp: string;
}

interface MessageMeta {
  readonly editStamp?: string;
  /** Keyed `${userId} ${emoji}`. */
  readonly votes: Readonly<Record<string, Vote>>;
}

export interface Timeline {
  /** Ordered by (sentAt, id). */
  readonly messages: readonly TimelineMessage[];
  /** Operations whose target has not arrived yet, ordered by (sentAt, id). */
  readonly pending: readonly TimelineEvent[];
  /** Ids of every event applied, for dedup. */
  readonly seen: Readonly<Record<string, true>>;
  readonly meta: Readonly<Record<string, MessageMeta>>;
}

/**
 * Bound on operations waiting for a target that may never come (a deleted
 * history, a hostile member). Past it the oldest are dropped, which is the
 * one case where arrival order can change the result.
 */
export const MAX_PENDING = 10_000;

export const emptyTimeline: Timeline = Object.freeze({
  messages: [],
  pending: [],
  seen: {},
  meta: {},
});

const stampOf = (c: MessageContent): string => `${c.sentAt} ${c.id}`;

function insertSorted<T>(items: readonly T[], item: T, key: (t: T) => string): T[] {
  const k = key(item);
  let i = items.length;
  while (i > 0 && key(items[i - 1] as T) > k) i--;
  return [...items.slice(0, i), item, ...items.slice(i)];
}

function targetOf(e: TimelineEvent): MessageId | undefined {
  const b = e.content.body;
  return b.kind === 'edit' || b.kind === 'delete' || b.kind === 'reaction' ? b.target : undefined;
}

function reactionsFrom(votes: Readonly<Record<string, Vote>>): Reaction[] {
  const byEmoji = new Map<string, UserId[]>();
  for (const [key, vote] of Object.entries(votes)) {
    if (!vote.on) continue;
    const space = key.indexOf(' ');
    const user = key.slice(0, space) as UserId;
    const emoji = key.slice(space + 1);
    byEmoji.set(emoji, [...(byEmoji.get(emoji) ?? []), user]);
  }
  return [...byEmoji.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([emoji, users]) => ({ emoji, users: users.sort() }));
}

function replaceMessage(t: Timeline, message: TimelineMessage, meta: MessageMeta): Timeline {
  return {
    ...t,
    messages: t.messages.map((m) => (m.id === message.id ? message : m)),
    meta: { ...t.meta, [message.id]: meta },
  };
}

/** Applies an edit, delete or reaction to a message that is present. */
function applyOperation(t: Timeline, e: TimelineEvent, target: TimelineMessage): Timeline {
  const b = e.content.body;
  const meta = t.meta[target.id] ?? { votes: {} };
  if (target.deleted) return t;
  const stamp = stampOf(e.content);
  switch (b.kind) {
    case 'edit': {
      if (e.sender.userId !== target.sender.userId) return t;
      if (meta.editStamp !== undefined && meta.editStamp >= stamp) return t;
      return replaceMessage(
        t,
        { ...target, text: b.text, editedAt: e.content.sentAt },
        { ...meta, editStamp: stamp },
      );
    }
    case 'delete': {
      if (e.sender.userId !== target.sender.userId) return t;
      const { id, sender, sentAt, kind } = target;
      return replaceMessage(
        t,
        { id, sender, sentAt, kind, text: '', deleted: true, reactions: [] },
        { votes: {} },
      );
    }
    case 'reaction': {
      const key = `${e.sender.userId} ${b.emoji}`;
      const previous = meta.votes[key];
      if (previous !== undefined && previous.stamp >= stamp) return t;
      const votes = { ...meta.votes, [key]: { on: b.remove !== true, stamp } };
      return replaceMessage(t, { ...target, reactions: reactionsFrom(votes) }, { ...meta, votes });
    }
    default:
      return t;
  }
}

function createMessage(e: TimelineEvent): TimelineMessage | undefined {
  const { content, sender } = e;
  const b = content.body;
  const base = { id: content.id, sender, sentAt: content.sentAt, deleted: false, reactions: [] };
  switch (b.kind) {
    case 'text':
      return { ...base, kind: 'text', text: b.text };
    case 'reply':
      return { ...base, kind: 'reply', text: b.text, replyTo: b.to };
    case 'attachment': {
      const { kind: _kind, text, ...attachment } = b;
      return { ...base, kind: 'attachment', text: text ?? '', attachment };
    }
    default:
      return undefined;
  }
}

/** Pure: returns a new timeline with `event` folded in (or the same one for a duplicate). */
export function applyToTimeline(timeline: Timeline, event: TimelineEvent): Timeline {
  const { id } = event.content;
  if (timeline.seen[id]) return timeline;
  let t: Timeline = { ...timeline, seen: { ...timeline.seen, [id]: true } };
  const message = createMessage(event);
  if (message !== undefined) {
    t = {
      ...t,
      messages: insertSorted(t.messages, message, (m) => `${m.sentAt} ${m.id}`),
      meta: { ...t.meta, [id]: { votes: {} } },
    };
    const waiting = t.pending.filter((p) => targetOf(p) === id);
    if (waiting.length === 0) return t;
    t = { ...t, pending: t.pending.filter((p) => targetOf(p) !== id) };
    for (const op of waiting) {
      const current = t.messages.find((m) => m.id === id);
      if (current !== undefined) t = applyOperation(t, op, current);
    }
    return t;
  }
  // An operation. Anything that was waiting for *this* id waited for a
  // message that will never come: the id belongs to an operation.
  t = { ...t, pending: t.pending.filter((p) => targetOf(p) !== id) };
  const target = targetOf(event);
  if (target === undefined) return t;
  const existing = t.messages.find((m) => m.id === target);
  if (existing !== undefined) return applyOperation(t, event, existing);
  if (t.seen[target]) return t; // the target is an operation, not a message
  const pending = insertSorted(t.pending, event, (p) => stampOf(p.content));
  return {
    ...t,
    pending: pending.length > MAX_PENDING ? pending.slice(pending.length - MAX_PENDING) : pending,
  };
}
