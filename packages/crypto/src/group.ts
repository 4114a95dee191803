/**
 * The member side of MLS: one device's view of one conversation. ts-mls
 * states are immutable, so every operation returns a new GroupState and the
 * caller decides which one to keep — which is what lets a committer hold on
 * to its previous state until the Delivery Service accepts its commit, and
 * rebase onto the winner's commit when it does not (SECURITY.md: first valid
 * commit per epoch wins).
 *
 * Bulwark's rules, enforced on both the sending and the receiving side:
 * every commit is a PublicMessage (the DS must read epoch, sender and
 * proposals) whose welcome carries the ratchet tree; application data is
 * always a PrivateMessage; members propose only by value inside their own
 * commits; the only standalone proposals are Removes from the server's
 * external sender, which every group lists.
 */
import {
  type ClientConfig,
  type ClientState,
  type Credential,
  createApplicationMessage,
  createCommit,
  createGroupInfoWithExternalPub,
  createGroup as createMlsGroup,
  decodeGroupState,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  encodeGroupState,
  joinGroup,
  type LeafNode,
  type MLSMessage,
  type PrivateMessage,
  type Proposal,
  type PublicMessage,
  processPrivateMessage,
  processPublicMessage,
} from 'ts-mls';
import { decodeExternalSender } from 'ts-mls/externalSender.js';
import { decryptSenderData } from 'ts-mls/privateMessage.js';
import { type CiphersuiteName, ciphersuiteImpl, isSupportedCiphersuite } from './ciphersuites.ts';
import { deviceOf, isServerCredential } from './credential.ts';
import { bytesEqual, toHex } from './encoding.ts';
import { BulwarkCryptoError, MlsGroupError, MlsWireError } from './errors.ts';
import { wipe } from './hazardous/wipe.ts';
import { asSignaturePublicKey, type DeviceIdentity, type SignaturePublicKey } from './identity.ts';
import {
  decodeKeyPackage,
  generateKeyPackages,
  type KeyPackageStore,
  keyPackageSecrets,
} from './key-packages.ts';
import { decodeWire, decodeWireAs, describeWireformat, encodeWire } from './mls-codec.ts';
import type { DeviceRef, GroupId } from './types.ts';
import { externalSenderExtension, proposalTypeName } from './wire.ts';

/**
 * Decides whether a device key is genuine. Wire it to the directory and the
 * audit ledger: a member's client refuses any leaf (join, add, commit) whose
 * key is not the one logged for that device, so the server cannot slip in a
 * device of its own.
 */
export interface AuthService {
  validateCredential(credential: DeviceRef, signaturePublicKey: Uint8Array): Promise<boolean>;
  /**
   * Whether a group's external sender (credential `bulwark:v1:server`) is our
   * server. Optional: without it any key with the server credential is
   * accepted. The external sender can only propose removals (anything else
   * is refused below), so a wrong one can disrupt but never read or add.
   */
  validateExternalSender?(signaturePublicKey: Uint8Array): Promise<boolean>;
}

export interface Member extends DeviceRef {
  readonly leaf: number;
  readonly signaturePublicKey: SignaturePublicKey;
}

declare const groupStateBrand: unique symbol;
/** One device's state in one group. Opaque; holds secrets. Persist with serializeGroupState. */
export interface GroupState {
  readonly [groupStateBrand]: true;
}

interface Internals {
  readonly client: ClientState;
  readonly suite: CiphersuiteName;
  readonly auth: AuthService;
  /**
   * Secrets of the epoch this state's own commit replaced. They stay alive
   * until this state is first advanced — proof the caller adopted it (the
   * DS accepted the commit) — because a rejected committer must still
   * process the winning commit with its previous state.
   */
  retired: Uint8Array[];
}

// A WeakMap rather than fields: nothing reachable from a GroupState (logs,
// JSON, structured clone) can expose the secrets inside.
const registry = new WeakMap<GroupState, Internals>();

function wrap(
  client: ClientState,
  suite: CiphersuiteName,
  auth: AuthService,
  retired: Uint8Array[] = [],
): GroupState {
  const state = Object.freeze({}) as GroupState;
  registry.set(state, { client, suite, auth, retired });
  return state;
}

