import type { CommitBody } from '@bulwark/protocol';
import type { DirectoryTx } from '../directory/transaction.ts';
import { BulwarkError } from '../errors.ts';
import type { Conversation } from './conversations.ts';
import { ConversationStore } from './conversations.ts';
import { type Device, DeviceStore, keyFingerprint } from './devices.ts';
import { entitledDevices } from './entitlement.ts';
import { KeyPackageStore } from './key-packages.ts';
import { ConversationLog } from './log.ts';
import type { InspectedGroupInfo, MlsInspector } from './mls.ts';
import { applyRosterChange, leavesOf } from './roster.ts';

export interface HandshakeContext {
  tx: DirectoryTx;
  mls: MlsInspector;
  /** The server's external-sender key (base64url): every group must list it. */
  serverKey: string;
  now: Date;
}

export interface CommitOutcome {
  seq: number;
  epoch: number;
  added: { deviceId: string; userId: string; leaf: number }[];
  removed: { deviceId: string; leaf: number }[];
}

/**
 * Establishes the group at epoch 0 with the caller's device alone at leaf 0.
 * The GroupInfo must be the group we named, in the conversation's
 * ciphersuite, list the server as external sender and be signed by the
 * device's registered key — so the server can later propose removals.
 */
export async function establishGroup(
  ctx: HandshakeContext,
  conversation: Conversation,
  device: Device,
  groupInfoB64: string,
): Promise<void> {
  if (conversation.epoch !== null) {
    throw new BulwarkError(
      'conflict',
      'This conversation already has its group; wait for a Welcome.',
    );
  }
  const entitled = await entitledDevices(ctx.tx.storage, conversation);
  if (!entitled.has(device.id)) {
    throw new BulwarkError('forbidden', 'This device may not be a member of this conversation.');
  }
  const info = await checkGroupInfo(ctx, conversation, groupInfoB64, 0, device);
  if (info.signer !== 0)
    throw new BulwarkError('bad_request', 'The GroupInfo must be signed by leaf 0.');
  const seq = await new ConversationStore(ctx.tx.storage).transition(
    conversation.id,
    null,
    { epoch: 0, roster: [device.id], groupInfo: groupInfoB64, pending: [] },
    0,
  );
  if (seq === null) {
    throw new BulwarkError(
      'conflict',
      'Another device established this group first; wait for a Welcome.',
    );
  }
  await new ConversationLog(ctx.tx.storage).join(device.id, conversation.id, conversation.lastSeq);
  await ctx.tx.record({
    action: 'messaging.group.establish',
    target: { type: 'conversation', id: conversation.id },
    after: rosterRecord(0, [device.id], new Map([[device.id, device]])),
  });
}

/**
 * A commit for the current epoch: the first valid one wins, a later one for
 * the same epoch gets `epoch_conflict`. "Valid" for the Delivery Service:
 * sent by the device at the sender leaf; adds only devices the directory
 * entitles, with their registered keys and key packages they uploaded;
 * removes only devices the directory no longer entitles; names exactly the
 * server's pending proposals; and comes with the next epoch's GroupInfo.
 * The members' own checks (signatures, tree, confirmation tag) come on top.
 */
