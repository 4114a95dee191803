/**
 * Key packages (RFC 9420 §10): the device's pre-published "add me" offers.
 * The public half goes to the server's key package store; the private half
 * stays on the device until a welcome consumes it.
 */
import {
  type CiphersuiteImpl,
  defaultCapabilities,
  generateKeyPackageWithKey,
  type KeyPackage,
  type PrivateKeyPackage as MlsPrivateKeyPackage,
} from 'ts-mls';
import { makeKeyPackageRef, verifyKeyPackage } from 'ts-mls/keyPackage.js';
import { verifyLeafNodeSignatureKeyPackage } from 'ts-mls/leafNode.js';
import { type CiphersuiteName, ciphersuiteImpl, isSupportedCiphersuite } from './ciphersuites.ts';
import { deviceCredential, deviceOf } from './credential.ts';
import { bytesEqual, fromBase64Url, toBase64Url, toHex } from './encoding.ts';
import { KeyImportError, MlsWireError } from './errors.ts';
import { wipe } from './hazardous/wipe.ts';
import { asSignaturePublicKey, type DeviceIdentity, type SignaturePublicKey } from './identity.ts';
import { decodeWireAs, encodeWire } from './mls-codec.ts';
import type { DeviceRef } from './types.ts';

/**
 * The `last_resort` KeyPackage extension (draft-ietf-mls-extensions,
 * IANA MLS Extension Types 0x000A). The server hands a last-resort package
 * out again when a device's ordinary packages run out rather than failing
 * the add; the device keeps its private half after use.
 */
export const LAST_RESORT_EXTENSION_TYPE = 0x000a;

/** 30 days: also ts-mls' default maximum total lifetime. Devices replenish before expiry. */
export const DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS = 30 * 24 * 3600;
/** notBefore is backdated so a peer whose clock runs slow does not reject a fresh package. */
const CLOCK_SKEW_SECONDS = 3600;

const secrets = Symbol('bulwark.keyPackageSecrets');

/**
 * The private half of a key package. Opaque: the secret keys sit behind a
 * non-enumerable symbol, so logging or JSON-serialising this object shows
 * only the public metadata. Persist it with `exportPrivateKeyPackage`.
 */
export interface PrivateKeyPackage {
  /** Hex KeyPackageRef (RFC 9420 §5.2), the key a welcome is addressed by. */
  readonly ref: string;
  readonly suite: CiphersuiteName;
  readonly lastResort: boolean;
  readonly notAfter: Date;
  /** The matching public key package (MLSMessage bytes). */
  readonly publicKeyPackage: Uint8Array;
  readonly [secrets]: MlsPrivateKeyPackage;
}

export interface GeneratedKeyPackage {
  /** MLSMessage (mls_key_package) bytes to upload to the server. */
  readonly public: Uint8Array;
  readonly private: PrivateKeyPackage;
}

export interface KeyPackageOptions {
  /** Validity from now, in seconds. */
  readonly lifetimeSeconds?: number;
  /** The clock, for tests. */
  readonly now?: Date;
}

function makePrivate(
  meta: Omit<PrivateKeyPackage, typeof secrets>,
  keys: MlsPrivateKeyPackage,
): PrivateKeyPackage {
  const p = { ...meta };
  Object.defineProperty(p, secrets, { value: keys, enumerable: false });
  return p as PrivateKeyPackage;
}

/** @internal The ts-mls private keys, for the group engine. */
export function keyPackageSecrets(p: PrivateKeyPackage): MlsPrivateKeyPackage {
  const keys = p[secrets];
  if (keys === undefined) throw new TypeError('not a PrivateKeyPackage made by @bulwark/crypto');
  return keys;
}

async function generateOne(
  identity: DeviceIdentity,
  device: DeviceRef,
  suite: CiphersuiteName,
  lastResort: boolean,
  options: KeyPackageOptions,
): Promise<GeneratedKeyPackage> {
  const impl = await ciphersuiteImpl(suite);
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const lifetimeSeconds = options.lifetimeSeconds ?? DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS;
  if (!Number.isSafeInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new RangeError('lifetimeSeconds must be a positive integer');
  }
  const lifetime = {
    notBefore: BigInt(nowSeconds - CLOCK_SKEW_SECONDS),
    notAfter: BigInt(nowSeconds + lifetimeSeconds),
  };
  const capabilities = defaultCapabilities();
  const extensions = lastResort
    ? [{ extensionType: LAST_RESORT_EXTENSION_TYPE, extensionData: new Uint8Array() }]
    : [];
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    deviceCredential(device),
    // Advertise last_resort so peers know we understand the extension.
    { ...capabilities, extensions: [...capabilities.extensions, LAST_RESORT_EXTENSION_TYPE] },
    lifetime,
    extensions,
    { signKey: identity.signKey, publicKey: identity.signaturePublicKey },
    impl,
  );
  const bytes = encodeWire({
    version: 'mls10',
    wireformat: 'mls_key_package',
    keyPackage: publicPackage,
  });
  const ref = toHex(await makeKeyPackageRef(publicPackage, impl.hash));
  return {
    public: bytes,
    private: makePrivate(
      {
        ref,
        suite,
        lastResort,
        notAfter: secondsToDate(lifetime.notAfter),
        publicKeyPackage: bytes,
      },
      privatePackage,
    ),
  };
}