function open(state: GroupState): Internals {
  const internals = registry.get(state);
  if (internals === undefined) throw new TypeError('not a GroupState made by @bulwark/crypto');
  return internals;
}

/** Opens a state for an operation that moves on from it (see Internals.retired). */
function advance(state: GroupState): Internals {
  const internals = open(state);
  if (internals.retired.length > 0) {
    wipe(internals.retired);
    internals.retired = [];
  }
  return internals;
}

function clientConfig(auth: AuthService): ClientConfig {
  return {
    keyRetentionConfig: defaultKeyRetentionConfig,
    lifetimeConfig: defaultLifetimeConfig,
    keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
    paddingConfig: defaultPaddingConfig,
    authService: {
      // ts-mls treats `false` as fatal at every call site; throwing our own
      // error instead tells the caller exactly which device was refused.
      async validateCredential(
        credential: Credential,
        signaturePublicKey: Uint8Array,
      ): Promise<boolean> {
        if (isServerCredential(credential)) {
          if (
            auth.validateExternalSender === undefined ||
            (await auth.validateExternalSender(signaturePublicKey))
          ) {
            return true;
          }
          throw new MlsGroupError(
            'unknown_device',
            'the group names an external sender that is not our server',
          );
        }
        let device: DeviceRef;
        try {
          device = deviceOf(credential);
        } catch (cause) {
          throw new MlsGroupError(
            'unknown_device',
            'a leaf carries a credential that is not a Bulwark device',
            { cause },
          );
        }
        if (await auth.validateCredential(device, signaturePublicKey)) return true;
        throw new MlsGroupError(
          'unknown_device',
          `device ${device.deviceId} of user ${device.userId} is not known with key ${toHex(signaturePublicKey).slice(0, 16)}…`,
        );
      },
    },
  };
}

function memberAt(leaf: LeafNode, index: number): Member {
  const device = deviceOf(leaf.credential);
  return {
    ...device,
    leaf: index,
    signaturePublicKey: asSignaturePublicKey(leaf.signaturePublicKey),
  };
}

function membersOf(client: ClientState): Member[] {
  const out: Member[] = [];
  // Leaves sit at even node indexes (RFC 9420 Appendix C): leaf i is node 2i.
  client.ratchetTree.forEach((node, i) => {
    if (node?.nodeType === 'leaf') out.push(memberAt(node.leaf, i / 2));
  });
  return out;
}

function leafMember(
  client: ClientState,
  leaf: number,
  tree = client.ratchetTree,
): Member | undefined {
  const node = tree[leaf * 2];
  return node?.nodeType === 'leaf' ? memberAt(node.leaf, leaf) : undefined;
}

/** Wraps anything that is not already ours, keeping the ts-mls error as `cause`. */
function rethrow(code: MlsGroupError['code'], message: string, cause: unknown): never {
  if (cause instanceof MlsGroupError) throw cause;
  if (cause instanceof MlsWireError) throw new MlsGroupError('malformed', cause.message, { cause });
  if (cause instanceof BulwarkCryptoError) throw cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  throw new MlsGroupError(code, `${message}${detail}`, { cause });
}

async function groupInfoBytes(client: ClientState, suite: CiphersuiteName): Promise<Uint8Array> {
  const impl = await ciphersuiteImpl(suite);
  // No ratchet tree: the server needs epoch, context and signer, not the tree.
  const groupInfo = await createGroupInfoWithExternalPub(client, [], impl);
  return encodeWire({ version: 'mls10', wireformat: 'mls_group_info', groupInfo });
}

export interface CreateGroupArgs {
  readonly groupId: GroupId;
  readonly suite: CiphersuiteName;
  readonly identity: DeviceIdentity;
  readonly self: DeviceRef;
  readonly serverSignaturePublicKey: Uint8Array;
  readonly authService: AuthService;
}

export interface CreatedGroup {
  readonly state: GroupState;
  /** GroupInfo (MLSMessage bytes) for the server, epoch 0. */
  readonly groupInfo: Uint8Array;
}

