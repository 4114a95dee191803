/**
 * Server-side (Delivery Service) view of MLS traffic. Pure functions over
 * bytes: they read what RFC 9420 leaves in the clear — group, epoch, sender
 * leaf and, because every Bulwark commit is a PublicMessage, the proposals —
 * and never content. On any input they either return or throw MlsWireError.
 */
import {
  type Extension,
  encodeExternalSender,
  type GroupInfo,
  type KeyPackage,
  type Proposal,
  type ProposalOrRef,
  proposeExternal,
  type Sender,
} from 'ts-mls';
import { makeProposalRef } from 'ts-mls/authenticatedContent.js';
import { decodeExternalSender } from 'ts-mls/externalSender.js';
import { verifyFramedContentSignature } from 'ts-mls/framedContent.js';
import { verifyGroupInfoSignature } from 'ts-mls/groupInfo.js';
import { type CiphersuiteName, ciphersuiteImpl, isSupportedCiphersuite } from './ciphersuites.ts';
import { isServerCredential, serverCredential } from './credential.ts';
import { bytesEqual, toHex } from './encoding.ts';
import { MlsWireError } from './errors.ts';
import type { ServerIdentity, SignaturePublicKey } from './identity.ts';
import { describeKeyPackage } from './key-packages.ts';
import { decodeWire, decodeWireAs, describeWireformat, encodeWire } from './mls-codec.ts';
import type { DeviceRef, GroupId } from './types.ts';

export type MessageSender =
  | { readonly type: 'member'; readonly leaf: number }
  | { readonly type: 'external'; readonly senderIndex: number }
  | { readonly type: 'new_member_proposal' }
  | { readonly type: 'new_member_commit' };

export interface InspectedApplication {
  readonly kind: 'application';
  readonly groupId: GroupId;
  readonly epoch: bigint;
}

export interface InspectedAdd {
  /** The added key package as MLSMessage bytes — byte-identical to what the device uploaded. */
  readonly keyPackage: Uint8Array;
  readonly ref: string;
  readonly ciphersuite: CiphersuiteName;
  readonly credential: DeviceRef;
  readonly signaturePublicKey: SignaturePublicKey;
  readonly signatureValid: boolean;
}

export interface InspectedCommit {
  readonly kind: 'commit';
  readonly groupId: GroupId;
  readonly epoch: bigint;
  readonly senderLeaf: number;
  readonly adds: readonly InspectedAdd[];
  /** Leaves removed by value (proposals inside the commit). */
  readonly removes: readonly number[];
  /** Hex ProposalRefs committed by reference (in Bulwark: the server's own Remove proposals). */
  readonly proposalRefs: readonly string[];
  /** Whether the commit carries Update proposals by value. */
  readonly updates: boolean;
  /** Whether the commit has an UpdatePath (fresh keys for the committer's path). */
  readonly hasPath: boolean;
  /** Proposal types Bulwark does not use (psk, reinit, group_context_extensions, custom(n), …). */
  readonly otherProposalTypes: readonly string[];
}

export interface InspectedProposal {
  readonly kind: 'proposal';
  readonly groupId: GroupId;
  readonly epoch: bigint;
  readonly sender: MessageSender;
  readonly proposalType: string;
}

export type InspectedMessage = InspectedApplication | InspectedCommit | InspectedProposal;

function senderOf(sender: Sender): MessageSender {
  switch (sender.senderType) {
    case 'member':
      return { type: 'member', leaf: sender.leafIndex };
    case 'external':
      return { type: 'external', senderIndex: sender.senderIndex };
    case 'new_member_proposal':
      return { type: 'new_member_proposal' };
    case 'new_member_commit':
      return { type: 'new_member_commit' };
  }
}

export function proposalTypeName(p: Proposal): string {
  return typeof p.proposalType === 'number' ? `custom(${p.proposalType})` : p.proposalType;
}

async function inspectAdd(kp: KeyPackage): Promise<InspectedAdd> {
  const info = await describeKeyPackage(kp);
  return {
    keyPackage: encodeWire({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: kp }),
    ref: info.ref,
    ciphersuite: info.ciphersuite,
    credential: info.credential,
    signaturePublicKey: info.signaturePublicKey,
    signatureValid: info.signatureValid,
  };
}

