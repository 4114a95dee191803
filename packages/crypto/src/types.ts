/**
 * Branded ids, so a device id cannot be passed where a user id is expected
 * (CONVENTIONS §11). The brand exists only in the type system.
 */

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type UserId = Brand<string, 'UserId'>;
export type DeviceId = Brand<string, 'DeviceId'>;
/** An MLS group id: opaque bytes chosen by whoever creates the group. */
export type GroupId = Brand<Uint8Array, 'GroupId'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a lowercase hyphenated UUID, the only spelling we accept for ids. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function asUserId(value: string): UserId {
  if (!isUuid(value))
    throw new TypeError(`user id must be a lowercase UUID, got ${JSON.stringify(value)}`);
  return value as UserId;
}

export function asDeviceId(value: string): DeviceId {
  if (!isUuid(value))
    throw new TypeError(`device id must be a lowercase UUID, got ${JSON.stringify(value)}`);
  return value as DeviceId;
}

/** RFC 9420 encodes group_id as opaque<V>; we cap it so ids stay index-friendly. */
export const MAX_GROUP_ID_BYTES = 64;

export function asGroupId(bytes: Uint8Array): GroupId {
  if (bytes.length === 0 || bytes.length > MAX_GROUP_ID_BYTES) {
    throw new TypeError(`group id must be 1..${MAX_GROUP_ID_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes as GroupId;
}

/** A fresh random 16-byte group id. */
export function newGroupId(): GroupId {
  return globalThis.crypto.getRandomValues(new Uint8Array(16)) as GroupId;
}

/** Who a device is: the two ids carried in its MLS credential. */
export interface DeviceRef {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
}
