/**
 * Test fixtures, built only on the public API: a directory of device keys
 * (standing in for the server's device list and the audit ledger) and a
 * device that publishes key packages and keeps group states.
 */
import {
  type AuthService,
  asDeviceId,
  asUserId,
  type CiphersuiteName,
  createDeviceIdentity,
  createMemoryKeyPackageStore,
  type DeviceIdentity,
  type DeviceRef,
  type GroupState,
  generateKeyPackages,
  generateLastResortKeyPackage,
  type MemoryKeyPackageStore,
  members,
} from './index.ts';

export interface TestDevice extends DeviceRef {
  readonly name: string;
  readonly identity: DeviceIdentity;
  readonly store: MemoryKeyPackageStore;
  readonly auth: AuthService;
  state?: GroupState;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Which identity key each device has; an AuthService per device that trusts exactly this list. */
export class Directory {
  readonly keys = new Map<string, Uint8Array>();

  register(device: DeviceRef, key: Uint8Array): void {
    this.keys.set(`${device.userId}/${device.deviceId}`, key);
  }

  authService(): AuthService {
    return {
      validateCredential: async (credential, signaturePublicKey) => {
        const known = this.keys.get(`${credential.userId}/${credential.deviceId}`);
        return known !== undefined && sameBytes(known, signaturePublicKey);
      },
    };
  }
}

export const uuid = (): string => globalThis.crypto.randomUUID();

export async function makeDevice(
  directory: Directory,
  name: string,
  userId: string = uuid(),
  options: { register?: boolean } = {},
): Promise<TestDevice> {
  const identity = await createDeviceIdentity();
  const ref = { userId: asUserId(userId), deviceId: asDeviceId(uuid()) };
  if (options.register !== false) directory.register(ref, identity.signaturePublicKey);
  return {
    ...ref,
    name,
    identity,
    store: createMemoryKeyPackageStore(),
    auth: directory.authService(),
  };
}

/** Publishes `count` key packages plus a last-resort one; returns the public bytes of the ordinary ones. */
export async function publish(
  device: TestDevice,
  suite: CiphersuiteName,
  count = 1,
): Promise<Uint8Array[]> {
  const kps = await generateKeyPackages(device.identity, device, suite, count);
  const lastResort = await generateLastResortKeyPackage(device.identity, device, suite);
  device.store.add(...kps.map((k) => k.private), lastResort.private);
  return kps.map((k) => k.public);
}

export function stateOf(device: TestDevice): GroupState {
  if (device.state === undefined) throw new Error(`${device.name} is not in a group`);
  return device.state;
}

export function leafOf(observer: TestDevice, device: DeviceRef): number {
  const m = members(stateOf(observer)).find((x) => x.deviceId === device.deviceId);
  if (m === undefined) throw new Error('not a member');
  return m.leaf;
}