export async function generateKeyPackages(
  identity: DeviceIdentity,
  device: DeviceRef,
  suite: CiphersuiteName,
  count: number,
  options: KeyPackageOptions = {},
): Promise<GeneratedKeyPackage[]> {
  if (!Number.isSafeInteger(count) || count < 1 || count > 1000)
    throw new RangeError('count must be 1..1000');
  const out: GeneratedKeyPackage[] = [];
  for (let i = 0; i < count; i++)
    out.push(await generateOne(identity, device, suite, false, options));
  return out;
}

export async function generateLastResortKeyPackage(
  identity: DeviceIdentity,
  device: DeviceRef,
  suite: CiphersuiteName,
  options: KeyPackageOptions = {},
): Promise<GeneratedKeyPackage> {
  return generateOne(identity, device, suite, true, options);
}

// Lifetimes are uint64 seconds; the RFC's "no expiry" value overflows Date.
function secondsToDate(seconds: bigint): Date {
  const maxSeconds = 8_640_000_000_000n;
  return new Date(Number(seconds > maxSeconds ? maxSeconds : seconds) * 1000);
}

/** What the server learns from an uploaded key package. */
export interface KeyPackageInfo {
  readonly ciphersuite: CiphersuiteName;
  readonly credential: DeviceRef;
  readonly signaturePublicKey: SignaturePublicKey;
  /** Hex KeyPackageRef. */
  readonly ref: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly lastResort: boolean;
  /** Both the KeyPackage and its LeafNode signature verify under `signaturePublicKey`. */
  readonly signatureValid: boolean;
}

/** @internal Shared with the wire inspector, which meets key packages inside commits. */
export async function describeKeyPackage(kp: KeyPackage): Promise<KeyPackageInfo> {
  if (!isSupportedCiphersuite(kp.cipherSuite)) {
    throw new MlsWireError(
      'unsupported',
      `key package uses ciphersuite ${kp.cipherSuite}, which Bulwark does not use`,
    );
  }
  const impl: CiphersuiteImpl = await ciphersuiteImpl(kp.cipherSuite);
  const credential = deviceOf(kp.leafNode.credential);
  let signaturePublicKey: SignaturePublicKey;
  try {
    signaturePublicKey = asSignaturePublicKey(kp.leafNode.signaturePublicKey);
  } catch (cause) {
    throw new MlsWireError('malformed', 'key package signature key is not a 32-byte Ed25519 key', {
      cause,
    });
  }
  // RFC 9420 §10.1: init_key and the leaf's encryption_key MUST differ.
  if (bytesEqual(kp.initKey, kp.leafNode.hpkePublicKey)) {
    throw new MlsWireError(
      'refused',
      'key package init key equals its leaf encryption key (RFC 9420 §10.1)',
    );
  }
  let signatureValid = false;
  try {
    signatureValid =
      (await verifyKeyPackage(kp, impl.signature)) &&
      (await verifyLeafNodeSignatureKeyPackage(kp.leafNode, impl.signature));
  } catch {
    signatureValid = false;
  }
  return {
    ciphersuite: kp.cipherSuite,
    credential,
    signaturePublicKey,
    ref: toHex(await makeKeyPackageRef(kp, impl.hash)),
    notBefore: secondsToDate(kp.leafNode.lifetime.notBefore),
    notAfter: secondsToDate(kp.leafNode.lifetime.notAfter),
    lastResort: kp.extensions.some((e) => e.extensionType === LAST_RESORT_EXTENSION_TYPE),
    signatureValid,
  };
}

/**
 * Server side: reads an uploaded key package. Throws MlsWireError naming the
 * problem for malformed bytes, other wire formats, foreign ciphersuites or
 * credentials. A bad signature is reported in `signatureValid`, not thrown,
 * so the server can log what was attempted.
 */
export async function inspectKeyPackage(bytes: Uint8Array): Promise<KeyPackageInfo> {
  const message = decodeWireAs(bytes, 'mls_key_package');
  return describeKeyPackage(message.keyPackage);
}

