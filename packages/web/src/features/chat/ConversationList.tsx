/** The project's channels and one's direct conversations, and how to start new ones. */
import type { MessagingClient } from '@bulwark/chat';
import type { ConversationView } from '@bulwark/protocol';
import { type FormEvent, useState } from 'react';
import { Link, useLocation } from 'wouter';
import {
  Button,
  ErrorNote,
  SelectField,
  Spinner,
  TextField,
  useAction,
} from '../../ui/components.tsx';
import { conversationTitle, type Names, type ProjectMember } from './names.ts';

export function ConversationList({
  client,
  projectId,
  conversations,
  loading,
  error,
  onCreated,
  members,
  names,
  myId,
  currentId,
}: {
  client: MessagingClient;
  projectId: string;
  conversations: ConversationView[] | undefined;
  loading: boolean;
  error: unknown;
  onCreated: () => void;
  members: ProjectMember[];
  names: Names;
  myId: string;
  currentId: string | undefined;
}) {
  const [, navigate] = useLocation();
  const [channelName, setChannelName] = useState('');
  const [directWith, setDirectWith] = useState('');
  const createChannel = useAction(async (name: string) => {
    const view = await client.createChannel(projectId, name);
    setChannelName('');
    onCreated();
    navigate(`/chat/${view.id}`);
  });
  const openDirect = useAction(async (userId: string) => {
    const view = await client.openDirect(projectId, userId);
    onCreated();
    navigate(`/chat/${view.id}`);
  });
  const channels = (conversations ?? []).filter((c) => c.kind === 'channel');
  const directs = (conversations ?? []).filter((c) => c.kind === 'direct');
  const others = members.filter((m) => m.userId !== myId);

  const item = (c: ConversationView) => (
    <li key={c.id}>
      <Link href={`/chat/${c.id}`} aria-current={c.id === currentId ? 'page' : undefined}>
        {conversationTitle(c, names, myId)}
      </Link>
    </li>
  );

  return (
    <nav className="chat-list" aria-label="Conversations">
      {loading && !conversations ? <Spinner label="Loading conversations…" /> : null}
      <ErrorNote error={error} />
      <h2 className="chat-list-heading">Channels</h2>
      {channels.length > 0 ? (
        <ul>{channels.map(item)}</ul>
      ) : (
        <p className="muted">No channels yet.</p>
      )}
      <h2 className="chat-list-heading">Direct messages</h2>
      {directs.length > 0 ? (
        <ul>{directs.map(item)}</ul>
      ) : (
        <p className="muted">No direct conversations yet.</p>
      )}
      <form
        className="chat-list-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          const name = channelName.trim();
          if (name) void createChannel.run(name);
        }}
      >
        <TextField
          label="New channel"
          value={channelName}
          maxLength={80}
          placeholder="launch"
          onChange={(e) => setChannelName(e.target.value)}
        />
        <Button type="submit" busy={createChannel.busy} disabled={channelName.trim() === ''}>
          Create channel
        </Button>
        <ErrorNote error={createChannel.error} />
      </form>
      <form
        className="chat-list-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          if (directWith) void openDirect.run(directWith);
        }}
      >
        <SelectField
          label="Message a member"
          value={directWith}
          onChange={(e) => setDirectWith(e.target.value)}
          options={[
            { value: '', label: others.length ? 'Choose a person…' : 'No other members' },
            ...others.map((m) => ({ value: m.userId, label: names(m.userId) })),
          ]}
        />
        <Button type="submit" busy={openDirect.busy} disabled={directWith === ''}>
          Open conversation
        </Button>
        <ErrorNote error={openDirect.error} />
      </form>
    </nav>
  );
}
