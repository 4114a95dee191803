/**
 * Long-term Ed25519 signing identities. A device has exactly one; it signs
 * every key package and leaf the device ever publishes, in both ciphersuites,
 * so the key the audit ledger logs for a device is the key members see.
 * The server has one too: its MLS external sender key.
 */
import { ciphersuiteImpl, defaultCiphersuite } from './ciphersuites.ts';
import { sha256 } from './digest.ts';
import { concatBytes, fromBase64Url, toBase64Url, toHex, utf8 } from './encoding.ts';
import { KeyImportError } from './errors.ts';
import type { Brand } from './types.ts';

/** A raw 32-byte Ed25519 public key. */
export type SignaturePublicKey = Brand<Uint8Array, 'SignaturePublicKey'>;
/** An Ed25519 private key as PKCS#8 (what WebCrypto exports). Secret. */
export type SignKey = Brand<Uint8Array, 'SignKey'>;

interface SigningIdentity {
  readonly signaturePublicKey: SignaturePublicKey;
  readonly signKey: SignKey;
}

export interface DeviceIdentity extends SigningIdentity {
  readonly kind: 'device';
}

export interface ServerIdentity extends SigningIdentity {
  readonly kind: 'server';
}

/** JSON-safe form for storage; `signKey` is secret, so store it encrypted at rest. */
export interface ExportedIdentity {
  readonly v: 1;
  readonly kind: 'bulwark-device-identity' | 'bulwark-server-identity';
  readonly signaturePublicKey: string;
  readonly signKey: string;
}

export const ED25519_PUBLIC_KEY_BYTES = 32;

export function asSignaturePublicKey(bytes: Uint8Array): SignaturePublicKey {
  if (bytes.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new TypeError(
      `an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${bytes.length}`,
    );
  }
  return bytes as SignaturePublicKey;
}

async function keygen(): Promise<SigningIdentity> {
  // Ed25519 is the same in both suites; any suite's impl generates it.
  const impl = await ciphersuiteImpl(defaultCiphersuite);
  const { publicKey, signKey } = await impl.signature.keygen();
  return { signaturePublicKey: asSignaturePublicKey(publicKey), signKey: signKey as SignKey };
}

export async function createDeviceIdentity(): Promise<DeviceIdentity> {
  return { kind: 'device', ...(await keygen()) };
}

export async function createServerIdentity(): Promise<ServerIdentity> {
  return { kind: 'server', ...(await keygen()) };
}

function exportIdentity(
  identity: SigningIdentity,
  kind: ExportedIdentity['kind'],
): ExportedIdentity {
  return {
    v: 1,
    kind,
    signaturePublicKey: toBase64Url(identity.signaturePublicKey),
    signKey: toBase64Url(identity.signKey),
  };
}

export function exportDeviceIdentity(identity: DeviceIdentity): ExportedIdentity {
  return exportIdentity(identity, 'bulwark-device-identity');
}

export function exportServerIdentity(identity: ServerIdentity): ExportedIdentity {
  return exportIdentity(identity, 'bulwark-server-identity');
}

async function importIdentity(
  value: unknown,
  kind: ExportedIdentity['kind'],
): Promise<SigningIdentity> {
  // Accept the JSON text too, since that is how most stores keep it.
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (cause) {
      throw new KeyImportError(`${kind}: not JSON`, { cause });
    }
  }
  if (typeof value !== 'object' || value === null)
    throw new KeyImportError(`${kind}: expected an object`);
  const v = value as Record<string, unknown>;
  if (v.v !== 1 || v.kind !== kind) {
    throw new KeyImportError(
      `expected {v: 1, kind: "${kind}"}, got ${JSON.stringify({ v: v.v, kind: v.kind })}`,
    );
  }
  if (typeof v.signaturePublicKey !== 'string' || typeof v.signKey !== 'string') {
    throw new KeyImportError(`${kind}: signaturePublicKey and signKey must be base64url strings`);
  }
  let publicKey: Uint8Array;
  let signKey: Uint8Array;
  try {
    publicKey = asSignaturePublicKey(fromBase64Url(v.signaturePublicKey));
    signKey = fromBase64Url(v.signKey);
  } catch (cause) {
    throw new KeyImportError(`${kind}: ${(cause as Error).message}`, { cause });
  }
  // A swapped or corrupted half would only surface later as peers rejecting
  // our signatures; prove the pair now by signing and verifying.
  const impl = await ciphersuiteImpl(defaultCiphersuite);
  const probe = utf8('bulwark identity self-check');
  let ok = false;
  try {
    ok = await impl.signature.verify(publicKey, probe, await impl.signature.sign(signKey, probe));
  } catch (cause) {
    throw new KeyImportError(`${kind}: signKey is not a usable Ed25519 private key`, { cause });
  }
  if (!ok) throw new KeyImportError(`${kind}: signKey does not belong to signaturePublicKey`);
  return { signaturePublicKey: publicKey as SignaturePublicKey, signKey: signKey as SignKey };
}

export async function importDeviceIdentity(value: unknown): Promise<DeviceIdentity> {
  return { kind: 'device', ...(await importIdentity(value, 'bulwark-device-identity')) };
}

export async function importServerIdentity(value: unknown): Promise<ServerIdentity> {
  return { kind: 'server', ...(await importIdentity(value, 'bulwark-server-identity')) };
}

/** Hex SHA-256 of a public key: what the ledger and UIs show for a device key. */
export async function fingerprint(publicKey: Uint8Array): Promise<string> {
  return toHex(await sha256(publicKey));
}

/**
 * Signing contexts must look like `bulwark-<purpose>:v<n>:`. The prefix keeps
 * these signatures apart from MLS's own (which all sign a SignContent whose
 * label starts "MLS 1.0 ", RFC 9420 §5.1.2), and the purpose keeps one
 * Bulwark use from being replayed as another.
 */
const SIGNING_CONTEXT = /^bulwark-[a-z0-9-]+:v[0-9]+:$/;

function contextBytes(context: string): Uint8Array {
  if (!SIGNING_CONTEXT.test(context)) {
    throw new TypeError(
      `signing context ${JSON.stringify(context)} is not of the form bulwark-<purpose>:v<n>:`,
    );
  }
  return utf8(context);
}

/** Ed25519 over `context ‖ message` with an identity key (e.g. context `bulwark-device-bind:v1:`). */
export async function signWithIdentity(
  identity: DeviceIdentity | ServerIdentity,
  context: string,
  message: Uint8Array,
): Promise<Uint8Array> {
  const impl = await ciphersuiteImpl(defaultCiphersuite);
  return impl.signature.sign(identity.signKey, concatBytes(contextBytes(context), message));
}

/** Checks a signature made by signWithIdentity. False (never a throw) for a bad signature or key. */
export async function verifyIdentitySignature(
  signaturePublicKey: Uint8Array,
  context: string,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const data = concatBytes(contextBytes(context), message);
  if (signaturePublicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== 64)
    return false;
  const impl = await ciphersuiteImpl(defaultCiphersuite);
  try {
    return await impl.signature.verify(signaturePublicKey, data, signature);
  } catch {
    return false;
  }
}
