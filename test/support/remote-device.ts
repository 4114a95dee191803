/**
 * A messaging device (the real client, MessagingClient) of a server that
 * runs in another process: like `startDevice` in messaging.ts, but given
 * the node's URL, CA and a bearer session instead of an in-process server.
 */
import type { TestContext } from 'node:test';
import { connectDevice, type TestDevice } from './messaging.ts';

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
  const device = await connectDevice(t, { baseUrl: node.url, ca: node.ca }, session, name);
  return { ...device, node: node.name, deviceId: device.client.device?.deviceId as string };
}
