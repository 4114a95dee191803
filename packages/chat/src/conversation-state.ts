import type { ConversationView, Delivery, MlsCiphersuite } from '@bulwark/protocol';
import { fromBase64Url, toBase64Url } from './bytes.ts';
import type { DeviceDirectory } from './device-directory.ts';
import {
  type ConversationRecord,
  type DeviceStore,
  emptyConversation,
  type Member,
} from './device-store.ts';
import type { ChatEvents } from './events.ts';
import type { MessagingHttp } from './http.ts';
import type { EngineIdentity, GroupState, MlsAuth, MlsEngine } from './mls-engine.ts';
import { addNotice, emptyTimeline, type Timeline } from './timeline.ts';

export interface ConversationDeps {
  engine: MlsEngine;
  http: MessagingHttp;
  store: DeviceStore;
  identity: EngineIdentity;
  self: Member;
  directory: DeviceDirectory;
  events: ChatEvents;
  /** Cumulative ack on the socket (dropped when it is down: the server sends again). */
  ack(conversation: string, seq: number): void;
  ackWelcome(id: string): void;
  /** A private key package was spent by a Welcome. */
  keyPackageUsed(): void;
  /** Keeps key packages of this suite on the server (a group in another suite must be able to add us). */
  stockSuite(suite: MlsCiphersuite): Promise<void>;
  now(): Date;
  random(): number;
}

/** A failure meant for the caller of send/sync, with a stable code. */
export class ChatError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ChatError';
    this.code = code;
  }
}

/** What the functions working on one conversation share (see conversation.ts). */
export interface ConversationContext {
  readonly id: string;
  readonly deps: ConversationDeps;
  readonly state: ConversationState;
  /** Queues a reconcile behind the running task (never awaited by it). */
  queueReconcile(): void;
  /** A staggered reconcile, `ms` from now. */
  later(ms: number): void;
  reportError(err: unknown): void;
}

/**
 * One conversation's stored state, cached: the record, the timeline, the
 * deserialized MLS group, and the deliveries held until a Welcome. Used
 * only from the conversation's chain.
 */
export class ConversationState {
  readonly id: string;
  readonly #deps: ConversationDeps;
  #record: ConversationRecord | null = null;
  #timeline: Timeline | null = null;
  #state: GroupState | null = null;
  readonly held = new Map<number, Delivery>();
  /**
   * The authentication service for this group: devices as the server lists
   * them, and as external sender only the key the server names for this
   * conversation (kept in the record, so it holds after a restart too).
   */
  readonly auth: MlsAuth = {
    checkDevice: (member, key) => this.#deps.directory.checkDevice(member, key),
    checkExternalSender: async (key) =>
      (await this.load()).meta?.externalSender === toBase64Url(key),
  };

  constructor(id: string, deps: ConversationDeps) {
    this.id = id;
    this.#deps = deps;
  }

  /** The group state is read again from the record next time (it was replaced there). */
  forgetGroup(): void {
    this.#state = null;
  }

  async load(): Promise<ConversationRecord> {
    this.#record ??=
      (await this.#deps.store.loadConversation(this.id)) ?? emptyConversation(this.id);
    return this.#record;
  }

  async loadTimeline(): Promise<Timeline> {
    this.#timeline ??= (await this.#deps.store.loadTimeline(this.id)) ?? emptyTimeline();
    return this.#timeline;
  }

  async group(): Promise<GroupState> {
    const record = await this.load();
    if (record.groupState === null || record.removed) {
      throw new ChatError(
        'not_joined',
        'this device is not in the conversation yet: another member must add it (it happens ' +
          'automatically when one of them is online)',
      );
    }
    this.#state ??= await this.#deps.engine.deserializeState(
      fromBase64Url(record.groupState),
      this.auth,
    );
    return this.#state;
  }

  async setState(state: GroupState | null): Promise<void> {
    const record = await this.load();
    this.#state = state;
    if (state === null) {
      record.groupState = null;
      return;
    }
    record.groupState = toBase64Url(await this.#deps.engine.serializeState(state));
    record.epoch = this.#deps.engine.epoch(state);
  }

  /**
   * The timeline first: after a crash in between, the repeat is dropped by
   * message id. A failed write drops what is cached, so the next task starts
   * again from what is on disk rather than from state that was never stored.
   */
  async save(timelineChanged: boolean): Promise<void> {
    try {
      if (timelineChanged) await this.#deps.store.saveTimeline(this.id, await this.loadTimeline());
      await this.#deps.store.saveConversation(await this.load());
    } catch (err) {
      this.#record = null;
      this.#timeline = null;
      this.#state = null;
      throw err;
    }
  }

  async membershipNotice(seq: number, added: Member[], removed: Member[]): Promise<boolean> {
    if (added.length === 0 && removed.length === 0) return false;
    const list = (ms: Member[]) => ms.map((m) => `${m.userId} (device ${m.deviceId})`).join(', ');
    const parts = [
      ...(added.length > 0 ? [`added ${list(added)}`] : []),
      ...(removed.length > 0 ? [`removed ${list(removed)}`] : []),
    ];
    addNotice(await this.loadTimeline(), {
      kind: 'membership',
      seq,
      at: this.#deps.now().toISOString(),
      text: `Members changed: ${parts.join('; ')}`,
      members: { added, removed },
    });
    return true;
  }

  /** Keeps what the listing and warnings need from the view. */
  async remember(view: ConversationView): Promise<void> {
    const record = await this.load();
    const users = [...new Set(view.roster.map((r) => r.userId))].sort();
    record.meta = {
      projectId: view.projectId,
      kind: view.kind,
      name: view.name,
      participants: view.participants,
      users,
      externalSender: view.externalSender,
    };
    // Stored before the key check below, which looks up the conversations a user is in.
    await this.#deps.store.saveConversation(record);
    // Fetching each member's devices records their keys and warns about changes.
    await Promise.all(users.map((u) => this.#deps.directory.devices(u)));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