/**
 * Classifies a message for the Delivery Service. Throws MlsWireError with
 * reason 'refused' for what Bulwark forbids: handshake messages inside
 * PrivateMessages (the DS must see every commit), application data in a
 * PublicMessage, external joins, and welcomes/group infos/key packages sent
 * where a group message was expected.
 */
export async function inspectMessage(bytes: Uint8Array): Promise<InspectedMessage> {
  const message = decodeWire(bytes);
  switch (message.wireformat) {
    case 'mls_private_message': {
      const pm = message.privateMessage;
      if (pm.contentType !== 'application') {
        throw new MlsWireError(
          'refused',
          `a ${pm.contentType} was sent as a PrivateMessage; Bulwark handshake messages must be PublicMessages`,
        );
      }
      return { kind: 'application', groupId: pm.groupId as GroupId, epoch: pm.epoch };
    }
    case 'mls_public_message': {
      const { content } = message.publicMessage;
      const groupId = content.groupId as GroupId;
      if (content.contentType === 'application') {
        throw new MlsWireError(
          'refused',
          'application data sent as a PublicMessage would be readable by the server',
        );
      }
      if (content.contentType === 'proposal') {
        return {
          kind: 'proposal',
          groupId,
          epoch: content.epoch,
          sender: senderOf(content.sender),
          proposalType: proposalTypeName(content.proposal),
        };
      }
      if (content.sender.senderType !== 'member') {
        throw new MlsWireError(
          'refused',
          `a commit from a ${content.sender.senderType} sender (external join) is not accepted`,
        );
      }
      return inspectCommit(
        groupId,
        content.epoch,
        content.sender.leafIndex,
        content.commit.proposals,
        content.commit.path !== undefined,
      );
    }
    default:
      throw new MlsWireError(
        'refused',
        `expected a commit, proposal or application message, got ${describeWireformat(message.wireformat)}`,
      );
  }
}

async function inspectCommit(
  groupId: GroupId,
  epoch: bigint,
  senderLeaf: number,
  proposals: readonly ProposalOrRef[],
  hasPath: boolean,
): Promise<InspectedCommit> {
  const adds: InspectedAdd[] = [];
  const removes: number[] = [];
  const proposalRefs: string[] = [];
  const otherProposalTypes: string[] = [];
  let updates = false;
  for (const p of proposals) {
    if (p.proposalOrRefType === 'reference') {
      proposalRefs.push(toHex(p.reference));
      continue;
    }
    const proposal = p.proposal;
    if (proposal.proposalType === 'add') adds.push(await inspectAdd(proposal.add.keyPackage));
    else if (proposal.proposalType === 'remove') removes.push(proposal.remove.removed);
    else if (proposal.proposalType === 'update') updates = true;
    else otherProposalTypes.push(proposalTypeName(proposal));
  }
  return {
    kind: 'commit',
    groupId,
    epoch,
    senderLeaf,
    adds,
    removes,
    proposalRefs,
    updates,
    hasPath,
    otherProposalTypes,
  };
}

export interface ExternalSenderInfo {
  readonly signaturePublicKey: Uint8Array;
  /** Whether the credential is Bulwark's server identity (`bulwark:v1:server`). */
  readonly isBulwarkServer: boolean;
}

export interface InspectedGroupInfo {
  readonly groupId: GroupId;
  readonly epoch: bigint;
  readonly ciphersuite: CiphersuiteName;
  readonly externalSenders: readonly ExternalSenderInfo[];
  /** Leaf index of the member who signed it (the committer). */
  readonly signer: number;
  /** Whether the group info embeds the ratchet tree (Bulwark's never do). */
  readonly hasRatchetTree: boolean;
  /** Verifies the GroupInfo signature under the signer's leaf key. */
  verifySignature(publicKey: Uint8Array): Promise<boolean>;
}

