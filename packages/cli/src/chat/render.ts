import type { ChatEvent, TimelineItem } from '@bulwark/chat';
import type { ConversationView, DeviceView } from '@bulwark/protocol';
import { printable } from '../context.ts';

/**
 * Plain-text rendering for `bulwark chat`. Everything that came from other
 * people (names, message text) goes through `printable`, so a message
 * cannot drive the terminal with escape sequences.
 */

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function who(userId: string, selfUserId: string): string {
  return userId === selfUserId ? 'you' : shortId(userId);
}

/** Local wall-clock time of an ISO timestamp: `HH:MM` today's way, with the date when not today. */
export function clock(iso: string, now: Date = new Date()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '??:??';
  const hhmm = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
  return at.toDateString() === now.toDateString()
    ? hhmm
    : `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')} ${hhmm}`;
}

/** One line per timeline item (history shown by `chat tail`). */
export function renderItem(item: TimelineItem, selfUserId: string, now?: Date): string {
  if (item.type === 'notice') {
    return `${clock(item.at, now)} ! ${printable(item.notice.text)}`;
  }
  const m = item.message;
  const from = who(m.sender.userId, selfUserId);
  if (m.deleted) return `${clock(m.sentAt, now)} ${from}: (message deleted)`;
  let text = printable(m.text);
  if (m.kind === 'attachment' && m.attachment) {
    const a = m.attachment;
    text = `[file ${printable(a.name)}, ${a.mediaType}, ${formatSize(a.size)}]${text ? ` ${text}` : ''}`;
  }
  const reply = m.replyTo ? `(reply to ${shortId(m.replyTo)}) ` : '';
  const edited = m.editedAt ? ' (edited)' : '';
  const reactions =
    m.reactions.length > 0
      ? `  ${m.reactions.map((r) => `${printable(r.emoji)}×${r.users.length}`).join(' ')}`
      : '';
  return `${clock(m.sentAt, now)} ${from}: ${reply}${text}${edited}${reactions}  [${shortId(m.id)}]`;
}

/** A live event as `chat tail` prints it, or null when it is not for this conversation or not shown. */
export function renderEvent(
  event: ChatEvent,
  conversation: string,
  selfUserId: string,
  now?: Date,
): string | null {
  if ('conversation' in event && event.conversation !== null && event.conversation !== conversation)
    return null;
  switch (event.type) {
    case 'message': {
      const from = who(event.sender.userId, selfUserId);
      const at = clock(event.content.sentAt, now);
      const b = event.content.body;
      const id = `[${shortId(event.content.id)}]`;
      switch (b.kind) {
        case 'text':
          return `${at} ${from}: ${printable(b.text)}  ${id}`;
        case 'reply':
          return `${at} ${from}: (reply to ${shortId(b.to)}) ${printable(b.text)}  ${id}`;
        case 'attachment':
          return `${at} ${from}: [file ${printable(b.name)}, ${b.mediaType}, ${formatSize(b.size)}]${b.text ? ` ${printable(b.text)}` : ''}  ${id}`;
        case 'edit':
          return `${at} ${from} edited ${shortId(b.target)}: ${printable(b.text)}`;
        case 'delete':
          return `${at} ${from} deleted ${shortId(b.target)}`;
        case 'reaction':
          return `${at} ${from} ${b.remove ? 'removed the reaction' : 'reacted'} ${printable(b.emoji)} to ${shortId(b.target)}`;
      }
      return null;
    }
    case 'membership': {
      if (event.selfRemoved) return '! this device was removed from the conversation';
      const parts = [
        ...event.added.map((m) => `+${who(m.userId, selfUserId)} (device ${shortId(m.deviceId)})`),
        ...event.removed.map(
          (m) => `-${who(m.userId, selfUserId)} (device ${shortId(m.deviceId)})`,
        ),
      ];
      return parts.length > 0 ? `! members: ${parts.join(', ')}` : null;
    }
    case 'joined':
      return `! joined the conversation (epoch ${event.epoch})`;
    case 'warning':
      return `! warning: ${printable(event.message)}`;
    case 'error':
      return `! error${event.fatal ? ' (stopping)' : ''}: ${printable(event.message)} (${event.code})`;
    case 'disconnected':
      return `! disconnected (${printable(event.detail)}); reconnecting in ${Math.ceil(event.retryInMs / 1000)} s`;
    default:
      return null;
  }
}

export function renderConversation(c: ConversationView, selfUserId: string): string {
  const title =
    c.kind === 'channel'
      ? `#${printable(c.name ?? '?')}`
      : `direct with ${(c.participants ?? [])
          .filter((p) => p !== selfUserId)
          .map(shortId)
          .join(', ')}`;
  const state = c.epoch === null ? 'not established' : `epoch ${c.epoch}`;
  return `${c.id}  ${title}  (project ${shortId(c.projectId)}, ${c.roster.length} device(s), ${state})`;
}

export function renderDevice(d: DeviceView, selfDeviceId: string | null): string {
  const mine = d.id === selfDeviceId ? ' (this device)' : '';
  const verified = d.verifiedBy ? `, verified by ${d.verifiedBy.kind}` : '';
  return `${d.id}  ${printable(d.name)}${mine}\n  status ${d.status}${verified}, created ${d.createdAt}\n  fingerprint ${groupHex(d.fingerprint)}`;
}

/** `ab12 cd34 …`: easier to compare aloud. */
export function groupHex(hex: string): string {
  return hex.match(/.{1,4}/g)?.join(' ') ?? hex;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