export async function createGroup(args: CreateGroupArgs): Promise<CreatedGroup> {
  if (!isSupportedCiphersuite(args.suite))
    throw new TypeError(`unsupported ciphersuite ${String(args.suite)}`);
  const impl = await ciphersuiteImpl(args.suite);
  const [own] = await generateKeyPackages(args.identity, args.self, args.suite, 1);
  if (own === undefined) throw new Error('unreachable: no key package generated');
  let client: ClientState;
  try {
    client = await createMlsGroup(
      args.groupId,
      decodeKeyPackage(own.public),
      keyPackageSecrets(own.private),
      // external_senders must stay the first extension; see createExternalRemoveProposal.
      [externalSenderExtension(asSignaturePublicKey(args.serverSignaturePublicKey))],
      impl,
      clientConfig(args.authService),
    );
  } catch (cause) {
    rethrow('invalid_commit', 'could not create the group', cause);
  }
  return {
    state: wrap(client, args.suite, args.authService),
    groupInfo: await groupInfoBytes(client, args.suite),
  };
}

export interface CommitResult {
  /**
   * The state after the commit. Keep the previous state too until the server
   * accepts the commit: if it is refused (another commit won the epoch),
   * process the winner with the previous state and commit again.
   */
  readonly state: GroupState;
  /** The commit (PublicMessage, MLSMessage bytes) for the server. */
  readonly commit: Uint8Array;
  /** Welcome (MLSMessage bytes) for the added devices, when the commit adds any. */
  readonly welcome?: Uint8Array;
  /** GroupInfo (MLSMessage bytes, no tree) of the new epoch, for the server. */
  readonly groupInfo: Uint8Array;
}

async function commit(
  state: GroupState,
  extraProposals: Proposal[],
  what: string,
): Promise<CommitResult> {
  const internals = advance(state);
  const { client, suite, auth } = internals;
  assertActive(client);
  const impl = await ciphersuiteImpl(suite);
  let result: Awaited<ReturnType<typeof createCommit>>;
  try {
    result = await createCommit(
      { state: client, cipherSuite: impl },
      { extraProposals, ratchetTreeExtension: true, wireAsPublicMessage: true },
    );
  } catch (cause) {
    rethrow(
      extraProposals.some((p) => p.proposalType === 'add')
        ? 'invalid_key_package'
        : 'invalid_commit',
      `could not ${what}`,
      cause,
    );
  }
  const next = result.newState;
  const out: CommitResult = {
    state: wrap(next, suite, auth, result.consumed),
    commit: encodeWire(result.commit),
    groupInfo: await groupInfoBytes(next, suite),
  };
  return result.welcome === undefined
    ? out
    : {
        ...out,
        welcome: encodeWire({
          version: 'mls10',
          wireformat: 'mls_welcome',
          welcome: result.welcome,
        }),
      };
}