export async function acceptCommit(
  ctx: HandshakeContext,
  conversation: Conversation,
  device: Device,
  body: CommitBody,
): Promise<CommitOutcome> {
  const { storage } = ctx.tx;
  if (conversation.epoch === null) {
    throw new BulwarkError('conflict', 'This conversation has no group yet: establish it first.');
  }
  const commitBytes = decodeBytes(body.commit, 'commit');
  const commit = await ctx.mls.inspectMessage(commitBytes);
  if (commit.kind !== 'commit') {
    throw new BulwarkError(
      'bad_request',
      commit.kind === 'application'
        ? 'That is an application message; post it to /messages.'
        : 'Send proposals inside your own commit (by value); only the server proposes on its own.',
    );
  }
  if (commit.groupId !== conversation.groupId) {
    throw new BulwarkError('bad_request', 'The commit belongs to another group.');
  }
  if (commit.epoch !== conversation.epoch) {
    throw new BulwarkError(
      'epoch_conflict',
      `The commit is for epoch ${commit.epoch}; the group is at epoch ${conversation.epoch}.`,
      { epoch: conversation.epoch },
    );
  }
  if (conversation.roster[commit.senderLeaf] !== device.id) {
    throw new BulwarkError('forbidden', 'The commit is not from your device’s leaf.');
  }
  // The signature covers the group context of this epoch (RFC 9420 §6.1): a commit replayed
  // from another group, or forged for this one, fails here rather than at every member.
  if (
    conversation.groupInfo === null ||
    !(await ctx.mls.verifyCommitSignature(
      commitBytes,
      conversation.groupInfo,
      device.signaturePublicKey,
    ))
  ) {
    throw new BulwarkError('bad_request', "The commit's signature does not verify for this epoch.");
  }
  if (commit.otherProposalTypes.length > 0) {
    throw new BulwarkError(
      'bad_request',
      `Proposals of type ${commit.otherProposalTypes.join(', ')} are not accepted in conversations.`,
    );
  }
  const pendingRefs = new Set(conversation.pending.map((p) => p.ref));
  const named = new Set(commit.proposalRefs);
  if (named.size !== pendingRefs.size || [...named].some((r) => !pendingRefs.has(r))) {
    throw new BulwarkError(
      'bad_request',
      `The commit must include the server's ${pendingRefs.size} pending proposal(s) by reference, and no other reference.`,
    );
  }

  const entitled = await entitledDevices(storage, conversation);
  const leaves = leavesOf(conversation.roster);
  const removedLeaves = [...conversation.pending.map((p) => p.leaf)];
  for (const leaf of commit.removes) {
    const target = conversation.roster[leaf];
    if (target === undefined || target === null) {
      throw new BulwarkError('bad_request', `The commit removes leaf ${leaf}, which is blank.`);
    }
    if (entitled.has(target)) {
      throw new BulwarkError(
        'forbidden',
        'Members are removed by the directory, not by other members: that device still belongs here.',
      );
    }
    if (!removedLeaves.includes(leaf)) removedLeaves.push(leaf);
  }

  const keyPackages = new KeyPackageStore(storage);
  const added: Device[] = [];
  for (const add of commit.adds) {
    const target = entitled.get(add.credential.deviceId);
    if (!target || target.userId !== add.credential.userId) {
      throw new BulwarkError(
        'forbidden',
        `Device ${add.credential.deviceId} may not be added: it is not entitled to this conversation.`,
      );
    }
    if (target.signaturePublicKey !== add.signaturePublicKey) {
      throw new BulwarkError(
        'forbidden',
        `The key package for device ${target.id} is not signed by its registered identity key.`,
      );
    }
    if (leaves.has(target.id) || added.some((d) => d.id === target.id)) {
      throw new BulwarkError('bad_request', `Device ${target.id} is already in the group.`);
    }
    if (!(await keyPackages.usable(target.id, add.ref, ctx.now))) {
      throw new BulwarkError(
        'bad_request',
        `The key package for device ${target.id} is not one it uploaded, or it expired.`,
      );
    }
    added.push(target);
  }
  if (added.length > 0 && body.welcome === undefined) {
    throw new BulwarkError('bad_request', 'A commit that adds devices needs its Welcome.');
  }
  if (body.welcome !== undefined) {
    const welcome = ctx.mls.inspectWelcome(decodeBytes(body.welcome, 'welcome'));
    if (welcome.ciphersuite !== conversation.ciphersuite) {
      throw new BulwarkError('bad_request', 'The Welcome is in another ciphersuite.');
    }
  }

  const nextEpoch = conversation.epoch + 1;
  const change = applyRosterChange(
    conversation.roster,
    removedLeaves,
    added.map((d) => d.id),
  );
  const info = await checkGroupInfo(ctx, conversation, body.groupInfo, nextEpoch, device);
  if (change.roster[info.signer] !== device.id) {
    throw new BulwarkError('bad_request', 'The GroupInfo must be signed by the committer.');
  }

  const conversations = new ConversationStore(storage);
  const seq = await conversations.transition(
    conversation.id,
    conversation.epoch,
    { epoch: nextEpoch, roster: change.roster, groupInfo: body.groupInfo, pending: [] },
    1,
  );
  if (seq === null) {
    const now = await conversations.get(conversation.id);
    throw new BulwarkError(
      'epoch_conflict',
      'Another commit for this epoch was accepted first: process it, then rebuild yours.',
      { epoch: now?.epoch ?? null },
    );
  }
  const log = new ConversationLog(storage);
  await log.append(
    conversation.id,
    {
      seq,
      kind: 'commit',
      epoch: conversation.epoch,
      data: body.commit,
      senderDeviceId: device.id,
    },
    ctx.now,
  );
  const removed = removedLeaves.map((leaf) => ({
    leaf,
    deviceId: conversation.roster[leaf] as string,
  }));
  // A removed device receives the commit that removes it (so it learns it was removed: a
  // public message, and nothing was accepted since the removal was proposed), then nothing.
  for (const r of removed) await log.leave(r.deviceId, conversation.id, seq);
  for (const d of added) {
    await log.join(d.id, conversation.id, seq);
    await log.addWelcome(d.id, conversation.id, nextEpoch, body.welcome as string, ctx.now);
  }
  await keyPackages.consume(commit.adds.map((a) => a.ref));

  const known = new Map<string, Device>(entitled);
  known.set(device.id, device);
  const devices = new DeviceStore(storage);
  for (const id of change.roster) {
    if (id !== null && !known.has(id)) {
      const d = await devices.get(id);
      if (d) known.set(id, d);
    }
  }
  await ctx.tx.record({
    action: 'messaging.group.commit',
    target: { type: 'conversation', id: conversation.id },
    before: { epoch: conversation.epoch },
    after: {
      ...rosterRecord(nextEpoch, change.roster, known),
      added: added.map((d) => ({ deviceId: d.id, userId: d.userId })),
      removed,
    },
  });
  return {
    seq,
    epoch: nextEpoch,
    added: added.map((d) => ({
      deviceId: d.id,
      userId: d.userId,
      leaf: change.addedAt.get(d.id) as number,
    })),
    removed,
  };
}

