/**
 * A messaging device driven by hand over the real API (no client library):
 * @bulwark/crypto for the MLS work, plain HTTPS for the Delivery Service.
 * Bad-input tests use it to send exactly the bytes they mean to.
 */
import assert from 'node:assert/strict';
import {
  asDeviceId,
  asUserId,
  createDeviceIdentity,
  createMemoryKeyPackageStore,
  type DeviceIdentity,
  type DeviceRef,
  defaultCiphersuite,
  generateKeyPackages,
  generateLastResortKeyPackage,
  type MemoryKeyPackageStore,
  signWithIdentity,
} from '@bulwark/crypto';
import { deviceBindLabel } from '@bulwark/protocol';
import type { Answer } from './https.ts';
import { sessionFor } from './messaging.ts';
import type { TestServer } from './server.ts';

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
export const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'));

export interface RawDevice {
  ref: DeviceRef;
  identity: DeviceIdentity;
  token: string;
  keyPackages: MemoryKeyPackageStore;
  /** The public key packages uploaded, by ref (to build adds without the server). */
  published: Map<string, Uint8Array>;
  call(
    path: string,
    opts?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Answer>;
}

export async function rawDevice(
  server: TestServer,
  userId: string,
  opts: { keyPackages?: number; lastResort?: boolean } = {},
): Promise<RawDevice> {
  const token = await sessionFor(server, userId);
  const call: RawDevice['call'] = (path, o = {}) =>
    server.request(path, { ...o, headers: { authorization: `Bearer ${token}`, ...o.headers } });
  const identity = await createDeviceIdentity();
  const registered = await call('/v1/messaging/devices', {
    method: 'POST',
    body: { name: 'raw device', signaturePublicKey: b64(identity.signaturePublicKey) },
  });
  assert.equal(registered.status, 201, registered.body);
  const deviceId = JSON.parse(registered.body).device.id as string;
  const ref = { userId: asUserId(userId), deviceId: asDeviceId(deviceId) };
  const keyPackages = createMemoryKeyPackageStore();
  const published = new Map<string, Uint8Array>();
  const count = opts.keyPackages ?? 3;
  if (count > 0 || opts.lastResort) {
    const fresh = await generateKeyPackages(identity, ref, defaultCiphersuite, count);
    const last = opts.lastResort
      ? await generateLastResortKeyPackage(identity, ref, defaultCiphersuite)
      : null;
    for (const k of last ? [...fresh, last] : fresh) {
      keyPackages.add(k.private);
      published.set(k.private.ref, k.public);
    }
    const up = await call(`/v1/messaging/devices/${deviceId}/key-packages`, {
      method: 'POST',
      body: {
        keyPackages: fresh.map((k) => b64(k.public)),
        ...(last ? { lastResort: b64(last.public) } : {}),
      },
    });
    assert.equal(up.status, 200, up.body);
  }
  return { ref, identity, token, keyPackages, published, call };
}

/** Binds another session of the same person to the device (challenge, signature). */
export async function bindSession(server: TestServer, device: RawDevice): Promise<string> {
  const token = await sessionFor(server, device.ref.userId);
  const headers = { authorization: `Bearer ${token}` };
  const challenge = await server.request(`/v1/messaging/devices/${device.ref.deviceId}/challenge`, {
    method: 'POST',
    body: {},
    headers,
  });
  assert.equal(challenge.status, 200, challenge.body);
  const signature = await signWithIdentity(
    device.identity,
    deviceBindLabel,
    unb64(JSON.parse(challenge.body).challenge),
  );
  const bound = await server.request(`/v1/messaging/devices/${device.ref.deviceId}/bind`, {
    method: 'POST',
    body: { signature: b64(signature) },
    headers,
  });
  assert.equal(bound.status, 200, bound.body);
  return token;
}

export function errorCode(answer: Answer): string | undefined {
  try {
    return JSON.parse(answer.body).error?.code;
  } catch {
    return undefined;
  }
}
