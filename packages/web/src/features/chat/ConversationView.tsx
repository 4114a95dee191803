/**
 * One conversation: its timeline (decrypted on this device, from the vault),
 * the senders' device verification, key-change warnings, attachments, and
 * the composer (Enter sends, Shift+Enter breaks the line; offline, the
 * message waits in the outbox and shows as "Queued").
 */
import {
  ApiError as ChatApiError,
  type ChatEvent,
  type MessagingClient,
  type Timeline,
  type TimelineItem,
  timelineItems,
} from '@bulwark/chat';
import type { AttachmentRef } from '@bulwark/crypto';
import type { DeviceView, ConversationView as View } from '@bulwark/protocol';
import {
  type FormEvent,
  type KeyboardEvent,
  useCallback,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { Link } from 'wouter';
import { describeError } from '../../api/client.ts';
import { enqueue, type OutboxItem, useOutbox } from '../../offline/outbox.ts';
import { Badge, Banner, Button, ErrorNote, Spinner } from '../../ui/components.tsx';
import { conversationTitle, type Names } from './names.ts';
import { isUnreachable, withOfflineCopy } from './offline-copy.ts';
import { isRetryable } from './use-chat-device.ts';
import { drafts } from './vault-device-store.ts';

interface Warning {
  key: string;
  message: string;
}

export function ConversationView({
  client,
  conversationId,
  projectId,
  names,
  myId,
  live,
}: {
  client: MessagingClient;
  conversationId: string;
  projectId: string;
  names: Names;
  myId: string;
  live: boolean;
}) {
  const [view, setView] = useState<View | null>(null);
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [warnings, setWarnings] = useState<Warning[]>([]);
  const [devices, setDevices] = useState<Record<string, DeviceView[]>>({});
  const [joined, setJoined] = useState<boolean | null>(null);

  const refresh = useCallback(async () => {
    try {
      setTimeline(await client.timeline(conversationId));
      setJoined((await client.membership(conversationId)).joined);
    } catch (failure) {
      setError(failure);
    }
  }, [client, conversationId]);

  useEffect(() => {
    setView(null);
    setTimeline(null);
    setWarnings([]);
    setError(null);
    let gone = false;
    withOfflineCopy(`chat-view:${conversationId}`, () => client.conversation(conversationId)).then(
      (v) => !gone && setView(v),
      (failure: unknown) => !gone && setError(failure),
    );
    void refresh();
    client
      .sync(conversationId)
      .then(refresh)
      // Offline: what this device decrypted before is shown; the socket catches up later.
      .catch((failure: unknown) => !gone && !isUnreachable(failure) && setError(failure));
    let scheduled = false;
    const off = client.on((event: ChatEvent) => {
      if (!('conversation' in event)) return;
      if (
        event.type === 'warning' &&
        (event.conversation === conversationId || event.conversation === null)
      ) {
        if (
          event.kind === 'key-changed' ||
          event.kind === 'new-device' ||
          event.kind === 'undecryptable'
        ) {
          setWarnings((w) => [...w, { key: `${w.length}-${event.kind}`, message: event.message }]);
        }
      }
      if (event.conversation !== conversationId || scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        if (!gone) void refresh();
      });
    });
    return () => {
      gone = true;
      off();
    };
  }, [client, conversationId, refresh]);

  const items = timeline ? timelineItems(timeline) : [];
  const senders = [
    ...new Set(items.flatMap((i) => (i.type === 'message' ? [i.message.sender.userId] : []))),
  ];
  const sendersKey = senders.sort().join(',');
  // biome-ignore lint/correctness/useExhaustiveDependencies: sendersKey stands for senders
  useEffect(() => {
    for (const userId of senders) {
      if (devices[userId]) continue;
      client.devices(userId).then(
        (list) => setDevices((d) => ({ ...d, [userId]: list })),
        () => {},
      );
    }
  }, [client, sendersKey]);

  const queued = useOutbox().filter(
    (o) =>
      o.kind === 'chat.message' &&
      (o.payload as { conversationId?: string } | null)?.conversationId === conversationId,
  );
  const title = view ? conversationTitle(view, names, myId) : 'Conversation';

  const listRef = useRef<HTMLOListElement>(null);
  const count = items.length + queued.length;
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when the count changes
  useEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [count]);

  return (
    <section className="chat-conversation" aria-labelledby="chat-conversation-title">
      <header className="chat-conversation-head">
        <Link href="/chat" className="chat-back">
          ← Conversations
        </Link>
        <h2 id="chat-conversation-title">{title}</h2>
        {view ? (
          <span className="muted">
            {view.kind === 'channel' ? 'Channel' : 'Direct conversation'} ·{' '}
            {new Set(view.roster.map((r) => r.userId)).size} people in the group · end-to-end
            encrypted
          </span>
        ) : null}
      </header>
      {warnings.map((w) => (
        <Banner
          key={w.key}
          tone="warning"
          title="Check who you are talking to"
          actions={
            <Button
              variant="ghost"
              onClick={() => setWarnings((list) => list.filter((x) => x.key !== w.key))}
            >
              Dismiss
            </Button>
          }
        >
          {w.message}
        </Banner>
      ))}
      <ErrorNote error={error} />
      {joined === false ? (
        <Banner tone="info">
          This device is not in the conversation’s encrypted group yet. Another member’s device adds
          it when it is online; messages sent before that cannot be read here.
        </Banner>
      ) : null}
      {timeline === null && !error ? <Spinner label="Decrypting the conversation…" /> : null}
      {/* The live region wraps the list: role="log" on the <ol> itself would take away its list semantics. */}
      <div role="log" aria-label={`Messages in ${title}`}>
        <ol className="chat-timeline" ref={listRef}>
          {items.map((item) => (
            <TimelineRow
              key={item.type === 'message' ? item.message.id : `${item.at}-${item.notice.text}`}
              item={item}
              names={names}
              myId={myId}
              devices={devices}
              client={client}
              conversationId={conversationId}
            />
          ))}
          {queued.map((o) => (
            <QueuedRow key={o.id} item={o} />
          ))}
        </ol>
      </div>
      {items.length === 0 && queued.length === 0 && timeline !== null ? (
        <p className="muted chat-empty">No messages yet. Say hello.</p>
      ) : null}
      <Composer
        key={conversationId}
        client={client}
        conversationId={conversationId}
        projectId={projectId}
        title={title}
        live={live}
        onSent={refresh}
      />
    </section>
  );
}

