/**
 * Safety numbers, as Signal computes them (libsignal `fingerprint.rs`): per
 * user, SHA-512 iterated 5200 times over version ‖ keys ‖ user id ‖ keys,
 * shown as 30 digits; the two halves are sorted so both users see the same
 * 60 digits. Our "key" for a user is the concatenation of all their devices'
 * identity keys in byte order, so the number changes when anyone adds,
 * loses or replaces a device.
 */
import { sha512 } from './digest.ts';
import { bytesEqual, compareBytes, concatBytes, utf8 } from './encoding.ts';
import { SafetyNumberError } from './errors.ts';

/** Signal's iteration count: slows brute-forcing a colliding key set. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** Version of the QR payload layout (Signal's CombinedFingerprints protobuf). */
export const SAFETY_NUMBER_QR_VERSION = 1;

export interface SafetyNumberParty {
  readonly userId: string;
  /** Identity public keys of all of this user's devices, in any order. */
  readonly keys: readonly Uint8Array[];
}

/** @internal Signal's per-party fingerprint (64 bytes); exported for the published test vectors. */
export async function partyFingerprint(
  iterations: number,
  stableId: Uint8Array,
  keyBytes: Uint8Array,
): Promise<Uint8Array> {
  // Fingerprint version 0x0000, as in libsignal.
  let hash = await sha512(concatBytes(new Uint8Array([0, 0]), keyBytes, stableId, keyBytes));
  for (let i = 1; i < iterations; i++) hash = await sha512(concatBytes(hash, keyBytes));
  return hash;
}

/** @internal 30 digits: six 5-byte big-endian chunks, each mod 100000. */
export function displayDigits(fingerprint: Uint8Array): string {
  let out = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let n = 0;
    for (let i = 0; i < 5; i++) n = n * 256 + (fingerprint[chunk * 5 + i] ?? 0);
    out += String(n % 100000).padStart(5, '0');
  }
  return out;
}

/** @internal Signal's CombinedFingerprints protobuf, with each fingerprint cut to 32 bytes. */
export function scannablePayload(
  version: number,
  local: Uint8Array,
  remote: Uint8Array,
): Uint8Array {
  return concatBytes(
    new Uint8Array([0x08, version, 0x12, 0x22, 0x0a, 0x20]),
    local.subarray(0, 32),
    new Uint8Array([0x1a, 0x22, 0x0a, 0x20]),
    remote.subarray(0, 32),
  );
}

function keyBytesOf(party: SafetyNumberParty): Uint8Array {
  if (party.keys.length === 0) throw new RangeError(`user ${party.userId} has no device keys`);
  const unique: Uint8Array[] = [];
  for (const k of [...party.keys].sort(compareBytes)) {
    if (unique.length === 0 || !bytesEqual(unique[unique.length - 1] as Uint8Array, k))
      unique.push(k);
  }
  return concatBytes(...unique);
}

async function fingerprintOf(party: SafetyNumberParty): Promise<Uint8Array> {
  return partyFingerprint(SAFETY_NUMBER_ITERATIONS, utf8(party.userId), keyBytesOf(party));
}

/** @internal Both halves sorted, so either side computes the same string. */
export function combineDigits(local: string, remote: string): string {
  return local < remote ? local + remote : remote + local;
}

/** The 60-digit safety number, as 12 space-separated groups of 5. Symmetric in its arguments. */
export async function safetyNumber(
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
): Promise<string> {
  // Each side is 5200 sequential digests; the two sides run concurrently.
  const [l, r] = await Promise.all([fingerprintOf(local), fingerprintOf(remote)]);
  const digits = combineDigits(displayDigits(l), displayDigits(r));
  return digits.match(/\d{5}/g)?.join(' ') ?? '';
}

/** Bytes to show as a QR code; the other user scans it with compareQrPayload. */
export async function safetyNumberQrPayload(
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
): Promise<Uint8Array> {
  const [l, r] = await Promise.all([fingerprintOf(local), fingerprintOf(remote)]);
  return scannablePayload(SAFETY_NUMBER_QR_VERSION, l, r);
}

const QR_LENGTH = 74;

/**
 * Compares a scanned payload (made on the other user's device, so its
 * "local" is our remote) with what we compute. True only if both halves
 * match. Throws SafetyNumberError if the code is not a Bulwark safety number.
 */
export async function compareQrPayload(
  scanned: Uint8Array,
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
): Promise<boolean> {
  const header = [0x08, SAFETY_NUMBER_QR_VERSION, 0x12, 0x22, 0x0a, 0x20];
  const middle = [0x1a, 0x22, 0x0a, 0x20];
  if (scanned.length !== QR_LENGTH || scanned[0] !== 0x08) {
    throw new SafetyNumberError('the scanned code is not a Bulwark safety number');
  }
  if (scanned[1] !== SAFETY_NUMBER_QR_VERSION) {
    throw new SafetyNumberError(
      `the scanned safety number is version ${scanned[1]}, we use ${SAFETY_NUMBER_QR_VERSION}`,
    );
  }
  if (!header.every((b, i) => scanned[i] === b) || !middle.every((b, i) => scanned[38 + i] === b)) {
    throw new SafetyNumberError('the scanned code is not a Bulwark safety number');
  }
  const theirLocal = scanned.subarray(6, 38);
  const theirRemote = scanned.subarray(42, 74);
  const ours = await safetyNumberQrPayload(local, remote);
  return (
    bytesEqual(theirLocal, ours.subarray(42, 74)) && bytesEqual(theirRemote, ours.subarray(6, 38))
  );
}
