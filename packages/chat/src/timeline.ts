import {
  applyToTimeline,
  emptyTimeline as emptyFold,
  type MessageContent,
  type Timeline as MessageFold,
  type TimelineMessage,
} from '@bulwark/crypto';
import type { Member } from './device-store.ts';

/**
 * A conversation as this device shows it: the crypto package's fold of the
 * messages (edits, deletions and reactions applied, repeats dropped by
 * message id, order-independent), plus what only the client knows: each
 * message's position in the server's log, and notices (undecryptable
 * deliveries, membership changes, changed keys). Plain JSON, stored as is.
 */
export interface Timeline {
  v: 1;
  fold: MessageFold;
  /** Message id → position in the conversation's log. */
  seqs: Record<string, number>;
  notices: NoticeEntry[];
}

export type NoticeKind = 'undecryptable' | 'membership' | 'key-changed' | 'new-device' | 'removed';

export interface NoticeEntry {
  kind: NoticeKind;
  seq: number | null;
  at: string;
  text: string;
  userId: string | null;
  deviceId: string | null;
  /** Membership notices: who was added and removed, for clients that show names instead of ids. */
  members?: { added: Member[]; removed: Member[] };
}

/** What applying one content did (for the client's `message` event and `chat tail`). */
export type TimelineChange =
  | { kind: 'added' | 'edited' | 'deleted' | 'reacted'; message: TimelineMessage }
  /** An edit, deletion or reaction that arrived before its target: it waits in the fold. */
  | { kind: 'pending' }
  /** Seen before (a redelivery): nothing changed. */
  | { kind: 'duplicate' }
  /** Refused by the fold: not the author's to change, superseded, or the target was deleted. */
  | { kind: 'ignored'; reason: string };

export function emptyTimeline(): Timeline {
  return { v: 1, fold: structuredClone(emptyFold), seqs: {}, notices: [] };
}

/** Folds one decrypted content in (mutating `timeline`, which the caller owns). */
export function applyContent(
  timeline: Timeline,
  content: MessageContent,
  sender: Member,
  seq: number | null,
): TimelineChange {
  if (seq !== null && timeline.seqs[content.id] === undefined) timeline.seqs[content.id] = seq;
  if (timeline.fold.seen[content.id]) return { kind: 'duplicate' };
  const before = timeline.fold;
  const after = applyToTimeline(before, {
    sender: sender as Parameters<typeof applyToTimeline>[1]['sender'],
    content,
  });
  timeline.fold = after;
  const body = content.body;
  if (body.kind === 'text' || body.kind === 'reply' || body.kind === 'attachment') {
    const message = after.messages.find((m) => m.id === content.id);
    return message ? { kind: 'added', message } : { kind: 'ignored', reason: 'not added' };
  }
  const previous = before.messages.find((m) => m.id === body.target);
  const message = after.messages.find((m) => m.id === body.target);
  if (!previous || !message) {
    return after.pending.length > before.pending.length
      ? { kind: 'pending' }
      : { kind: 'ignored', reason: `no message ${body.target} to ${body.kind}` };
  }
  if (message === previous) {
    const reason = previous.deleted
      ? 'the message was deleted'
      : body.kind !== 'reaction' && previous.sender.userId !== sender.userId
        ? `only its author may ${body.kind} a message`
        : 'superseded by a later change';
    return { kind: 'ignored', reason };
  }
  const kind = body.kind === 'edit' ? 'edited' : body.kind === 'delete' ? 'deleted' : 'reacted';
  return { kind, message };
}

export function addNotice(
  timeline: Timeline,
  notice: Pick<NoticeEntry, 'kind' | 'seq' | 'at' | 'text'> &
    Partial<Pick<NoticeEntry, 'userId' | 'deviceId' | 'members'>>,
): NoticeEntry {
  const entry: NoticeEntry = {
    kind: notice.kind,
    seq: notice.seq,
    at: notice.at,
    text: notice.text,
    userId: notice.userId ?? null,
    deviceId: notice.deviceId ?? null,
    ...(notice.members === undefined ? {} : { members: notice.members }),
  };
  timeline.notices.push(entry);
  return entry;
}

export type TimelineItem =
  | { type: 'message'; at: string; seq: number | null; message: TimelineMessage }
  | { type: 'notice'; at: string; seq: number | null; notice: NoticeEntry };

/**
 * Messages and notices in one list, for display: by log position where
 * both have one, else by time (the fold itself orders messages by the
 * senders' clocks, which the log does not have to agree with).
 */
export function timelineItems(timeline: Timeline): TimelineItem[] {
  const items: TimelineItem[] = [
    ...timeline.fold.messages.map((message) => ({
      type: 'message' as const,
      at: message.sentAt,
      seq: timeline.seqs[message.id] ?? null,
      message,
    })),
    ...timeline.notices.map((notice) => ({
      type: 'notice' as const,
      at: notice.at,
      seq: notice.seq,
      notice,
    })),
  ];
  return items.sort((a, b) =>
    a.seq !== null && b.seq !== null && a.seq !== b.seq
      ? a.seq - b.seq
      : a.at < b.at
        ? -1
        : a.at > b.at
          ? 1
          : 0,
  );
}
