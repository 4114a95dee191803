/**
 * End-to-end encrypted chat in the browser: this browser becomes one of the
 * person's messaging devices (keys in the encrypted offline vault), and the
 * client logic is `@bulwark/chat`, the same core as `bulwark chat`. The
 * whole page is its own lazy chunk, so MLS (ts-mls) stays out of the first
 * screen's bundle.
 */
import './no-eval.ts';
import type { DeviceInfo, MessagingClient } from '@bulwark/chat';
import { useEffect, useMemo } from 'react';
import { api, seg } from '../../api/client.ts';
import { useSession } from '../../app/session.tsx';
import {
  Banner,
  Button,
  EmptyState,
  ErrorNote,
  Spinner,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import type { ProjectInfo } from '../project/ProjectPage.tsx';
import { ConversationList } from './ConversationList.tsx';
import { ConversationView } from './ConversationView.tsx';
import './chat.css';
import { namesFrom, type ProjectMember } from './names.ts';
import { withOfflineCopy } from './offline-copy.ts';
import { type ChatDevice, useChatDevice } from './use-chat-device.ts';

export default function ChatPage({
  project,
  conversationId,
}: {
  project: ProjectInfo;
  conversationId?: string | undefined;
}) {
  const device = useChatDevice();
  switch (device.phase) {
    case 'locked':
      return (
        <Banner tone="info" title="Chat needs your encrypted offline store">
          This browser keeps its chat keys and messages only in your encrypted offline store, which
          is locked. Sign in again with your passkey (or your offline passphrase) to open it, then
          come back to this page.
        </Banner>
      );
    case 'other-tab':
      return (
        <Banner tone="warning" title="Chat is open in another tab">
          This browser is one messaging device, and only one tab may use it at a time (two would
          scramble its encryption state). Close the other tab, then reload this one.
        </Banner>
      );
    case 'starting':
      return <Spinner label="Setting up this browser as a messaging device…" />;
    case 'failed':
      return (
        <>
          <ErrorNote error={device.error} />
          <Button onClick={device.retry}>Try again</Button>
        </>
      );
    case 'ready':
      return <ChatWorkspace project={project} conversationId={conversationId} device={device} />;
  }
}

function ChatWorkspace({
  project,
  conversationId,
  device,
}: {
  project: ProjectInfo;
  conversationId: string | undefined;
  device: Extract<ChatDevice, { phase: 'ready' }>;
}) {
  const { me } = useSession();
  const { client } = device;
  const projectId = project.project.id;
  const members = useResource(`chat-members:${projectId}`, (signal) =>
    withOfflineCopy(`chat-members:${projectId}`, () =>
      api.get<{ members: ProjectMember[] }>(`/v1/projects/${seg(projectId)}/members`, { signal }),
    ),
  );
  const conversations = useResource(`chat-conversations:${projectId}`, () =>
    withOfflineCopy(`chat-list:${projectId}`, () => client.conversations(projectId)),
  );
  const names = useMemo(
    () => namesFrom(members.data?.members ?? [], me.user),
    [members.data, me.user],
  );
  const reload = conversations.reload;
  // A new conversation (someone opened a direct one with us, or made a channel) shows up.
  useEffect(
    () =>
      client.on((event) => {
        if (event.type === 'joined') reload();
      }),
    [client, reload],
  );

  return (
    <div className="chat">
      <DeviceStatus
        device={device.device}
        connection={device.connection}
        detail={device.connectionDetail}
        recheck={device.recheck}
        client={client}
      />
      <div className={`chat-panes${conversationId ? ' chat-panes-open' : ''}`}>
        <ConversationList
          client={client}
          projectId={projectId}
          conversations={conversations.data}
          loading={conversations.loading}
          error={conversations.error}
          onCreated={reload}
          members={members.data?.members ?? []}
          names={names}
          myId={me.user.id}
          currentId={conversationId}
        />
        <div className="chat-main">
          {conversationId ? (
            <ConversationView
              key={conversationId}
              client={client}
              conversationId={conversationId}
              projectId={projectId}
              names={names}
              myId={me.user.id}
              live={device.connection === 'live'}
            />
          ) : (
            <EmptyState title="Choose a conversation">
              <p className="muted">
                Messages are encrypted on this device and readable only by the members’ devices.
              </p>
            </EmptyState>
          )}
        </div>
      </div>
    </div>
  );
}

function DeviceStatus({
  device,
  connection,
  detail,
  recheck,
  client,
}: {
  device: DeviceInfo;
  connection: 'connecting' | 'live' | 'reconnecting' | 'stopped';
  detail: string | null;
  recheck: () => void;
  client: MessagingClient;
}) {
  return (
    <>
      {device.status === 'pending' ? (
        <Banner
          tone="warning"
          title="This browser waits for verification"
          actions={<Button onClick={recheck}>Check again</Button>}
        >
          <p>
            “{device.name}” is registered as a new messaging device, but your organisation asks that
            new devices be verified before they may read or send messages. Compare this fingerprint
            with the one shown on your other device:
          </p>
          <p className="mono chat-fingerprint">{groupFingerprint(device.fingerprint)}</p>
          <p>
            Verify it from another of your devices (in the web app’s chat page, or with{' '}
            <code className="mono">bulwark chat verify-device {device.deviceId}</code>), or ask an
            administrator of your organisation to verify it.
          </p>
        </Banner>
      ) : null}
      {device.status === 'active' ? <PendingOwnDevices client={client} self={device} /> : null}
      {connection === 'reconnecting' ? (
        <p className="chat-connection" role="status">
          Reconnecting to the server… Messages you write now are queued and sent when the connection
          is back.
        </p>
      ) : connection === 'stopped' ? (
        <Banner tone="danger" title="Chat stopped">
          {detail ?? 'The server refused this device.'}
        </Banner>
      ) : null}
    </>
  );
}

/** Other devices of this person that wait for verification: this (active) device may vouch for them. */
function PendingOwnDevices({ client, self }: { client: MessagingClient; self: DeviceInfo }) {
  const devices = useResource(`chat-own-devices:${self.deviceId}`, () => client.devices());
  const pending = (devices.data ?? []).filter(
    (d) => d.status === 'pending' && d.id !== self.deviceId,
  );
  if (pending.length === 0) return null;
  return (
    <Banner tone="info" title="A new device of yours waits for verification">
      <ul className="chat-pending-devices">
        {pending.map((d) => (
          <li key={d.id}>
            <strong>{d.name}</strong>, fingerprint{' '}
            <span className="mono">{groupFingerprint(d.fingerprint)}</span>{' '}
            <VerifyButton client={client} deviceId={d.id} name={d.name} onDone={devices.reload} />
          </li>
        ))}
      </ul>
      <p>Verify only a device you just set up yourself, after comparing the fingerprint on it.</p>
    </Banner>
  );
}

function VerifyButton({
  client,
  deviceId,
  name,
  onDone,
}: {
  client: MessagingClient;
  deviceId: string;
  name: string;
  onDone: () => void;
}) {
  const verify = useAction(async () => {
    await client.verifyDevice(deviceId);
    onDone();
  });
  return (
    <>
      <Button
        className="btn-small"
        aria-label={`Verify ${name}`}
        busy={verify.busy}
        onClick={() => void verify.run()}
      >
        Verify
      </Button>
      <ErrorNote error={verify.error} />
    </>
  );
}

function groupFingerprint(hex: string): string {
  return (hex.match(/.{1,4}/g) ?? [hex]).join(' ');
}
