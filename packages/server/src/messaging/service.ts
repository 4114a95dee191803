import type {
  ClaimedKeyPackage,
  ConversationView,
  Delivery,
  MlsCiphersuite,
} from '@bulwark/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditLedger } from '../audit/ledger/ledger.ts';
import { MemberStore } from '../directory/projects.ts';
import type { DirectoryTx } from '../directory/transaction.ts';
import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import { effectiveProjectRole } from '../policy/relation.ts';
import type { EventBus } from '../realtime/bus.ts';
import { Storage } from '../storage/storage.ts';
import { type Conversation, ConversationStore, type PendingRemoval } from './conversations.ts';
import { type Device, DeviceStore } from './devices.ts';
import { deviceEntitled, entitledDevices } from './entitlement.ts';
import { decodeBytes, rosterRecord } from './handshake.ts';
import { KeyPackageStore } from './key-packages.ts';
import { ConversationLog } from './log.ts';
import {
  type ExternalSender,
  externalSenderFrom,
  type MlsInspector,
  newExternalSenderSecret,
} from './mls.ts';
import { leavesOf } from './roster.ts';

/** What travels on the bus for a conversation: its new position, and the delivery when small. */
export interface ConversationSignal {
  v: 1;
  conversation: string;
  seq: number;
  delivery?: Delivery;
  /** Deliveries the sender's own device needs no echo of (it has them). */
  from?: string;
}

/** What travels on the bus for one device. */
export type DeviceSignal =
  | { v: 1; type: 'welcome'; conversation: string }
  | { v: 1; type: 'conversation'; conversation: string }
  | { v: 1; type: 'revoked' };

/** Deliveries up to this size ride on the bus; bigger ones are read from the log. */
const inlineDeliveryBytes = 64 * 1024;

const secretKey = 'messaging.external_sender';

export interface MessagingDeps {
  identity: () => IdentityContext;
  ledger: () => AuditLedger;
  bus: EventBus;
  /** The installation's bus prefix, or null before init. */
  prefix: () => string | null;
  mls: MlsInspector;
  logger: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

/**
 * The Delivery Service's moves that are not a single client's request:
 * the server's external-sender identity, removals it proposes when the
 * directory changes, the signals that wake sockets on every node.
 */
export class MessagingService {
  readonly #deps: MessagingDeps;
  #sender: Promise<ExternalSender> | null = null;
  /** Conversations being reconciled on this node: one pass at a time each. */
  readonly #reconciling = new Map<string, Promise<void>>();

  constructor(deps: MessagingDeps) {
    this.#deps = deps;
  }

  get mls(): MlsInspector {
    return this.#deps.mls;
  }

  storage(): Storage {
    return this.#deps.identity().storage;
  }

  now(): Date {
    return this.#deps.identity().clock.now();
  }