function TimelineRow({
  item,
  names,
  myId,
  devices,
  client,
  conversationId,
}: {
  item: TimelineItem;
  names: Names;
  myId: string;
  devices: Record<string, DeviceView[]>;
  client: MessagingClient;
  conversationId: string;
}) {
  if (item.type === 'notice') {
    const n = item.notice;
    const serious = n.kind === 'key-changed' || n.kind === 'undecryptable' || n.kind === 'removed';
    return (
      <li className={`chat-notice${serious ? ' chat-notice-warning' : ''}`}>
        {serious ? <strong>Warning: </strong> : null}
        {noticeText(n, names, myId)} <time dateTime={n.at}>{clock(n.at)}</time>
      </li>
    );
  }
  const m = item.message;
  const own = m.sender.userId === myId;
  return (
    <li className={`chat-message${own ? ' chat-message-own' : ''}`}>
      <div className="chat-message-head">
        <strong>{names(m.sender.userId)}</strong>{' '}
        <DeviceBadge list={devices[m.sender.userId]} deviceId={m.sender.deviceId} />{' '}
        <time dateTime={m.sentAt} className="muted">
          {clock(m.sentAt)}
        </time>
        {m.editedAt && !m.deleted ? <span className="muted"> (edited)</span> : null}
      </div>
      {m.deleted ? (
        <p className="muted chat-message-text">This message was deleted.</p>
      ) : (
        <>
          {m.text ? <p className="chat-message-text">{m.text}</p> : null}
          {m.attachment ? (
            <AttachmentButton
              client={client}
              conversationId={conversationId}
              attachment={m.attachment}
              name={m.attachment ? attachmentName(m) : ''}
            />
          ) : null}
          {m.reactions.length > 0 ? (
            <p className="chat-reactions">
              {m.reactions.map((r) => (
                <span key={r.emoji} className="badge badge-neutral">
                  {r.emoji} {r.users.length}
                </span>
              ))}
            </p>
          ) : null}
        </>
      )}
    </li>
  );
}

function attachmentName(m: { attachment?: AttachmentRef }): string {
  return m.attachment?.name ?? 'attachment';
}

function QueuedRow({ item }: { item: OutboxItem }) {
  const text = (item.payload as { text?: string }).text ?? '';
  return (
    <li className="chat-message chat-message-own chat-message-queued">
      <div className="chat-message-head">
        <strong>You</strong>{' '}
        <Badge tone={item.state === 'failed' || item.state === 'conflict' ? 'danger' : 'warning'}>
          {item.state === 'failed' || item.state === 'conflict'
            ? 'Not sent'
            : item.state === 'sending'
              ? 'Sending…'
              : 'Queued'}
        </Badge>
      </div>
      <p className="chat-message-text">{text}</p>
      {item.problem ? <p className="field-error">{item.problem}</p> : null}
    </li>
  );
}

/** Verified by another device or an admin; trusted on first use; or still unverified. */
function DeviceBadge({ list, deviceId }: { list: DeviceView[] | undefined; deviceId: string }) {
  if (!list) return null;
  const device = list.find((d) => d.id === deviceId);
  if (!device) return <Badge tone="danger">Unknown device</Badge>;
  const where = `${device.name}, fingerprint ${device.fingerprint.slice(0, 16)}…`;
  if (device.status === 'revoked')
    return (
      <Badge tone="danger" title={where}>
        Revoked device
      </Badge>
    );
  if (device.status === 'pending')
    return (
      <Badge tone="warning" title={where}>
        Unverified device
      </Badge>
    );
  if (device.verifiedBy)
    return (
      <Badge tone="success" title={where}>
        Verified device
      </Badge>
    );
  return (
    <Badge tone="info" title={where}>
      First device (trusted on first use)
    </Badge>
  );
}

