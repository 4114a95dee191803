import type { TestContext } from 'node:test';
import {
  type ChatEvent,
  createCryptoEngine,
  type FetchLike,
  MemoryDeviceStore,
  MessagingClient,
} from '@bulwark/chat';
import { nodeTransport } from '../../packages/cli/src/chat/node-transport.ts';
import type { TestServer } from './server.ts';

/** A fresh bearer session for a person: one per device, as separate installations would have. */
export async function sessionFor(server: TestServer, userId: string): Promise<string> {
  const { token } = await server.handle.identity().sessions.create(userId, {
    kind: 'bearer',
    methods: ['passkey'],
    stepUp: true,
  });
  return token;
}

export interface TestDevice {
  client: MessagingClient;
  userId: string;
  name: string;
  /** Every event the client emitted, in order. */
  events: ChatEvent[];
  /** Texts of the messages this device decrypted, per conversation, in arrival order. */
  texts(conversation: string): string[];
}

/** The texts a device decrypted (or sent) in a conversation, in the order it saw them. */
export function textsOf(events: readonly ChatEvent[], conversation: string): string[] {
  return events.flatMap((e) =>
    e.type === 'message' &&
    e.conversation === conversation &&
    e.change === 'added' &&
    (e.content.body.kind === 'text' || e.content.body.kind === 'reply')
      ? [e.content.body.text]
      : [],
  );
}

/**
 * The real client as a device of the session's person at `baseUrl`:
 * registered (or bound, when the store already holds a device), with key
 * packages, its socket open. Closed when the test ends.
 */
export async function connectDevice(
  t: TestContext,
  node: { baseUrl: string; ca: string },
  session: { userId: string; token: string },
  name: string,
  opts: { store?: MemoryDeviceStore; fetchImpl?: FetchLike } = {},
): Promise<TestDevice> {
  const client = new MessagingClient({
    baseUrl: node.baseUrl,
    token: session.token,
    ...nodeTransport(node.ca),
    store: opts.store ?? new MemoryDeviceStore(),
    engine: createCryptoEngine(),
    ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}),
  });
  const events: ChatEvent[] = [];
  client.on((e) => events.push(e));
  t.after(() => client.close());
  await client.ensureDevice(name);
  await client.connect();
  return {
    client,
    userId: session.userId,
    name,
    events,
    texts: (conversation) => textsOf(events, conversation),
  };
}

/** A device of `userId` on an in-process test server, with a session of its own. */
export async function startDevice(
  t: TestContext,
  server: TestServer,
  userId: string,
  name: string,
  opts: { token?: string; store?: MemoryDeviceStore; fetchImpl?: FetchLike } = {},
): Promise<TestDevice> {
  const token = opts.token ?? (await sessionFor(server, userId));
  return connectDevice(
    t,
    { baseUrl: server.handle.url, ca: server.ca },
    { userId, token },
    name,
    opts,
  );
}

/** Resolves once every device is in the conversation's group. */
export async function allJoined(
  devices: readonly TestDevice[],
  conversation: string,
  timeoutMs = 60_000,
): Promise<void> {
  await Promise.all(
    devices.map((d) =>
      d.client.waitUntil(
        async () => (await d.client.membership(conversation)).joined,
        timeoutMs,
        `${d.name} joins ${conversation}`,
      ),
    ),
  );
}

/** A device's MLS group state in a conversation, as its store holds it (the "stolen laptop"). */
export async function stolenGroupState(
  store: MemoryDeviceStore,
  conversation: string,
): Promise<Uint8Array> {
  const record = await store.loadConversation(conversation);
  if (!record?.groupState) throw new Error('the device holds no group state for it');
  return new Uint8Array(Buffer.from(record.groupState, 'base64url'));
}

/** The conversation's log as the server stores it (what an attacker with the database has). */
export async function storedLog(
  server: TestServer,
  conversation: string,
): Promise<{ seq: number; kind: string; epoch: number; data: Uint8Array }[]> {
  const rows = await server.handle
    .storage()
    .db.selectFrom('conversation_log')
    .select(['seq', 'kind', 'epoch', 'data'])
    .where('conversation_id', '=', conversation)
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({
    seq: Number(r.seq),
    kind: r.kind,
    epoch: Number(r.epoch),
    data: new Uint8Array(Buffer.from(r.data, 'base64url')),
  }));
}
