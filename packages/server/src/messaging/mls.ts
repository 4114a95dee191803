import * as mls from '@bulwark/crypto';
import type { MlsCiphersuite } from '@bulwark/protocol';
import { BulwarkError } from '../errors.ts';

/**
 * What the Delivery Service reads from MLS bytes, through @bulwark/crypto:
 * headers, the proposals of public commits, GroupInfos, key packages.
 * Every failure to parse becomes one `bad_request` naming what was wrong —
 * malformed input from one client never throws anything else.
 */

export type InspectedMessage =
  | { kind: 'application'; groupId: string; epoch: number }
  | {
      kind: 'commit';
      groupId: string;
      epoch: number;
      senderLeaf: number;
      adds: {
        ref: string;
        credential: { userId: string; deviceId: string };
        signaturePublicKey: string;
      }[];
      removes: number[];
      proposalRefs: string[];
      otherProposalTypes: string[];
    }
  | { kind: 'proposal'; groupId: string; epoch: number };

export interface InspectedGroupInfo {
  groupId: string;
  epoch: number;
  ciphersuite: string;
  signer: number;
  /** base64url Ed25519 keys of the group's external senders. */
  externalSenders: string[];
  verifySignature(signaturePublicKeyB64: string): Promise<boolean>;
}

export interface InspectedKeyPackage {
  ref: string;
  ciphersuite: string;
  credential: { userId: string; deviceId: string };
  signaturePublicKey: string;
  notAfter: Date;
  lastResort: boolean;
  signatureValid: boolean;
}

export interface MlsInspector {
  inspectMessage(bytes: Uint8Array): Promise<InspectedMessage>;
  inspectGroupInfo(bytes: Uint8Array): InspectedGroupInfo;
  inspectWelcome(bytes: Uint8Array): { ciphersuite: string };
  inspectKeyPackage(bytes: Uint8Array): Promise<InspectedKeyPackage>;
  /** Whether a commit is signed by this key for the epoch the GroupInfo describes (false, never a throw). */
  verifyCommitSignature(
    commit: Uint8Array,
    groupInfoB64: string,
    signaturePublicKeyB64: string,
  ): Promise<boolean>;
}

/** The server's own MLS role: external sender of every group (RFC 9420 §12.1.8). */
export interface ExternalSender {
  publicKey: string;
  proposeRemove(
    groupInfoB64: string,
    leaf: number,
    suite: MlsCiphersuite,
  ): Promise<{ message: string; ref: string }>;
}

export function wireError(err: unknown, what: string): BulwarkError {
  if (err instanceof BulwarkError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new BulwarkError('bad_request', `The ${what} is not valid MLS: ${reason}`);
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

export const mlsInspector: MlsInspector = {
  async inspectMessage(bytes) {
    try {
      const m = await mls.inspectMessage(bytes);
      if (m.kind === 'application') {
        return { kind: 'application', groupId: b64(m.groupId), epoch: epochNumber(m.epoch) };
      }
      if (m.kind === 'proposal') {
        return { kind: 'proposal', groupId: b64(m.groupId), epoch: epochNumber(m.epoch) };
      }
      return {
        kind: 'commit',
        groupId: b64(m.groupId),
        epoch: epochNumber(m.epoch),
        senderLeaf: m.senderLeaf,
        adds: m.adds.map((a) => ({
          ref: a.ref,
          credential: { userId: a.credential.userId, deviceId: a.credential.deviceId },
          signaturePublicKey: b64(a.signaturePublicKey),
        })),
        removes: [...m.removes],
        proposalRefs: [...m.proposalRefs],
        otherProposalTypes: [...m.otherProposalTypes],
      };
    } catch (err) {
      throw wireError(err, 'message');
    }
  },
  inspectGroupInfo(bytes) {
    try {
      const gi = mls.inspectGroupInfo(bytes);
      return {
        groupId: b64(gi.groupId),
        epoch: epochNumber(gi.epoch),
        ciphersuite: gi.ciphersuite,
        signer: gi.signer,
        externalSenders: gi.externalSenders.map((s) => b64(s.signaturePublicKey)),
        verifySignature: (key) =>
          gi.verifySignature(new Uint8Array(Buffer.from(key, 'base64url'))).catch(() => false),
      };
    } catch (err) {
      throw wireError(err, 'GroupInfo');
    }
  },
  inspectWelcome(bytes) {
    try {
      return { ciphersuite: mls.inspectWelcome(bytes).ciphersuite };
    } catch (err) {
      throw wireError(err, 'Welcome');
    }
  },
  async verifyCommitSignature(commit, groupInfoB64, keyB64) {
    try {
      return await mls.verifyHandshakeSignature({
        message: commit,
        groupInfo: new Uint8Array(Buffer.from(groupInfoB64, 'base64url')),
        signaturePublicKey: new Uint8Array(Buffer.from(keyB64, 'base64url')),
      });
    } catch {
      return false;
    }
  },
  async inspectKeyPackage(bytes) {
    try {
      const kp = await mls.inspectKeyPackage(bytes);
      return {
        ref: kp.ref,
        ciphersuite: kp.ciphersuite,
        credential: { userId: kp.credential.userId, deviceId: kp.credential.deviceId },
        signaturePublicKey: b64(kp.signaturePublicKey),
        notAfter: kp.notAfter,
        lastResort: kp.lastResort,
        signatureValid: kp.signatureValid,
      };
    } catch (err) {
      throw wireError(err, 'key package');
    }
  },
};

/** Epochs are u64 on the wire; past 2^53 is not a real group (and our columns are integers). */
function epochNumber(epoch: bigint): number {
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('epoch out of range');
  return Number(epoch);
}

/** Loads (or creates, once per installation) the server's external-sender identity. */
export async function externalSenderFrom(exported: string): Promise<ExternalSender> {
  const identity = await mls.importServerIdentity(JSON.parse(exported));
  return {
    publicKey: b64(identity.signaturePublicKey),
    async proposeRemove(groupInfoB64, leaf, suite) {
      const p = await mls.createExternalRemoveProposal({
        groupInfoBytes: new Uint8Array(Buffer.from(groupInfoB64, 'base64url')),
        leafIndex: leaf,
        serverIdentity: identity,
        suite,
      });
      return { message: b64(p.message), ref: p.ref };
    },
  };
}

export async function newExternalSenderSecret(): Promise<string> {
  return JSON.stringify(mls.exportServerIdentity(await mls.createServerIdentity()));
}
