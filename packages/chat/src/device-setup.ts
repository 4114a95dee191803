import { type DeviceStatus, type MlsCiphersuite, messagingLimits } from '@bulwark/protocol';
import { fromBase64Url, toBase64Url } from './bytes.ts';
import { keyPackagesToUpload } from './decisions.ts';
import type { DeviceStore, Member, StoredDevice, StoredKeyPackage } from './device-store.ts';
import { ApiError } from './errors.ts';
import type { MessagingHttp } from './http.ts';
import type { EngineIdentity, MlsEngine } from './mls-engine.ts';

export interface ReadyDevice {
  device: StoredDevice;
  identity: EngineIdentity;
  self: Member;
  status: DeviceStatus;
  /** True when this run registered the device (false: an existing one was bound). */
  created: boolean;
}

/** docs/messaging.md: keep at least 20 key packages on the server, in batches of 50. */
export const keyPackagePolicy = {
  low: 20,
  batch: 50,
  max: messagingLimits.keyPackagesPerDevice,
} as const;

/**
 * This session's device: bind the stored one (sign the server's challenge
 * with its identity key), or create and register a new one. Binding again
 * on every run is what lets a CLI hold short sessions.
 */
export async function ensureDevice(opts: {
  http: MessagingHttp;
  store: DeviceStore;
  engine: MlsEngine;
  name: string;
  suite: MlsCiphersuite;
  now: () => Date;
}): Promise<ReadyDevice> {
  const { http, store, engine } = opts;
  const origin = http.baseUrl.origin;
  const me = await http.me();
  const stored = await store.loadDevice();
  if (stored) {
    if (stored.server !== origin) {
      throw new ApiError(
        'conflict',
        `the device in this state directory belongs to ${stored.server}, not ${origin}: use another --state-dir`,
        409,
      );
    }
    if (stored.userId !== me.id) {
      throw new ApiError(
        'conflict',
        'the device in this state directory belongs to another user: use another --state-dir',
        409,
      );
    }
    const identity = await engine.importIdentity(stored.identity);
    let challenge: Uint8Array;
    try {
      challenge = fromBase64Url(await http.challenge(stored.deviceId));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'not_found') {
        throw new ApiError(
          'not_found',
          `the server does not know the device stored here (${stored.deviceId}): it was deleted ` +
            'or this state belongs to another installation; move the state directory away to start over',
          404,
        );
      }
      throw err;
    }
    const signature = await engine.signBindChallenge(identity, challenge);
    await http.bind(stored.deviceId, toBase64Url(signature));
    const own = (await http.devices(me.id)).find((d) => d.id === stored.deviceId);
    if (own?.status === 'revoked') {
      throw new ApiError(
        'device_revoked',
        `the device stored here (${stored.deviceId}) was revoked: move the state directory away ` +
          'and log in again to register a new one',
        409,
      );
    }
    return {
      device: stored,
      identity,
      self: { userId: stored.userId, deviceId: stored.deviceId },
      status: own?.status ?? 'active',
      created: false,
    };
  }
  const identity = await engine.createIdentity();
  const view = await http.registerDevice(opts.name, toBase64Url(identity.publicKey));
  const device: StoredDevice = {
    server: origin,
    deviceId: view.id,
    userId: view.userId,
    name: view.name,
    identity: identity.exported,
    signaturePublicKey: view.signaturePublicKey,
    ciphersuite: opts.suite,
    createdAt: opts.now().toISOString(),
  };
  await store.saveDevice(device);
  return {
    device,
    identity,
    self: { userId: view.userId, deviceId: view.id },
    status: view.status,
    created: true,
  };
}

/**
 * Keeps the server's stock of this device's key packages up: at least
 * `low`, topped up by `batch`, plus a last-resort one. The private halves
 * are stored before the public ones are uploaded: a package the server
 * hands out must always be one this device can open.
 */
export async function topUpKeyPackages(opts: {
  http: MessagingHttp;
  store: DeviceStore;
  engine: MlsEngine;
  ready: ReadyDevice;
  now: () => Date;
  /** Default: the device's own suite. Groups of another suite need packages of theirs. */
  suite?: MlsCiphersuite;
}): Promise<{ uploaded: number; lastResort: boolean }> {
  const { http, store, engine, ready } = opts;
  const suite = opts.suite ?? ready.device.ciphersuite;
  const stock = await http.keyPackageStock(ready.self.deviceId, suite);
  const count = keyPackagesToUpload(stock.available, keyPackagePolicy);
  if (count === 0 && stock.lastResort) return { uploaded: 0, lastResort: false };
  const fresh =
    count > 0 ? await engine.generateKeyPackages(ready.identity, ready.self, suite, count) : [];
  const lastResort = stock.lastResort
    ? null
    : await engine.generateLastResortKeyPackage(ready.identity, ready.self, suite);
  const at = opts.now().toISOString();
  const toStore: StoredKeyPackage[] = fresh.map((k) => ({
    ref: k.ref,
    publicKey: toBase64Url(k.publicKey),
    privateKey: k.privateKey,
    lastResort: false,
    createdAt: at,
  }));
  if (lastResort) {
    toStore.push({
      ref: lastResort.ref,
      publicKey: toBase64Url(lastResort.publicKey),
      privateKey: lastResort.privateKey,
      lastResort: true,
      createdAt: at,
    });
  }
  await store.saveKeyPackages([...(await store.loadKeyPackages()), ...toStore]);
  // One upload: a batch (≤ 50) is below the per-upload limit (100).
  await http.uploadKeyPackages(ready.self.deviceId, {
    keyPackages: fresh.map((k) => toBase64Url(k.publicKey)),
    ...(lastResort ? { lastResort: toBase64Url(lastResort.publicKey) } : {}),
  });
  return { uploaded: fresh.length, lastResort: lastResort !== null };
}
