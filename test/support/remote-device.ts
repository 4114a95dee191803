/**
 * A messaging device (the real client, MessagingClient) of a server that
 * runs in another process: like `startDevice` in messaging.ts, but given
 * the node's URL, CA and a bearer session instead of an in-process server.
 */
import type { TestContext } from 'node:test';
import { createCryptoEngine } from '../../packages/cli/src/chat/crypto-engine.ts';
import { MemoryDeviceStore } from '../../packages/cli/src/chat/device-store.ts';
import type { ChatEvent } from '../../packages/cli/src/chat/events.ts';
import { MessagingClient } from '../../packages/cli/src/chat/messaging-client.ts';
import type { TestDevice } from './messaging.ts';

export interface RemoteDevice extends TestDevice {
  /** The node this device's socket and requests go to. */
  node: string;
  deviceId: string;
}

/**
 * Registers a device for the session's person on `node`, stocks its key
 * packages and opens its socket there. Closed when the test ends.
 */
export async function startRemoteDevice(
  t: TestContext,
  node: { url: string; ca: string; name: string },
  session: { userId: string; token: string },
  name: string,
): Promise<RemoteDevice> {
  const client = new MessagingClient({
    baseUrl: node.url,
    token: session.token,
    ca: node.ca,
    store: new MemoryDeviceStore(),
    engine: createCryptoEngine(),
  });
  const events: ChatEvent[] = [];
  client.on((e) => events.push(e));
  t.after(() => client.close());
  const info = await client.ensureDevice(name);
  await client.connect();
  return {
    client,
    userId: session.userId,
    name,
    node: node.name,
    deviceId: info.deviceId,
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
