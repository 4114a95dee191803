import {
  type AttachmentBody,
  asMessageId,
  attachmentBody,
  decryptAttachment,
  encryptAttachment,
  fingerprint,
  type MessageBody,
  safetyNumber,
} from '@bulwark/crypto';
import type { ConversationView, DeviceStatus, DeviceView, MlsCiphersuite } from '@bulwark/protocol';
import { fromBase64Url, toBase64Url } from './bytes.ts';
import { ChatError, Conversation, type ConversationDeps } from './conversation.ts';
import { DeviceDirectory, type KeyChange } from './device-directory.ts';
import { ensureDevice, type ReadyDevice, topUpKeyPackages } from './device-setup.ts';
import { checkStoreId, type DeviceStore } from './device-store.ts';
import { type ChatEvent, ChatEvents, type ChatListener } from './events.ts';
import { type FetchLike, MessagingHttp } from './http.ts';
import type { MlsEngine } from './mls-engine.ts';
import { DeviceSocket, type WsFactory } from './socket.ts';
import type { Timeline } from './timeline.ts';

export interface MessagingClientOptions {
  /** The server (`https://host:port/`). */
  baseUrl: string;
  /** A bearer session token (`bws_…`); absent where the platform sends a session cookie (browsers). */
  token?: string;
  /** Where the device keeps its secrets and state (the platform's seam). */
  store: DeviceStore;
  /** The platform's HTTP (the CLI: node:https with the server's CA; browsers: window.fetch). */
  fetchImpl: FetchLike & { close?(): void };
  /** The MLS engine; `createCryptoEngine()` from `crypto-engine.ts` in real use. */
  engine: MlsEngine;
  /** The platform's WebSocket (the CLI: the `ws` package; browsers: `WebSocket`). */
  wsFactory: WsFactory;
  /** The suite of this device's key packages (default: the X25519 one). */
  ciphersuite?: MlsCiphersuite;
  now?: () => Date;
  random?: () => number;
  pingIntervalMs?: number;
}

export interface DeviceInfo {
  deviceId: string;
  userId: string;
  name: string;
  status: DeviceStatus;
  created: boolean;
  fingerprint: string;
}

const defaultSuite: MlsCiphersuite = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';

/**
 * One messaging device talking to one server: registers or binds the
 * device, keeps its key packages stocked, follows the device socket, and
 * keeps every conversation's MLS group in step (establish, add the missing,
 * commit removals). Many clients can run in one process, each on its own
 * store, which is how the end-to-end tests simulate a team.
 */
export class MessagingClient {
  readonly events = new ChatEvents();
  readonly #opts: MessagingClientOptions;
  readonly #http: MessagingHttp;
  readonly #engine: MlsEngine;
  readonly #store: DeviceStore;
  readonly #conversations = new Map<string, Conversation>();
  #ready: ReadyDevice | null = null;
  #directory: DeviceDirectory | null = null;
  #socket: DeviceSocket | null = null;
  #topUp: Promise<void> | null = null;
  #closed = false;