async function checkGroupInfo(
  ctx: HandshakeContext,
  conversation: Conversation,
  groupInfoB64: string,
  epoch: number,
  signer: Device,
): Promise<InspectedGroupInfo> {
  const info = ctx.mls.inspectGroupInfo(decodeBytes(groupInfoB64, 'groupInfo'));
  if (info.groupId !== conversation.groupId) {
    throw new BulwarkError('bad_request', 'The GroupInfo belongs to another group.');
  }
  if (info.ciphersuite !== conversation.ciphersuite) {
    throw new BulwarkError(
      'bad_request',
      `This conversation uses ${conversation.ciphersuite}; the GroupInfo is ${info.ciphersuite}.`,
    );
  }
  if (info.epoch !== epoch) {
    throw new BulwarkError(
      'bad_request',
      `The GroupInfo is for epoch ${info.epoch}, not ${epoch}.`,
    );
  }
  if (!info.externalSenders.includes(ctx.serverKey)) {
    throw new BulwarkError(
      'bad_request',
      "The group must list the server's key (externalSender) in its external_senders extension.",
    );
  }
  if (!(await info.verifySignature(signer.signaturePublicKey))) {
    throw new BulwarkError('bad_request', "The GroupInfo's signature does not verify.");
  }
  return info;
}

/** Request bytes (base64url, already checked by the schema) as a Uint8Array view. */
export function decodeBytes(b64: string, what: string): Uint8Array {
  const bytes = Buffer.from(b64, 'base64url');
  if (bytes.length === 0) throw new BulwarkError('bad_request', `${what} is empty.`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** What the ledger keeps of a roster: every leaf's device, person and key fingerprint. */
export function rosterRecord(
  epoch: number,
  roster: readonly (string | null)[],
  devices: ReadonlyMap<string, Device>,
): {
  epoch: number;
  roster: ({ deviceId: string; userId: string | null; fingerprint: string | null } | null)[];
} {
  return {
    epoch,
    roster: roster.map((id) => {
      if (id === null) return null;
      const d = devices.get(id);
      return {
        deviceId: id,
        userId: d?.userId ?? null,
        fingerprint: d ? keyFingerprint(d.signaturePublicKey) : null,
      };
    }),
  };
}