function readGroupInfo(bytes: Uint8Array): GroupInfo {
  const gi = decodeWireAs(bytes, 'mls_group_info').groupInfo;
  if (!isSupportedCiphersuite(gi.groupContext.cipherSuite)) {
    throw new MlsWireError(
      'unsupported',
      `group uses ciphersuite ${gi.groupContext.cipherSuite}, which Bulwark does not use`,
    );
  }
  return gi;
}

// ts-mls (1.6.4) stores ONE ExternalSender per external_senders extension
// rather than RFC 9420 §12.1.8.1's vector; we follow ts-mls since both ends
// of every Bulwark group use it.
function externalSendersOf(extensions: readonly Extension[]): ExternalSenderInfo[] {
  const out: ExternalSenderInfo[] = [];
  for (const ext of extensions) {
    if (ext.extensionType !== 'external_senders') continue;
    let decoded: ReturnType<typeof decodeExternalSender>;
    try {
      decoded = decodeExternalSender(ext.extensionData, 0);
    } catch (cause) {
      throw new MlsWireError('malformed', 'external_senders extension does not decode', { cause });
    }
    if (decoded === undefined || decoded[1] !== ext.extensionData.length) {
      throw new MlsWireError('malformed', 'external_senders extension does not decode');
    }
    out.push({
      signaturePublicKey: decoded[0].signaturePublicKey,
      isBulwarkServer: isServerCredential(decoded[0].credential),
    });
  }
  return out;
}

/** Reads a GroupInfo (MLSMessage bytes) uploaded by a committer. */
export function inspectGroupInfo(bytes: Uint8Array): InspectedGroupInfo {
  const gi = readGroupInfo(bytes);
  const ciphersuite = gi.groupContext.cipherSuite as CiphersuiteName;
  return {
    groupId: gi.groupContext.groupId as GroupId,
    epoch: gi.groupContext.epoch,
    ciphersuite,
    externalSenders: externalSendersOf(gi.groupContext.extensions),
    signer: gi.signer,
    hasRatchetTree: gi.extensions.some((e) => e.extensionType === 'ratchet_tree'),
    async verifySignature(publicKey) {
      const impl = await ciphersuiteImpl(ciphersuite);
      try {
        return await verifyGroupInfoSignature(gi, publicKey, impl.signature);
      } catch {
        return false;
      }
    },
  };
}

export interface InspectedWelcome {
  readonly ciphersuite: CiphersuiteName;
  /** Hex KeyPackageRefs of the joiners, so the server can route the welcome. */
  readonly keyPackageRefs: readonly string[];
}

export function inspectWelcome(bytes: Uint8Array): InspectedWelcome {
  const { welcome } = decodeWireAs(bytes, 'mls_welcome');
  if (!isSupportedCiphersuite(welcome.cipherSuite)) {
    throw new MlsWireError(
      'unsupported',
      `welcome uses ciphersuite ${welcome.cipherSuite}, which Bulwark does not use`,
    );
  }
  return {
    ciphersuite: welcome.cipherSuite,
    keyPackageRefs: welcome.secrets.map((s) => toHex(s.newMember)),
  };
}

/**
 * Checks that a member-sent PublicMessage (commit or proposal) is signed by
 * `signaturePublicKey` for the epoch described by `groupInfoBytes` — the
 * latest GroupInfo the server holds. The signature covers the full
 * GroupContext (RFC 9420 §6.1), which the server only knows via GroupInfo.
 * The membership tag cannot be checked without group secrets; members do that.
 */
export async function verifyHandshakeSignature(args: {
  readonly message: Uint8Array;
  readonly groupInfo: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
}): Promise<boolean> {
  const { publicMessage } = decodeWireAs(args.message, 'mls_public_message');
  const gi = readGroupInfo(args.groupInfo);
  const { content, auth } = publicMessage;
  if (
    !bytesEqual(content.groupId, gi.groupContext.groupId) ||
    content.epoch !== gi.groupContext.epoch
  ) {
    throw new MlsWireError('refused', 'message and group info are for different groups or epochs');
  }
  if (content.sender.senderType !== 'member') {
    throw new MlsWireError(
      'refused',
      'only member-sent handshake messages are checked against a leaf key',
    );
  }
  const impl = await ciphersuiteImpl(gi.groupContext.cipherSuite as CiphersuiteName);
  try {
    return await verifyFramedContentSignature(
      args.signaturePublicKey,
      'mls_public_message',
      content,
      auth,
      gi.groupContext,
      impl.signature,
    );
  } catch {
    return false;
  }
}