  constructor(opts: MessagingClientOptions) {
    this.#opts = opts;
    this.#engine = opts.engine;
    this.#store = opts.store;
    this.#http = new MessagingHttp({
      baseUrl: opts.baseUrl,
      ...(opts.token === undefined ? {} : { token: opts.token }),
      fetchImpl: opts.fetchImpl,
    });
  }

  /** The device this client runs as, once `ensureDevice` has run. */
  get device(): { deviceId: string; userId: string; status: DeviceStatus } | null {
    return this.#ready ? { ...this.#ready.self, status: this.#ready.status } : null;
  }

  on(listener: ChatListener): () => void {
    return this.events.on(listener);
  }

  waitFor(match: (event: ChatEvent) => boolean, timeoutMs: number): Promise<ChatEvent> {
    return this.events.waitFor(match, timeoutMs);
  }

  waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, describe?: string) {
    return this.events.waitUntil(condition, timeoutMs, describe);
  }

  /**
   * Binds this session to the stored device (challenge, signature), or
   * creates and registers one; then tops up its key packages.
   */
  async ensureDevice(name: string): Promise<DeviceInfo> {
    const now = this.#now;
    const ready = await ensureDevice({
      http: this.#http,
      store: this.#store,
      engine: this.#engine,
      name,
      suite: this.#opts.ciphersuite ?? defaultSuite,
      now,
    });
    this.#ready = ready;
    this.#directory = new DeviceDirectory({
      http: this.#http,
      store: this.#store,
      self: ready.self,
      onChange: (change) => void this.#keyChanged(change),
    });
    if (ready.status === 'pending') {
      this.events.emit({
        type: 'warning',
        conversation: null,
        kind: 'device-pending',
        message:
          'this device waits for verification: verify it from another of your devices ' +
          `(bulwark chat verify-device ${ready.self.deviceId}) or ask an administrator`,
      });
    }
    // Pending devices too: they belong wherever policy does not ask for verification.
    await this.topUpKeyPackages();
    return {
      deviceId: ready.self.deviceId,
      userId: ready.self.userId,
      name: ready.device.name,
      status: ready.status,
      created: ready.created,
      fingerprint: await fingerprint(fromBase64Url(ready.device.signaturePublicKey)),
    };
  }

  /**
   * Keeps at least 20 key packages (and a last-resort one) on the server in
   * the device's suite, and in any other suite its conversations use (an org
   * on the post-quantum suite needs X-Wing packages to add this device).
   */
  async topUpKeyPackages(
    suites: readonly MlsCiphersuite[] = [],
  ): Promise<{ uploaded: number; lastResort: boolean }> {
    const ready = this.#requireDevice();
    let uploaded = 0;
    let lastResort = false;
    for (const suite of new Set([ready.device.ciphersuite, ...suites])) {
      const r = await topUpKeyPackages({
        http: this.#http,
        store: this.#store,
        engine: this.#engine,
        ready,
        now: this.#now,
        suite,
      });
      uploaded += r.uploaded;
      lastResort ||= r.lastResort;
    }
    return { uploaded, lastResort };
  }

  /**
   * Opens the device socket; resolves when the server says `ready` (the
   * backlog follows). Reconnects by itself until `close()`; rejects if the
   * server refuses the device outright. On every `ready` all conversations
   * are brought in step unless `syncAll` is false (a one-shot `chat send`).
   */
  connect(opts: { timeoutMs?: number; syncAll?: boolean } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const ready = this.#requireDevice();
    if (this.#socket) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(
          new ChatError('timeout', `the device socket did not become ready in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const socket = new DeviceSocket({
        baseUrl: this.#http.baseUrl,
        ...(this.#opts.token === undefined ? {} : { token: this.#opts.token }),
        wsFactory: this.#opts.wsFactory,
        ...(this.#opts.pingIntervalMs === undefined
          ? {}
          : { pingIntervalMs: this.#opts.pingIntervalMs }),
        ...(this.#opts.random === undefined ? {} : { random: this.#opts.random }),
        handlers: {
          frame: (frame) => {
            switch (frame.type) {
              case 'ready':
                socket.markReady();
                if (frame.deviceId !== ready.self.deviceId) {
                  this.#error(
                    null,
                    'device_mismatch',
                    `the socket serves device ${frame.deviceId}`,
                  );
                }
                this.events.emit({ type: 'ready', deviceId: frame.deviceId });
                settle();
                // Pending work the server may not announce again (missing members, removals).
                if (opts.syncAll !== false) {
                  this.syncAll().catch((err: unknown) => this.#report(null, err));
                }
                return;
              case 'delivery': {
                const { type: _, ...delivery } = frame;
                this.#conversation(delivery.conversation)
                  ?.deliver(delivery)
                  .catch((err: unknown) => this.#report(delivery.conversation, err));
                return;
              }
              case 'welcome': {
                const { type: _, ...welcome } = frame;
                this.#conversation(welcome.conversation)
                  ?.welcome(welcome)
                  .catch((err: unknown) => this.#report(welcome.conversation, err));
                return;
              }
              case 'conversation':
                this.#conversation(frame.conversation)
                  ?.reconcile()
                  .catch((err: unknown) => this.#report(frame.conversation, err));
                return;
              case 'pong':
                return;
              case 'error':
                this.#error(null, frame.code, frame.message);
                return;
            }
          },
          malformed: (reason) =>
            this.events.emit({
              type: 'warning',
              conversation: null,
              kind: 'malformed-frame',
              message: `the server sent a frame this client cannot read: ${reason}`,
            }),
          stopped: (why) => {
            this.#socket = null;
            this.events.emit({
              type: 'error',
              conversation: null,
              code: why.code,
              message: why.message,
              fatal: true,
            });
            settle(new ChatError(why.code, why.message));
          },
          disconnected: (retryInMs, detail) =>
            this.events.emit({ type: 'disconnected', retryInMs, detail }),
        },
      });
      this.#socket = socket;
      socket.start();
    });
  }

  /** Brings every conversation of this user in step (also done on every `ready`). */
  async syncAll(): Promise<void> {
    const views = await this.#http.conversations();
    await this.topUpKeyPackages(views.map((v) => v.ciphersuite));
    await Promise.all(views.map((v) => this.sync(v.id)));
  }

  /** Catches one conversation up and does its pending group work. */
  async sync(conversationId: string): Promise<void> {
    await this.#require(conversationId).reconcile();
  }

  /**
   * Sends a message; waits (up to `timeoutMs`) to be added to the group
   * first when this device is not in it yet. Returns the message id and the
   * position the server gave it.
   */
  async send(
    conversationId: string,
    body: MessageBody | string,
    timeoutMs = 30_000,
    /** A lowercase UUID chosen by the caller, so sending the same message again is harmless. */
    messageId?: string,
  ): Promise<{ messageId: string; seq: number | null }> {
    const conversation = this.#require(conversationId);
    await this.#ensureJoined(conversation, timeoutMs);
    return conversation.send(
      typeof body === 'string' ? { kind: 'text', text: body } : body,
      messageId === undefined ? undefined : asMessageId(messageId),
    );
  }

  /**
   * Replaces this device's keys in the conversation's group with a commit
   * (an MLS update path): after a suspected compromise, whoever copied the
   * old keys reads nothing sent from the new epoch on.
   */
  async updateKeys(conversationId: string): Promise<number> {
    const conversation = this.#require(conversationId);
    await this.#ensureJoined(conversation, 30_000);
    return conversation.updateKeys();
  }

  /** Encrypts the file under its own key, uploads the ciphertext, and sends key and hash inside MLS. */
  async sendAttachment(
    conversationId: string,
    bytes: Uint8Array,
    meta: { name: string; mediaType: string; text?: string },
  ): Promise<{ messageId: string; seq: number | null; attachment: AttachmentBody }> {
    const conversation = this.#require(conversationId);
    await this.#ensureJoined(conversation, 30_000);
    const encrypted = await encryptAttachment(bytes);
    const ref = await this.#http.uploadAttachment(conversationId, encrypted.ciphertext);
    const attachment = attachmentBody({ ...meta, blobId: ref.id }, encrypted, bytes.byteLength);
    const sent = await conversation.send(attachment);
    return { ...sent, attachment };
  }

  /** Downloads and decrypts an attachment; throws if the blob was altered or swapped. */
  async fetchAttachment(
    conversationId: string,
    attachment: Pick<AttachmentBody, 'blobId' | 'key' | 'nonce' | 'sha256'>,
  ): Promise<Uint8Array> {
    const ciphertext = await this.#http.downloadAttachment(conversationId, attachment.blobId);
    return decryptAttachment({
      ciphertext,
      key: attachment.key,
      nonce: attachment.nonce,
      sha256: attachment.sha256,
    });
  }

  async createChannel(projectId: string, name: string): Promise<ConversationView> {
    const view = await this.#http.createConversation(projectId, { kind: 'channel', name });
    await this.sync(view.id);
    return view;
  }

  async openDirect(projectId: string, userId: string): Promise<ConversationView> {
    const view = await this.#http.createConversation(projectId, { kind: 'direct', userId });
    await this.sync(view.id);
    return view;
  }

  /** The server's list: all of this user's conversations, or one project's. */
  conversations(projectId?: string): Promise<ConversationView[]> {
    return this.#http.conversations(projectId);
  }

  conversation(conversationId: string): Promise<ConversationView> {
    return this.#http.conversation(conversationId);
  }

  /** What this device has decrypted and stored for a conversation. */
  async timeline(conversationId: string): Promise<Timeline> {
    return (await this.#require(conversationId).snapshot()).timeline;
  }

  /** Whether this device is in the conversation's group, and at which epoch. */
  async membership(
    conversationId: string,
  ): Promise<{ joined: boolean; epoch: number | null; processedSeq: number }> {
    const { record } = await this.#require(conversationId).snapshot();
    return {
      joined: record.groupState !== null && !record.removed,
      epoch: record.epoch,
      processedSeq: record.processedSeq,
    };
  }

  /** A user's devices (default: this user's), recording their keys. */
  devices(userId?: string): Promise<DeviceView[]> {
    const ready = this.#requireDevice();
    return this.#requireDirectory().devices(userId ?? ready.self.userId, true);
  }

  /** Vouches, from this device, for another device of the same user. */
  async verifyDevice(deviceId: string): Promise<void> {
    const ready = this.#requireDevice();
    const target = (await this.devices(ready.self.userId)).find((d) => d.id === deviceId);
    if (!target) {
      throw new ChatError('not_found', `no device ${deviceId} among your devices`);
    }
    const signature = await this.#engine.signDeviceVerification(
      ready.identity,
      fromBase64Url(target.signaturePublicKey),
    );
    await this.#http.verifyDevice(deviceId, toBase64Url(signature));
  }

  revokeDevice(deviceId: string): Promise<void> {
    return this.#http.revokeDevice(deviceId);
  }

  /** The number both people compare (in person or by a trusted channel). */
  async safetyNumber(userId: string): Promise<string> {
    const ready = this.#requireDevice();
    const directory = this.#requireDirectory();
    return safetyNumber(
      { userId: ready.self.userId, keys: await directory.activeKeys(ready.self.userId) },
      { userId, keys: await directory.activeKeys(userId) },
    );
  }

  /** Resolves when every conversation has processed what it has received so far. */
  async idle(): Promise<void> {
    await Promise.all([...this.#conversations.values()].map((c) => c.idle()));
  }

  /** Finishes what was received (so it is acknowledged), then closes the socket and connections. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#conversations.values()) c.close();
    await this.idle();
    await this.#topUp;
    this.#socket?.close();
    this.#socket = null;
    this.#http.close();
  }

  // --- internals -------------------------------------------------------------------

  readonly #now = (): Date => (this.#opts.now ? this.#opts.now() : new Date());

  #requireDevice(): ReadyDevice {
    if (!this.#ready) throw new ChatError('device_required', 'call ensureDevice() first');
    return this.#ready;
  }

  #requireDirectory(): DeviceDirectory {
    this.#requireDevice();
    if (!this.#directory) throw new ChatError('device_required', 'call ensureDevice() first');
    return this.#directory;
  }

  #require(conversationId: string): Conversation {
    const conversation = this.#conversation(conversationId);
    if (!conversation)
      throw new ChatError('bad_request', `"${conversationId}" is not a conversation id`);
    return conversation;
  }

  /** null for an id that cannot be a conversation (it becomes a file name). */
  #conversation(id: string): Conversation | null {
    let conversation = this.#conversations.get(id);
    if (conversation) return conversation;
    try {
      checkStoreId(id);
    } catch {
      this.#error(
        null,
        'bad_conversation_id',
        `the server named a conversation "${id.slice(0, 80)}"`,
      );
      return null;
    }
    const ready = this.#requireDevice();
    const deps: ConversationDeps = {
      engine: this.#engine,
      http: this.#http,
      store: this.#store,
      identity: ready.identity,
      self: ready.self,
      directory: this.#requireDirectory(),
      events: this.events,
      ack: (conversation, seq) => this.#socket?.send({ type: 'ack', conversation, seq }),
      ackWelcome: (welcomeId) => this.#socket?.send({ type: 'ack-welcome', id: welcomeId }),
      keyPackageUsed: () => this.#scheduleTopUp(),
      stockSuite: async (suite) => {
        if (suite !== ready.device.ciphersuite) await this.topUpKeyPackages([suite]);
      },
      now: this.#now,
      random: this.#opts.random ?? Math.random,
    };
    conversation = new Conversation(id, deps);
    this.#conversations.set(id, conversation);
    return conversation;
  }

  async #ensureJoined(conversation: Conversation, timeoutMs: number): Promise<void> {
    const joined = async () => {
      const { record } = await conversation.snapshot();
      return record.groupState !== null && !record.removed;
    };
    await conversation.reconcile();
    if (await joined()) return;
    if (!this.#socket) {
      throw new ChatError(
        'not_joined',
        'this device is not in the conversation yet, and no socket is open to receive its Welcome',
      );
    }
    try {
      await this.events.waitUntil(joined, timeoutMs, 'joining the conversation');
    } catch {
      throw new ChatError(
        'not_joined',
        `this device was not added to the conversation within ${Math.round(timeoutMs / 1000)} s: ` +
          'another member must be online to add it',
      );
    }
  }

  #scheduleTopUp(): void {
    if (this.#topUp || this.#closed) return;
    this.#topUp = this.topUpKeyPackages()
      .then(() => {})
      .catch((err: unknown) => this.#report(null, err))
      .finally(() => {
        this.#topUp = null;
      });
  }

  /** "A changed device key is shown as a warning in every conversation it touches." */
  async #keyChanged(change: KeyChange): Promise<void> {
    const text =
      change.kind === 'key-changed'
        ? `The identity key of device ${change.deviceName} (${change.deviceId}) of user ${change.userId} changed; new fingerprint ${change.fingerprint}. Compare safety numbers.`
        : `User ${change.userId} has a new device ${change.deviceName} (${change.deviceId}), fingerprint ${change.fingerprint}.`;
    const touched: string[] = [];
    for (const id of await this.#store.listConversations()) {
      const record = await this.#store.loadConversation(id);
      if (record?.meta?.users.includes(change.userId)) touched.push(id);
    }
    const who = { userId: change.userId, deviceId: change.deviceId };
    if (touched.length === 0) {
      this.events.emit({
        type: 'warning',
        conversation: null,
        kind: change.kind,
        message: text,
        ...who,
      });
    }
    for (const id of touched) {
      this.events.emit({
        type: 'warning',
        conversation: id,
        kind: change.kind,
        message: text,
        ...who,
      });
      this.#conversation(id)
        ?.notice(change.kind, text, who)
        .catch((err: unknown) => this.#report(id, err));
    }
  }

  #report(conversation: string | null, err: unknown): void {
    const code =
      typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
        ? err.code
        : 'internal';
    this.#error(conversation, code, err instanceof Error ? err.message : String(err));
  }

  #error(conversation: string | null, code: string, message: string): void {
    this.events.emit({ type: 'error', conversation, code, message, fatal: false });
  }
}

export { ChatError };