function AttachmentButton({
  client,
  conversationId,
  attachment,
  name,
}: {
  client: MessagingClient;
  conversationId: string;
  attachment: AttachmentRef;
  name: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const download = async () => {
    setBusy(true);
    setError(null);
    try {
      const bytes = await client.fetchAttachment(conversationId, attachment);
      const url = URL.createObjectURL(
        new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
      );
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="chat-attachment">
      <Button variant="secondary" className="btn-small" busy={busy} onClick={download}>
        Download {name} ({formatSize(attachment.size)})
      </Button>
      {error ? (
        <p className="field-error" role="alert">
          Could not open the attachment: {describeError(error)}
        </p>
      ) : null}
    </div>
  );
}

function Composer({
  client,
  conversationId,
  projectId,
  title,
  live,
  onSent,
}: {
  client: MessagingClient;
  conversationId: string;
  projectId: string;
  title: string;
  live: boolean;
  onSent: () => void;
}) {
  const id = useId();
  const [text, setText] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    let gone = false;
    drafts.load(conversationId).then(
      (saved) => {
        if (gone) return;
        setText((current) => current || saved);
        setLoaded(true);
      },
      () => !gone && setLoaded(true),
    );
    return () => {
      gone = true;
    };
  }, [conversationId]);

  // The draft follows the text (debounced): a reload or going offline loses nothing.
  useEffect(() => {
    if (!loaded) return;
    const timer = setTimeout(() => void drafts.save(conversationId, text).catch(() => {}), 400);
    return () => clearTimeout(timer);
  }, [conversationId, text, loaded]);

  const queue = async (message: string) => {
    await enqueue({
      kind: 'chat.message',
      scope: projectId,
      label: `Message in ${title}`,
      payload: { conversationId, text: message },
    });
    setNote('You are offline: the message is queued and will be sent when the connection is back.');
  };

  const send = async () => {
    const message = text.trim();
    if (!message || busy) return;
    setBusy(true);
    setProblem(null);
    setNote(null);
    try {
      if (!live || !navigator.onLine) await queue(message);
      else {
        try {
          await client.send(conversationId, message);
        } catch (error) {
          if (!isRetryable(error)) throw error;
          await queue(message);
        }
      }
      setText('');
      await drafts.save(conversationId, '').catch(() => {});
      onSent();
    } catch (error) {
      setProblem(`Not sent: ${describeError(error)} Your text is still here.`);
    } finally {
      setBusy(false);
    }
  };

  const attach = async (file: File) => {
    setBusy(true);
    setProblem(null);
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      await client.sendAttachment(conversationId, bytes, {
        name: file.name || 'attachment',
        mediaType: file.type || 'application/octet-stream',
      });
      onSent();
    } catch (error) {
      setProblem(
        error instanceof ChatApiError && error.code === 'payload_too_large'
          ? `The file is too large for this project: ${error.message}`
          : `The file was not sent: ${describeError(error)}`,
      );
    } finally {
      setBusy(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form
      className="chat-composer"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void send();
      }}
    >
      <label htmlFor={`${id}-text`} className="visually-hidden">
        Message {title}
      </label>
      <textarea
        id={`${id}-text`}
        value={text}
        rows={2}
        placeholder={`Message ${title}`}
        aria-describedby={`${id}-hint`}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <p id={`${id}-hint`} className="visually-hidden">
        Enter sends; Shift+Enter starts a new line.
      </p>
      <div className="chat-composer-actions">
        <label className="btn btn-secondary chat-file">
          Attach a file
          <input
            type="file"
            className="visually-hidden"
            disabled={busy || !live}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file) void attach(file);
            }}
          />
        </label>
        <Button type="submit" variant="primary" busy={busy} disabled={text.trim() === ''}>
          Send
        </Button>
      </div>
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      {note ? (
        <p className="field-hint" role="status">
          {note}
        </p>
      ) : null}
    </form>
  );
}

function noticeText(
  n: {
    kind: string;
    text: string;
    members?: { added: { userId: string }[]; removed: { userId: string }[] };
  },
  names: Names,
  myId: string,
): string {
  if (n.kind === 'membership' && n.members) {
    const who = (list: { userId: string }[]) =>
      [...new Set(list.map((m) => (m.userId === myId ? 'You' : names(m.userId))))].join(', ');
    const parts = [
      ...(n.members.added.length ? [`${who(n.members.added)} joined`] : []),
      ...(n.members.removed.length ? [`${who(n.members.removed)} left`] : []),
    ];
    if (parts.length) return parts.join('; ');
  }
  return n.text;
}

function clock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = new Date().toDateString() === date.toDateString();
  return date.toLocaleString(
    undefined,
    today ? { timeStyle: 'short' } : { dateStyle: 'medium', timeStyle: 'short' },
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