/** @internal Decodes a key package the group engine is about to add. */
export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  return decodeWireAs(bytes, 'mls_key_package').keyPackage;
}

/** JSON-safe, but secret: store encrypted at rest. */
export interface ExportedKeyPackage {
  readonly v: 1;
  readonly kind: 'bulwark-private-key-package';
  readonly suite: CiphersuiteName;
  readonly lastResort: boolean;
  readonly publicKeyPackage: string;
  readonly initPrivateKey: string;
  readonly hpkePrivateKey: string;
  readonly signaturePrivateKey: string;
}

export function exportPrivateKeyPackage(p: PrivateKeyPackage): ExportedKeyPackage {
  const keys = keyPackageSecrets(p);
  return {
    v: 1,
    kind: 'bulwark-private-key-package',
    suite: p.suite,
    lastResort: p.lastResort,
    publicKeyPackage: toBase64Url(p.publicKeyPackage),
    initPrivateKey: toBase64Url(keys.initPrivateKey),
    hpkePrivateKey: toBase64Url(keys.hpkePrivateKey),
    signaturePrivateKey: toBase64Url(keys.signaturePrivateKey),
  };
}

export async function importPrivateKeyPackage(value: unknown): Promise<PrivateKeyPackage> {
  if (typeof value !== 'object' || value === null)
    throw new KeyImportError('key package: expected an object');
  const v = value as Record<string, unknown>;
  if (v.v !== 1 || v.kind !== 'bulwark-private-key-package') {
    throw new KeyImportError('key package: expected {v: 1, kind: "bulwark-private-key-package"}');
  }
  const fields = [
    'publicKeyPackage',
    'initPrivateKey',
    'hpkePrivateKey',
    'signaturePrivateKey',
  ] as const;
  const decoded: Partial<Record<(typeof fields)[number], Uint8Array>> = {};
  for (const f of fields) {
    const s = v[f];
    if (typeof s !== 'string')
      throw new KeyImportError(`key package: ${f} must be a base64url string`);
    try {
      decoded[f] = fromBase64Url(s);
    } catch (cause) {
      throw new KeyImportError(`key package: ${f} is not base64url`, { cause });
    }
  }
  const { publicKeyPackage, initPrivateKey, hpkePrivateKey, signaturePrivateKey } = decoded;
  if (!publicKeyPackage || !initPrivateKey || !hpkePrivateKey || !signaturePrivateKey) {
    throw new KeyImportError('key package: missing fields');
  }
  let info: KeyPackageInfo;
  try {
    info = await describeKeyPackage(decodeWireAs(publicKeyPackage, 'mls_key_package').keyPackage);
  } catch (cause) {
    throw new KeyImportError(`key package: ${(cause as Error).message}`, { cause });
  }
  if (v.suite !== info.ciphersuite || typeof v.lastResort !== 'boolean') {
    throw new KeyImportError(
      'key package: suite or lastResort does not match the public key package',
    );
  }
  return makePrivate(
    {
      ref: info.ref,
      suite: info.ciphersuite,
      lastResort: v.lastResort,
      notAfter: info.notAfter,
      publicKeyPackage,
    },
    { initPrivateKey, hpkePrivateKey, signaturePrivateKey },
  );
}

/**
 * Where a device keeps the private halves of its published key packages.
 * Implementations persist; `consume` must delete durably before the joined
 * group state is used, so a replayed welcome cannot join twice.
 */
export interface KeyPackageStore {
  find(ref: string): Promise<PrivateKeyPackage | undefined>;
  consume(ref: string): Promise<void>;
}

/** An in-memory store (tests, and a base for a persisted one). */
export interface MemoryKeyPackageStore extends KeyPackageStore {
  add(...packages: PrivateKeyPackage[]): void;
  list(): PrivateKeyPackage[];
}

export function createMemoryKeyPackageStore(
  initial: readonly PrivateKeyPackage[] = [],
): MemoryKeyPackageStore {
  const byRef = new Map<string, PrivateKeyPackage>();
  const store: MemoryKeyPackageStore = {
    add(...packages) {
      for (const p of packages) byRef.set(p.ref, p);
    },
    list: () => [...byRef.values()],
    find: async (ref) => byRef.get(ref),
    async consume(ref) {
      const p = byRef.get(ref);
      if (p === undefined) return;
      byRef.delete(ref);
      // Only the init key: the HPKE leaf key now lives on in the group state,
      // and the signature key is the device identity key (same buffers).
      wipe([keyPackageSecrets(p).initPrivateKey]);
    },
  };
  store.add(...initial);
  return store;
}
