import type { TestContext } from 'node:test';
import { createCryptoEngine } from '../../packages/cli/src/chat/crypto-engine.ts';
import { MemoryDeviceStore } from '../../packages/cli/src/chat/device-store.ts';
import type { ChatEvent } from '../../packages/cli/src/chat/events.ts';
import { MessagingClient } from '../../packages/cli/src/chat/messaging-client.ts';
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

/**
 * A messaging device of `userId` on the real server: its own session, an
 * in-memory store, registered, with key packages, connected over the real
 * WebSocket. Closed when the test ends.
 */
export async function startDevice(
  t: TestContext,
  server: TestServer,
  userId: string,
  name: string,
  opts: { token?: string; store?: MemoryDeviceStore } = {},
): Promise<TestDevice> {
  const client = new MessagingClient({
    baseUrl: server.handle.url,
    token: opts.token ?? (await sessionFor(server, userId)),
    ca: server.ca,
    store: opts.store ?? new MemoryDeviceStore(),
    engine: createCryptoEngine(),
  });
  const events: ChatEvent[] = [];
  client.on((e) => events.push(e));
  t.after(() => client.close());
  await client.ensureDevice(name);
  await client.connect();
  return {
    client,
    userId,
    name,
    events,
    texts: (conversation) =>
      events.flatMap((e) =>
        e.type === 'message' &&
        e.conversation === conversation &&
        e.change === 'added' &&
        (e.content.body.kind === 'text' || e.content.body.kind === 'reply')
          ? [e.content.body.text]
          : [],
      ),
  };
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