/** Adds devices by their key packages (MLSMessage bytes as the server hands them out). */
export async function addMembers(
  state: GroupState,
  keyPackages: readonly Uint8Array[],
): Promise<CommitResult> {
  const { suite } = open(state);
  if (keyPackages.length === 0)
    throw new MlsGroupError('invalid_key_package', 'no key packages to add');
  const proposals: Proposal[] = keyPackages.map((bytes, i) => {
    let keyPackage: ReturnType<typeof decodeKeyPackage>;
    try {
      keyPackage = decodeKeyPackage(bytes);
    } catch (cause) {
      throw new MlsGroupError(
        'invalid_key_package',
        `key package ${i}: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (keyPackage.cipherSuite !== suite) {
      throw new MlsGroupError(
        'invalid_key_package',
        `key package ${i} is for ${keyPackage.cipherSuite}, the group uses ${suite}`,
      );
    }
    return { proposalType: 'add', add: { keyPackage } };
  });
  return commit(state, proposals, 'add the members');
}

/** Removes leaves by value, in the committer's own commit. */
export async function removeMembers(
  state: GroupState,
  leaves: readonly number[],
): Promise<CommitResult> {
  const { client } = open(state);
  for (const leaf of leaves) {
    if (leafMember(client, leaf) === undefined)
      throw new MlsGroupError('invalid_commit', `leaf ${leaf} is empty`);
    if (leaf === client.privatePath.leafIndex) {
      throw new MlsGroupError(
        'invalid_commit',
        'a device cannot remove itself; ask the server to propose it',
      );
    }
  }
  return commit(
    state,
    leaves.map((removed) => ({ proposalType: 'remove', remove: { removed } })),
    'remove the members',
  );
}

/**
 * Commits every pending proposal (the server's Removes) together with a
 * fresh UpdatePath. Also the post-compromise-security "heal": with nothing
 * pending it is a pure update that replaces this device's path secrets, so
 * whoever copied the old state cannot follow into the new epoch.
 */
export async function commitPending(state: GroupState): Promise<CommitResult> {
  return commit(state, [], 'commit the pending proposals');
}

function assertActive(client: ClientState): void {
  if (client.groupActiveState.kind === 'removedFromGroup') {
    throw new MlsGroupError('removed', 'this device has been removed from the group');
  }
  if (client.groupActiveState.kind !== 'active') {
    throw new MlsGroupError(
      'forbidden',
      'the group is suspended pending a reinit, which Bulwark does not use',
    );
  }
}

/**
 * Joins a group from a welcome, using the matching private key package from
 * the device's store. The package is consumed (deleted) unless it is the
 * last-resort one; a device that joined with its last-resort package should
 * call commitPending soon, since that package may be used more than once.
 */
export async function joinFromWelcome(
  welcomeBytes: Uint8Array,
  store: KeyPackageStore,
  authService: AuthService,
): Promise<GroupState> {
  let welcome: ReturnType<typeof decodeWireAs<'mls_welcome'>>['welcome'];
  try {
    welcome = decodeWireAs(welcomeBytes, 'mls_welcome').welcome;
  } catch (cause) {
    rethrow('malformed', 'not a welcome', cause);
  }
  if (!isSupportedCiphersuite(welcome.cipherSuite)) {
    throw new MlsGroupError(
      'malformed',
      `welcome uses unsupported ciphersuite ${welcome.cipherSuite}`,
    );
  }
  const suite = welcome.cipherSuite;
  let match: Awaited<ReturnType<KeyPackageStore['find']>>;
  for (const secret of welcome.secrets) {
    match = await store.find(toHex(secret.newMember));
    if (match !== undefined) break;
  }
  if (match === undefined) {
    throw new MlsGroupError(
      'no_matching_key_package',
      'the welcome is not addressed to any unused key package of this device',
    );
  }
  if (match.suite !== suite)
    throw new MlsGroupError('invalid_commit', 'welcome and key package ciphersuites differ');
  const impl = await ciphersuiteImpl(suite);
  let client: ClientState;
  try {
    client = await joinGroup(
      welcome,
      decodeKeyPackage(match.publicKeyPackage),
      keyPackageSecrets(match),
      emptyPskIndex,
      impl,
      undefined,
      undefined,
      clientConfig(authService),
    );
  } catch (cause) {
    rethrow('invalid_commit', 'could not join from the welcome', cause);
  }
  await assertServerExternalSender(client, authService);
  if (!match.lastResort) await store.consume(match.ref);
  return wrap(client, suite, authService);
}

// ts-mls checks external senders when a group is created or its extensions
// change, not on join; a joiner must check the group it is told about.
async function assertServerExternalSender(client: ClientState, auth: AuthService): Promise<void> {
  const first = client.groupContext.extensions[0];
  const decoded =
    first?.extensionType === 'external_senders'
      ? decodeExternalSender(first.extensionData, 0)
      : undefined;
  if (decoded === undefined || !isServerCredential(decoded[0].credential)) {
    throw new MlsGroupError(
      'forbidden',
      'the group does not list the Bulwark server as its external sender',
    );
  }
  if (
    auth.validateExternalSender !== undefined &&
    !(await auth.validateExternalSender(decoded[0].signaturePublicKey))
  ) {
    throw new MlsGroupError(
      'unknown_device',
      'the group names an external sender that is not our server',
    );
  }
}

export interface SentMessage {
  readonly state: GroupState;
  /** PrivateMessage (MLSMessage bytes). */
  readonly message: Uint8Array;
}

export async function encryptApplication(
  state: GroupState,
  content: Uint8Array,
): Promise<SentMessage> {
  const { client, suite, auth } = advance(state);
  assertActive(client);
  if (Object.keys(client.unappliedProposals).length > 0) {
    // RFC 9420 §12.1: a member must not send application data while
    // proposals are pending; the server's Removes must be committed first.
    throw new MlsGroupError(
      'pending_proposals',
      'proposals are pending; call commitPending before sending',
    );
  }
  const impl = await ciphersuiteImpl(suite);
  let result: Awaited<ReturnType<typeof createApplicationMessage>>;
  try {
    result = await createApplicationMessage(client, content, impl);
  } catch (cause) {
    rethrow('forbidden', 'could not encrypt', cause);
  }
  wipe(result.consumed);
  return {
    state: wrap(result.newState, suite, auth),
    message: encodeWire({
      version: 'mls10',
      wireformat: 'mls_private_message',
      privateMessage: result.privateMessage,
    }),
  };
}

export type IncomingEvent =
  | {
      readonly type: 'application';
      readonly content: Uint8Array;
      readonly epoch: bigint;
      readonly senderLeaf: number;
      readonly sender: DeviceRef;
    }
  | {
      readonly type: 'commit';
      /** The epoch the group is in after the commit. */
      readonly epoch: bigint;
      readonly committer: Member;
      readonly added: readonly Member[];
      readonly removed: readonly Member[];
      /** This device was removed; the returned state can no longer send or receive. */
      readonly selfRemoved: boolean;
    }
  | {
      readonly type: 'proposal';
      readonly proposalType: 'remove';
      /** Whom the server proposes to remove; the removal takes effect when a member commits it. */
      readonly removed: Member;
    };

export interface Incoming {
  readonly state: GroupState;
  readonly event: IncomingEvent;
}

/**
 * Processes one message from the Delivery Service. Throws MlsGroupError on
 * anything that does not decrypt, verify or follow Bulwark's rules —
 * tampering, replays, unknown epochs, forbidden message kinds — never
 * returning a partial result. The DS never echoes a device's own commit.
 */
export async function processIncoming(state: GroupState, bytes: Uint8Array): Promise<Incoming> {
  const internals = advance(state);
  const { client } = internals;
  assertActive(client);
  let message: MLSMessage;
  try {
    message = decodeWire(bytes);
  } catch (cause) {
    rethrow('malformed', 'not an MLS message', cause);
  }
  if (message.wireformat === 'mls_private_message')
    return processPrivate(internals, message.privateMessage);
  if (message.wireformat === 'mls_public_message')
    return processPublic(internals, message.publicMessage);
  throw new MlsGroupError(
    'forbidden',
    `expected a group message, got ${describeWireformat(message.wireformat)}`,
  );
}

function checkGroup(client: ClientState, groupId: Uint8Array): void {
  if (!bytesEqual(groupId, client.groupContext.groupId)) {
    throw new MlsGroupError('wrong_group', 'the message is for another group');
  }
}

async function processPrivate(internals: Internals, pm: PrivateMessage): Promise<Incoming> {
  const { client, suite, auth } = internals;
  checkGroup(client, pm.groupId);
  if (pm.contentType !== 'application') {
    throw new MlsGroupError(
      'forbidden',
      `a ${pm.contentType} arrived as a PrivateMessage; Bulwark handshakes are public`,
    );
  }
  const current = client.groupContext.epoch;
  const past = pm.epoch < current ? client.historicalReceiverData.get(pm.epoch) : undefined;
  if (pm.epoch < current && past === undefined) {
    throw new MlsGroupError(
      'stale_epoch',
      `message from epoch ${pm.epoch}, whose keys this device no longer holds`,
    );
  }
  const impl = await ciphersuiteImpl(suite);
  // A message from a later epoch is still tried against the keys we have:
  // it must fail cryptographically, not merely by policy.
  const failCode = pm.epoch > current ? 'future_epoch' : 'decrypt_failed';
  const failWhy =
    pm.epoch > current
      ? `message from epoch ${pm.epoch}, this device is at ${current}`
      : 'message does not decrypt';
  const senderDataSecret = past?.senderDataSecret ?? client.keySchedule.senderDataSecret;
  const tree = past?.ratchetTree ?? client.ratchetTree;
  const secretTree = past?.secretTree ?? client.secretTree;
  let senderData: Awaited<ReturnType<typeof decryptSenderData>>;
  try {
    senderData = await decryptSenderData(pm, senderDataSecret, impl);
  } catch (cause) {
    throw new MlsGroupError(failCode, failWhy, { cause });
  }
  if (senderData === undefined) throw new MlsGroupError(failCode, failWhy);
  const sender = leafMember(client, senderData.leafIndex, tree);
  if (sender === undefined)
    throw new MlsGroupError('decrypt_failed', 'sender data names an empty leaf');
  // RFC 9420 §9.2: each generation's key is deleted after use, so a second
  // copy of a message cannot decrypt. Say so precisely rather than as a
  // generic failure, since duplicates are routine under at-least-once delivery.
  const ratchet = secretTree[senderData.leafIndex * 2]?.application;
  if (
    ratchet !== undefined &&
    senderData.generation < ratchet.generation &&
    ratchet.unusedGenerations[senderData.generation] === undefined
  ) {
    throw new MlsGroupError('replayed', 'message already processed (its key has been deleted)');
  }
  let result: Awaited<ReturnType<typeof processPrivateMessage>>;
  try {
    result = await processPrivateMessage(client, pm, emptyPskIndex, impl);
  } catch (cause) {
    throw new MlsGroupError(failCode, failWhy, { cause });
  }
  if (result.kind !== 'applicationMessage')
    throw new MlsGroupError('forbidden', 'expected application data');
  wipe(result.consumed);
  return {
    state: wrap(result.newState, suite, auth),
    event: {
      type: 'application',
      content: result.message,
      epoch: pm.epoch,
      senderLeaf: sender.leaf,
      sender: { userId: sender.userId, deviceId: sender.deviceId },
    },
  };
}

const allowedInCommit = new Set(['add', 'remove', 'update']);

async function processPublic(internals: Internals, pm: PublicMessage): Promise<Incoming> {
  const { client, suite, auth } = internals;
  const { content } = pm;
  checkGroup(client, content.groupId);
  const current = client.groupContext.epoch;
  // ts-mls checks the epoch of commits, but would store a stale or future
  // external proposal (its signature does not cover the group context).
  if (content.epoch < current) {
    throw new MlsGroupError(
      'stale_epoch',
      `${content.contentType} for epoch ${content.epoch}, the group is at ${current}`,
    );
  }
  if (content.epoch > current) {
    throw new MlsGroupError(
      'future_epoch',
      `${content.contentType} for epoch ${content.epoch}, this device is at ${current}`,
    );
  }
  if (content.contentType === 'application')
    throw new MlsGroupError('forbidden', 'application data must be private');
  const impl = await ciphersuiteImpl(suite);

  if (content.contentType === 'proposal') {
    const { proposal, sender } = content;
    if (sender.senderType !== 'external' || proposal.proposalType !== 'remove') {
      throw new MlsGroupError(
        'forbidden',
        `a ${proposalTypeName(proposal)} proposal from a ${sender.senderType} sender; only the server's external Removes are accepted`,
      );
    }
    const removed = leafMember(client, proposal.remove.removed);
    if (removed === undefined)
      throw new MlsGroupError(
        'forbidden',
        `proposal removes empty leaf ${proposal.remove.removed}`,
      );
    let result: Awaited<ReturnType<typeof processPublicMessage>>;
    try {
      result = await processPublicMessage(client, pm, emptyPskIndex, impl);
    } catch (cause) {
      rethrow('decrypt_failed', 'the proposal does not verify', cause);
    }
    return {
      state: wrap(result.newState, suite, auth),
      event: { type: 'proposal', proposalType: 'remove', removed },
    };
  }

  if (content.sender.senderType !== 'member') {
    throw new MlsGroupError(
      'forbidden',
      `a commit from a ${content.sender.senderType} sender (external join) is not accepted`,
    );
  }
  for (const p of content.commit.proposals) {
    if (p.proposalOrRefType === 'proposal' && !allowedInCommit.has(proposalTypeName(p.proposal))) {
      throw new MlsGroupError(
        'forbidden',
        `commit contains a ${proposalTypeName(p.proposal)} proposal`,
      );
    }
  }
  const committer = leafMember(client, content.sender.leafIndex);
  if (committer === undefined)
    throw new MlsGroupError('invalid_commit', 'commit from an empty leaf');
  const before = membersOf(client);
  let result: Awaited<ReturnType<typeof processPublicMessage>>;
  try {
    result = await processPublicMessage(client, pm, emptyPskIndex, impl);
  } catch (cause) {
    rethrow('invalid_commit', 'the commit does not verify', cause);
  }
  wipe(result.consumed);
  const next = result.newState;
  const after = membersOf(next);
  const key = (m: Member) => `${m.leaf}:${toHex(m.signaturePublicKey)}`;
  const beforeKeys = new Set(before.map(key));
  const afterKeys = new Set(after.map(key));
  return {
    state: wrap(next, suite, auth),
    event: {
      type: 'commit',
      epoch: next.groupContext.epoch,
      committer,
      added: after.filter((m) => !beforeKeys.has(key(m))),
      removed: before.filter((m) => !afterKeys.has(key(m))),
      selfRemoved: next.groupActiveState.kind === 'removedFromGroup',
    },
  };
}

export function members(state: GroupState): Member[] {
  return membersOf(open(state).client);
}

/** This device's own leaf. */
export function self(state: GroupState): Member {
  const { client } = open(state);
  const me = leafMember(client, client.privatePath.leafIndex);
  if (me === undefined) throw new MlsGroupError('removed', 'this device has no leaf in the group');
  return me;
}

export function epoch(state: GroupState): bigint {
  return open(state).client.groupContext.epoch;
}

export function groupId(state: GroupState): GroupId {
  return open(state).client.groupContext.groupId as GroupId;
}

export function groupCiphersuite(state: GroupState): CiphersuiteName {
  return open(state).suite;
}

export function isRemoved(state: GroupState): boolean {
  return open(state).client.groupActiveState.kind === 'removedFromGroup';
}

/** Removals the server has proposed that no commit has applied yet. */
export function pendingRemovals(state: GroupState): Member[] {
  const { client } = open(state);
  const out: Member[] = [];
  for (const { proposal } of Object.values(client.unappliedProposals)) {
    if (proposal.proposalType !== 'remove') continue;
    const m = leafMember(client, proposal.remove.removed);
    if (m !== undefined) out.push(m);
  }
  return out;
}

/** A fresh GroupInfo for the current epoch, should the server have lost it. */
export async function exportGroupInfo(state: GroupState): Promise<Uint8Array> {
  const { client, suite } = open(state);
  return groupInfoBytes(client, suite);
}

const STATE_FORMAT_VERSION = 1;

/**
 * Serialises the full state, secrets included (it is what a thief of the
 * device would want): store it encrypted at rest. Not an "advance": it
 * leaves the previous epoch's secrets in place (see CommitResult).
 */
export function serializeGroupState(state: GroupState): Uint8Array {
  const body = encodeGroupState(open(state).client);
  const out = new Uint8Array(body.length + 1);
  out[0] = STATE_FORMAT_VERSION;
  out.set(body, 1);
  return out;
}

export function deserializeGroupState(bytes: Uint8Array, authService: AuthService): GroupState {
  if (bytes[0] !== STATE_FORMAT_VERSION) {
    throw new MlsGroupError('invalid_state', `unknown group state format ${bytes[0] ?? '(empty)'}`);
  }
  let decoded: ReturnType<typeof decodeGroupState>;
  try {
    decoded = decodeGroupState(bytes, 1);
  } catch (cause) {
    throw new MlsGroupError('invalid_state', 'group state does not decode', { cause });
  }
  if (decoded === undefined || decoded[1] !== bytes.length - 1) {
    throw new MlsGroupError('invalid_state', 'group state does not decode');
  }
  const [groupState] = decoded;
  const suite = groupState.groupContext.cipherSuite;
  if (!isSupportedCiphersuite(suite))
    throw new MlsGroupError('invalid_state', `unsupported ciphersuite ${suite}`);
  return wrap({ ...groupState, clientConfig: clientConfig(authService) }, suite, authService);
}