/** The group context extension naming the server as an MLS external sender. */
export function externalSenderExtension(serverSignaturePublicKey: Uint8Array): Extension {
  return {
    extensionType: 'external_senders',
    extensionData: encodeExternalSender({
      signaturePublicKey: serverSignaturePublicKey,
      credential: serverCredential(),
    }),
  };
}

export interface ExternalRemoveProposal {
  /** MLSMessage (PublicMessage) bytes to fan out to the members. */
  readonly message: Uint8Array;
  /** Hex ProposalRef a member's commit will cite; lets the server check removals happen. */
  readonly ref: string;
}

/**
 * Server side: proposes removing `leafIndex` from the group, signed with the
 * server's external-sender key. Built against the latest GroupInfo, so it is
 * valid for that epoch only; after any commit the server must propose again.
 */
export async function createExternalRemoveProposal(args: {
  readonly groupInfoBytes: Uint8Array;
  readonly leafIndex: number;
  readonly serverIdentity: ServerIdentity;
  readonly suite?: CiphersuiteName;
}): Promise<ExternalRemoveProposal> {
  const gi = readGroupInfo(args.groupInfoBytes);
  const suite = gi.groupContext.cipherSuite as CiphersuiteName;
  if (args.suite !== undefined && args.suite !== suite) {
    throw new MlsWireError('refused', `group info is for ${suite}, not ${args.suite}`);
  }
  if (!Number.isSafeInteger(args.leafIndex) || args.leafIndex < 0 || args.leafIndex > 0xffffffff) {
    throw new MlsWireError('refused', `leaf index ${args.leafIndex} is not a uint32`);
  }
  const senders = externalSendersOf(gi.groupContext.extensions);
  // ts-mls computes the sender index over all extensions but resolves it over
  // external_senders only; they agree while external_senders comes first,
  // which is how createGroup lays the context out.
  if (
    !bytesEqual(
      senders[0]?.signaturePublicKey ?? new Uint8Array(),
      args.serverIdentity.signaturePublicKey,
    ) ||
    gi.groupContext.extensions[0]?.extensionType !== 'external_senders'
  ) {
    throw new MlsWireError(
      'refused',
      'this group does not list the server key as its first external sender',
    );
  }
  const impl = await ciphersuiteImpl(suite);
  const message = await proposeExternal(
    gi,
    { proposalType: 'remove', remove: { removed: args.leafIndex } },
    args.serverIdentity.signaturePublicKey,
    args.serverIdentity.signKey,
    impl,
  );
  if (message.wireformat !== 'mls_public_message')
    throw new Error('ts-mls returned a non-public proposal');
  const ref = await makeProposalRef(
    {
      wireformat: 'mls_public_message',
      content: message.publicMessage.content,
      auth: message.publicMessage.auth,
    },
    impl.hash,
  );
  return { message: encodeWire(message), ref: toHex(ref) };
}

/**
 * Which leaf each added member will occupy, so the server can keep its
 * leaf → device map without the ratchet tree. RFC 9420 §12.3 applies
 * removes before adds, and §7.7 puts each add in the leftmost blank leaf,
 * extending the tree when there is none.
 */
export function leavesForAdds(
  occupiedLeaves: Iterable<number>,
  removedLeaves: Iterable<number>,
  addCount: number,
): number[] {
  const occupied = new Set(occupiedLeaves);
  for (const leaf of removedLeaves) occupied.delete(leaf);
  const out: number[] = [];
  let candidate = 0;
  for (let i = 0; i < addCount; i++) {
    while (occupied.has(candidate)) candidate++;
    occupied.add(candidate);
    out.push(candidate);
  }
  return out;
}
