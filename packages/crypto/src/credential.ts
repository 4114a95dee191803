/**
 * The MLS credential of a Bulwark device: a basic credential whose identity
 * is `bulwark:v1:<userId>:<deviceId>` in UTF-8. The server's external sender
 * uses the fixed identity `bulwark:v1:server`. Parsing is strict (one
 * spelling per device) so two credentials can never name the same device.
 */
import type { Credential } from 'ts-mls';
import { fromUtf8, utf8 } from './encoding.ts';
import { MlsWireError } from './errors.ts';
import { asDeviceId, asUserId, type DeviceRef, isUuid } from './types.ts';

const PREFIX = 'bulwark:v1:';
export const SERVER_IDENTITY = `${PREFIX}server`;

export function encodeDeviceCredential(device: DeviceRef): Uint8Array {
  return utf8(`${PREFIX}${asUserId(device.userId)}:${asDeviceId(device.deviceId)}`);
}

/** Reads a credential identity; throws MlsWireError for anything that is not a device identity. */
export function parseDeviceCredential(identity: Uint8Array): DeviceRef {
  let text: string;
  try {
    text = fromUtf8(identity);
  } catch (cause) {
    throw new MlsWireError('unsupported', 'credential identity is not valid UTF-8', { cause });
  }
  const parts = text.startsWith(PREFIX) ? text.slice(PREFIX.length).split(':') : [];
  const [userId, deviceId] = parts;
  if (parts.length !== 2 || !isUuid(userId) || !isUuid(deviceId)) {
    throw new MlsWireError(
      'unsupported',
      `credential identity ${JSON.stringify(text.slice(0, 120))} is not bulwark:v1:<userId>:<deviceId>`,
    );
  }
  return { userId: asUserId(userId), deviceId: asDeviceId(deviceId) };
}

export function deviceCredential(device: DeviceRef): Credential {
  return { credentialType: 'basic', identity: encodeDeviceCredential(device) };
}

export function serverCredential(): Credential {
  return { credentialType: 'basic', identity: utf8(SERVER_IDENTITY) };
}

export function isServerCredential(credential: Credential): boolean {
  if (credential.credentialType !== 'basic') return false;
  try {
    return fromUtf8(credential.identity) === SERVER_IDENTITY;
  } catch {
    return false;
  }
}

/** The device named by an MLS credential; throws MlsWireError for x509 or foreign identities. */
export function deviceOf(credential: Credential): DeviceRef {
  if (credential.credentialType !== 'basic') {
    throw new MlsWireError(
      'unsupported',
      `credential type ${credential.credentialType} is not used by Bulwark`,
    );
  }
  return parseDeviceCredential(credential.identity);
}