  /** The server's external-sender key, created once per installation and kept FieldCipher-sealed. */
  externalSender(): Promise<ExternalSender> {
    this.#sender ??= this.#loadSender().catch((err) => {
      this.#sender = null;
      throw err;
    });
    return this.#sender;
  }

  async #loadSender(): Promise<ExternalSender> {
    const storage = this.storage();
    const ctx = { table: 'bulwark_meta', column: 'value', rowId: secretKey };
    const read = async () =>
      storage.db
        .selectFrom('bulwark_meta')
        .select('value')
        .where('key', '=', secretKey)
        .executeTakeFirst();
    let row = await read();
    if (!row) {
      const secret = await newExternalSenderSecret();
      try {
        await storage.db
          .insertInto('bulwark_meta')
          .values({ key: secretKey, value: storage.fields.encrypt(ctx, secret) })
          .execute();
      } catch {
        // Another node created it first: use theirs.
      }
      row = await read();
      if (!row) throw new Error('the external-sender key could not be stored');
    }
    return externalSenderFrom(storage.fields.decrypt(ctx, row.value));
  }

  // --- views -------------------------------------------------------------------

  async view(conversation: Conversation, storage = this.storage()): Promise<ConversationView> {
    const sender = await this.externalSender();
    const entitled = await entitledDevices(storage, conversation);
    const leaves = leavesOf(conversation.roster);
    const devicesById = new Map<string, Device>(entitled);
    const roster = [];
    for (const [deviceId, leaf] of leaves) {
      let d = devicesById.get(deviceId);
      if (!d) {
        d = (await new DeviceStore(storage).get(deviceId)) ?? undefined;
      }
      roster.push({ leaf, deviceId, userId: d?.userId ?? '' });
    }
    roster.sort((a, b) => a.leaf - b.leaf);
    const pendingDevices = new Set(conversation.pending.map((p) => p.deviceId));
    return {
      id: conversation.id,
      projectId: conversation.projectId,
      kind: conversation.kind,
      name: conversation.name,
      participants: conversation.participants,
      groupId: conversation.groupId,
      ciphersuite: conversation.ciphersuite,
      epoch: conversation.epoch,
      roster,
      // Before the group exists every entitled device is missing: any of them may establish it.
      missing: [...entitled.values()]
        .filter((d) => !leaves.has(d.id) && !pendingDevices.has(d.id))
        .map((d) => ({ deviceId: d.id, userId: d.userId })),
      pendingRemovals: conversation.pending.map((p) => ({ leaf: p.leaf, deviceId: p.deviceId })),
      externalSender: sender.publicKey,
      createdAt: conversation.createdAt,
    };
  }

  /** Whether the person may see the conversation at all: channels are the project's, direct ones their two people's. */
  canSee(conversation: Conversation, userId: string): boolean {
    return conversation.kind === 'channel' || (conversation.participants ?? []).includes(userId);
  }

  // --- application messages ---------------------------------------------------------

  async post(
    tx: DirectoryTx,
    conversation: Conversation,
    device: Device,
    messageB64: string,
  ): Promise<{ seq: number; duplicate: boolean }> {
    const { storage } = tx;
    const log = new ConversationLog(storage);
    // A retry of a message that was accepted (the answer was lost) gets the same position.
    const known = await log.seqOf(conversation.id, messageB64);
    if (known !== null) return { seq: known, duplicate: true };
    const inspected = await this.mls.inspectMessage(decodeBytes(messageB64, 'message'));
    if (inspected.kind !== 'application') {
      throw new BulwarkError('bad_request', 'Handshake messages go to /commits, inside a commit.');
    }
    if (inspected.groupId !== conversation.groupId) {
      throw new BulwarkError('bad_request', 'The message belongs to another group.');
    }
    if (!leavesOf(conversation.roster).has(device.id)) {
      throw new BulwarkError(
        'forbidden',
        'This device is not a member of the conversation’s group.',
      );
    }
    if (!(await deviceEntitled(storage, conversation, device))) {
      throw new BulwarkError('forbidden', 'This device no longer belongs in this conversation.');
    }
    const reserved = await new ConversationStore(storage).reserveApplicationSeq(
      conversation.id,
      inspected.epoch,
    );
    if ('refused' in reserved) {
      const current = await new ConversationStore(storage).get(conversation.id);
      if (reserved.refused === 'pending') throw new BulwarkError('removal_pending');
      throw new BulwarkError(
        'epoch_conflict',
        `The message is for epoch ${inspected.epoch}; the group is at epoch ${current?.epoch}.`,
        { epoch: current?.epoch ?? null },
      );
    }
    await log.append(
      conversation.id,
      {
        seq: reserved.seq,
        kind: 'application',
        epoch: inspected.epoch,
        data: messageB64,
        senderDeviceId: null,
      },
      this.now(),
    );
    return { seq: reserved.seq, duplicate: false };
  }

  async claim(
    storage: Storage,
    conversation: Conversation,
    deviceIds: readonly string[],
  ): Promise<{ keyPackages: ClaimedKeyPackage[]; exhausted: string[] }> {
    const entitled = await entitledDevices(storage, conversation);
    const leaves = leavesOf(conversation.roster);
    const store = new KeyPackageStore(storage);
    const keyPackages: ClaimedKeyPackage[] = [];
    const exhausted: string[] = [];
    for (const id of new Set(deviceIds)) {
      const device = entitled.get(id);
      if (!device || leaves.has(id)) {
        throw new BulwarkError(
          'bad_request',
          `Device ${id} cannot be added here: it is not entitled, or already in the group.`,
        );
      }
      const data = await store.claim(id, conversation, this.now());
      if (data === null) exhausted.push(id);
      else keyPackages.push({ deviceId: id, userId: device.userId, keyPackage: data });
    }
    return { keyPackages, exhausted };
  }

  // --- removals the directory asks for -------------------------------------------------

  /**
   * Proposes, as the group's external sender, the removal of every device
   * in the roster the directory no longer entitles, for the current epoch.
   * Until a member commits them, the conversation takes no application
   * message (so nothing new is encrypted to a removed device).
   */
  reconcile(conversationId: string): Promise<void> {
    const running = this.#reconciling.get(conversationId);
    if (running) return running.then(() => this.reconcile(conversationId));
    const pass = this.#reconcileOnce(conversationId)
      .catch((err) => {
        this.#deps.logger.error(
          { err, conversation: conversationId },
          'messaging: reconciling a conversation failed',
        );
      })
      .finally(() => this.#reconciling.delete(conversationId));
    this.#reconciling.set(conversationId, pass);
    return pass;
  }

  async #reconcileOnce(conversationId: string): Promise<void> {
    const outer = this.storage();
    const conversations = new ConversationStore(outer);
    for (let attempt = 0; attempt < 5; attempt++) {
      const conversation = await conversations.get(conversationId);
      if (!conversation || conversation.epoch === null || conversation.groupInfo === null) return;
      const entitled = await entitledDevices(outer, conversation);
      const proposed = new Set(conversation.pending.map((p) => p.leaf));
      const stale = [...leavesOf(conversation.roster)].filter(
        ([deviceId, leaf]) => !entitled.has(deviceId) && !proposed.has(leaf),
      );
      const missing = [...entitled.keys()].some((id) => !conversation.roster.includes(id));
      if (!conversation.roster.some((id) => id !== null && entitled.has(id))) {
        // Nobody left in the group may commit: start a new group the entitled devices
        // establish afresh (the old one's members are all gone; none can read the new one).
        if (await this.#resetGroup(conversation)) return;
        continue;
      }
      if (stale.length === 0) {
        if (missing) await this.signalMembers(conversation);
        return;
      }
      const sender = await this.externalSender();
      const proposals: (PendingRemoval & { message: string })[] = [];
      for (const [deviceId, leaf] of stale) {
        const p = await sender.proposeRemove(
          conversation.groupInfo,
          leaf,
          conversation.ciphersuite as MlsCiphersuite,
        );
        proposals.push({ leaf, deviceId, ref: p.ref, message: p.message });
      }
      const firstSeq = await outer.db.transaction().execute(async (trx) => {
        const storage = new Storage(trx, outer.backend, outer.fields);
        const seq = await new ConversationStore(storage).transition(
          conversation.id,
          conversation.epoch,
          {
            epoch: conversation.epoch as number,
            roster: conversation.roster,
            groupInfo: conversation.groupInfo as string,
            pending: [
              ...conversation.pending,
              ...proposals.map(({ leaf, deviceId, ref }) => ({ leaf, deviceId, ref })),
            ],
          },
          proposals.length,
        );
        if (seq === null) return null;
        const log = new ConversationLog(storage);
        const now = this.now();
        for (const [i, p] of proposals.entries()) {
          await log.append(
            conversation.id,
            {
              seq: seq + i,
              kind: 'proposal',
              epoch: conversation.epoch as number,
              data: p.message,
              senderDeviceId: null,
            },
            now,
          );
        }
        await this.#deps.ledger().append(trx, {
          action: 'messaging.group.remove-proposed',
          actor: { kind: 'system', channel: 'system' },
          target: { type: 'conversation', id: conversation.id },
          scope: { projectId: conversation.projectId },
          after: {
            epoch: conversation.epoch,
            removals: proposals.map(({ leaf, deviceId }) => ({ leaf, deviceId })),
          },
        });
        return seq;
      });
      if (firstSeq === null) continue; // a commit moved the epoch meanwhile: look again
      const last = firstSeq + proposals.length - 1;
      await this.signalConversation(conversation.id, last);
      await this.signalMembers(conversation);
      for (const p of proposals)
        await this.signalDevice(p.deviceId, {
          v: 1,
          type: 'conversation',
          conversation: conversation.id,
        });
      return;
    }
  }

  /** Replaces a group no entitled device is left in; false when a commit moved it meanwhile. */
  async #resetGroup(conversation: Conversation): Promise<boolean> {
    const outer = this.storage();
    const reset = await outer.db.transaction().execute(async (trx) => {
      const storage = new Storage(trx, outer.backend, outer.fields);
      const done = await new ConversationStore(storage).resetGroup(
        conversation.id,
        conversation.epoch,
      );
      if (!done) return false;
      const log = new ConversationLog(storage);
      // The old members receive nothing more from this conversation.
      for (const id of conversation.roster) {
        if (id !== null) await log.leave(id, conversation.id, conversation.lastSeq);
      }
      await this.#deps.ledger().append(trx, {
        action: 'messaging.group.reset',
        actor: { kind: 'system', channel: 'system' },
        target: { type: 'conversation', id: conversation.id },
        scope: { projectId: conversation.projectId },
        before: { epoch: conversation.epoch, roster: conversation.roster },
      });
      return true;
    });
    if (!reset) return false;
    const after = await new ConversationStore(outer).get(conversation.id);
    if (after) {
      for (const d of (await entitledDevices(outer, after)).keys()) {
        await this.signalDevice(d, { v: 1, type: 'conversation', conversation: after.id });
      }
    }
    return true;
  }

  async reconcileProject(projectId: string): Promise<void> {
    const list = await new ConversationStore(this.storage()).listForProject(projectId);
    for (const c of list) await this.reconcile(c.id);
  }

  async reconcileDevice(deviceId: string): Promise<void> {
    const list = await new ConversationStore(this.storage()).withDevice(deviceId);
    for (const id of list) await this.reconcile(id);
  }

  /** Every established conversation, now and then: catches changes no hook announced. */
  async sweep(): Promise<void> {
    const rows = await this.storage()
      .db.selectFrom('conversations')
      .select('id')
      .where('epoch', 'is not', null)
      .execute();
    for (const r of rows) {
      await this.reconcile(r.id);
      // Between conversations, let requests and deliveries run (SQLCipher queries block).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** A device's conversations: every channel of its person's projects and their direct ones. */
  async conversationsOfUser(userId: string): Promise<Conversation[]> {
    const storage = this.storage();
    const projects = new Set(await new MemberStore(storage).projectsOf(userId));
    const rows = await storage.db
      .selectFrom('project_group_members')
      .select('project_id')
      .execute();
    for (const r of rows) {
      if (!projects.has(r.project_id)) {
        if ((await effectiveProjectRole(storage, userId, r.project_id)) !== null) {
          projects.add(r.project_id);
        }
      }
    }
    const all = await new ConversationStore(storage).listForProjects([...projects]);
    return all.filter((c) => this.canSee(c, userId));
  }

  // --- signals ------------------------------------------------------------------------

  async signalConversation(conversationId: string, seq: number, from?: string): Promise<void> {
    const prefix = this.#deps.prefix();
    if (prefix === null) return;
    let delivery: Delivery | undefined;
    const [d] = await new ConversationLog(this.storage()).range(conversationId, seq - 1, 1);
    if (d && d.seq === seq && d.data.length <= inlineDeliveryBytes) delivery = d;
    const signal: ConversationSignal = {
      v: 1,
      conversation: conversationId,
      seq,
      ...(delivery ? { delivery } : {}),
      ...(from ? { from } : {}),
    };
    await this.#deps.bus.publish(`${prefix}.conv.${conversationId}`, signal);
  }

  async signalDevice(deviceId: string, signal: DeviceSignal): Promise<void> {
    const prefix = this.#deps.prefix();
    if (prefix === null) return;
    await this.#deps.bus.publish(`${prefix}.device.${deviceId}`, signal);
  }

  /** Tells every device in the group to look at the conversation (missing devices, removals). */
  async signalMembers(conversation: Conversation): Promise<void> {
    for (const id of conversation.roster) {
      if (id !== null) {
        await this.signalDevice(id, { v: 1, type: 'conversation', conversation: conversation.id });
      }
    }
  }

  /** After a person's devices changed: every conversation they belong to may miss or hold one. */
  async deviceChanged(userId: string): Promise<void> {
    for (const c of await this.conversationsOfUser(userId)) {
      if (c.epoch === null) continue;
      await this.reconcile(c.id);
      await this.signalMembers(c);
    }
  }

  subjectOfConversation(conversationId: string): string | null {
    const prefix = this.#deps.prefix();
    return prefix === null ? null : `${prefix}.conv.${conversationId}`;
  }

  subjectOfDevice(deviceId: string): string | null {
    const prefix = this.#deps.prefix();
    return prefix === null ? null : `${prefix}.device.${deviceId}`;
  }

  get bus(): EventBus {
    return this.#deps.bus;
  }

  ledgerRecord(conversation: Conversation, devices: ReadonlyMap<string, Device>) {
    return rosterRecord(conversation.epoch ?? 0, conversation.roster, devices);
  }
}
