import type { MessageContent } from '@bulwark/crypto';
import type { MlsCiphersuite } from '@bulwark/protocol';
import type { Member } from './device-store.ts';

/**
 * What the messaging client needs from the MLS engine (`@bulwark/crypto`),
 * as a port: the client's sequencing, de-duplication and retry logic is
 * tested against a fake, and `crypto-engine.ts` is the one file that knows
 * the crypto package's group API. Bytes in, bytes out; group states are
 * opaque values the engine alone reads. (The stateless parts — content,
 * attachments, safety numbers — are used from `@bulwark/crypto` directly.)
 */
export interface MlsEngine {
  createIdentity(): Promise<EngineIdentity>;
  /** From `EngineIdentity.exported`, as stored. */
  importIdentity(exported: string): Promise<EngineIdentity>;
  /** Ed25519 over `bulwark-device-bind:v1:` ‖ challenge (docs/messaging.md, "Devices"). */
  signBindChallenge(identity: EngineIdentity, challenge: Uint8Array): Promise<Uint8Array>;
  /** Ed25519 over `bulwark-device-verify:v1:` ‖ the target's identity public key. */
  signDeviceVerification(identity: EngineIdentity, targetKey: Uint8Array): Promise<Uint8Array>;

  generateKeyPackages(
    identity: EngineIdentity,
    self: Member,
    suite: MlsCiphersuite,
    count: number,
  ): Promise<GeneratedKeyPackage[]>;
  generateLastResortKeyPackage(
    identity: EngineIdentity,
    self: Member,
    suite: MlsCiphersuite,
  ): Promise<GeneratedKeyPackage>;

  createGroup(args: {
    groupId: Uint8Array;
    suite: MlsCiphersuite;
    identity: EngineIdentity;
    self: Member;
    externalSender: Uint8Array;
    auth: MlsAuth;
  }): Promise<{ state: GroupState; groupInfo: Uint8Array }>;
  /** Every key package is checked to carry the credential of the device it was claimed for. */
  addMembers(
    state: GroupState,
    add: { member: Member; keyPackage: Uint8Array }[],
  ): Promise<CommitResult & { welcome: Uint8Array }>;
  /** Commits the proposals received in this epoch (the server's external Removes). */
  commitPending(state: GroupState): Promise<CommitResult>;
  /** `used` is the ref of the private key package the Welcome was encrypted to. */
  joinFromWelcome(
    welcome: Uint8Array,
    keyPackages: { ref: string; privateKey: string }[],
    auth: MlsAuth,
  ): Promise<{ state: GroupState; used: string | null }>;

  encryptApplication(
    state: GroupState,
    content: MessageContent,
  ): Promise<{ state: GroupState; message: Uint8Array }>;
  processIncoming(
    state: GroupState,
    message: Uint8Array,
  ): Promise<{ state: GroupState; event: IncomingEvent }>;

  epoch(state: GroupState): number;
  serializeState(state: GroupState): Promise<Uint8Array>;
  deserializeState(bytes: Uint8Array, auth: MlsAuth): Promise<GroupState>;
}

export interface EngineIdentity {
  readonly publicKey: Uint8Array;
  /** The exported identity as the store keeps it (secret). */
  readonly exported: string;
}

export interface GeneratedKeyPackage {
  /** The KeyPackageRef (hex): what a Welcome names. */
  ref: string;
  /** The public key package (MLSMessage bytes) to upload. */
  publicKey: Uint8Array;
  /** The exported private half (secret), as the store keeps it. */
  privateKey: string;
}

export interface CommitResult {
  state: GroupState;
  commit: Uint8Array;
  groupInfo: Uint8Array;
}

/** The opaque group state of the engine. */
export type GroupState = { readonly __mlsGroupState: unique symbol };

export type IncomingEvent =
  | { kind: 'application'; content: MessageContent; sender: Member }
  /** Decrypted, but the payload is not valid content (a buggy or hostile client). */
  | { kind: 'invalid-content'; sender: Member; reason: string }
  | { kind: 'commit'; epoch: number; added: Member[]; removed: Member[]; selfRemoved: boolean }
  | { kind: 'proposal' };

/** The authentication service (RFC 9420 §5.3.1), called for every leaf the engine sees. */
export interface MlsAuth {
  /** Does the server list this device for this user, with this identity key? */
  checkDevice(member: Member, signaturePublicKey: Uint8Array): Promise<boolean>;
  /** Is this the server's external-sender key (the only one allowed to propose removals)? */
  checkExternalSender(signaturePublicKey: Uint8Array): Promise<boolean>;
}

/** An engine error code (the crypto package's `MlsGroupError.code`), when it has one. */
export function engineErrorCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return null;
}
