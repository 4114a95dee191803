import {
  type Delivery,
  type MessagingServerFrame,
  messagingClientFrameSchema,
  messagingCloseCodes,
  messagingLimits,
  realtimeCloseCodes,
} from '@bulwark/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Actor } from '../identity/sessions/service.ts';
import { Budget, type LiveSocket, OPEN } from '../realtime/connection.ts';
import { Storage } from '../storage/storage.ts';
import { DeviceStore } from './devices.ts';
import { ConversationLog } from './log.ts';
import type { ConversationSignal, DeviceSignal, MessagingService } from './service.ts';

const ackWriteMs = 250;

interface Follow {
  /** Last position sent on this socket, and the last the device acknowledged. */
  sent: number;
  acked: number;
  /** Nothing after this position (the device was removed there). */
  upTo: number | null;
  /** The newest position known to exist. */
  known: number;
  pumping: boolean;
}

class DeviceConnection {
  readonly follows = new Map<string, Follow>();
  readonly sentWelcomes = new Set<string>();
  // Acks come one per delivery; the budget allows a busy device and stops a flood.
  readonly frames = new Budget(20_000, 10_000);
  queue: Promise<void> = Promise.resolve();
  alive = true;
  closed = false;
  readonly socket: LiveSocket;
  readonly deviceId: string;
  readonly token: string;
  readonly source: string;
  constructor(socket: LiveSocket, deviceId: string, token: string, source: string) {
    this.socket = socket;
    this.deviceId = deviceId;
    this.token = token;
    this.source = source;
  }
}

export interface DeviceHubAccess {
  /** The session's actor now, or null when it ended (or fails policy). */
  session(token: string, source: string): Promise<Actor | null>;
}

/**
 * The device sockets of this node: each delivers its device's conversations
 * in log order, from the device's acknowledged position, at most
 * `deliveryWindow` ahead of its acks (a slow device costs a cursor, not
 * memory). Bus signals say "the log grew"; the log itself is the truth, so
 * a lost signal delays a delivery until the next one, never loses it.
 */
export class DeviceHub {
  readonly #messaging: MessagingService;
  readonly #access: DeviceHubAccess;
  readonly #log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
  readonly #connections = new Set<DeviceConnection>();
  readonly #conversations = new Map<
    string,
    { followers: Set<DeviceConnection>; stop: () => void }
  >();
  readonly #devices = new Map<string, { followers: Set<DeviceConnection>; stop: () => void }>();
  readonly #timer: NodeJS.Timeout;
  /** "<deviceId> <conversationId>" → highest acknowledged position not yet stored. */
  readonly #pendingAcks = new Map<string, number>();
  #ackTimer: NodeJS.Timeout | null = null;

  constructor(opts: {
    messaging: MessagingService;
    access: DeviceHubAccess;
    logger: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
    heartbeatMs?: number;
  }) {
    this.#messaging = opts.messaging;
    this.#access = opts.access;
    this.#log = opts.logger;
    this.#timer = setInterval(() => void this.#heartbeat(), opts.heartbeatMs ?? 30_000);
    this.#timer.unref();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  accept(socket: LiveSocket, who: { deviceId: string; token: string; source: string }): void {
    const conn = new DeviceConnection(socket, who.deviceId, who.token, who.source);
    this.#connections.add(conn);
    socket.on('message', (data, isBinary) => {
      conn.queue = conn.queue
        .then(() => this.#onFrame(conn, data, isBinary))
        .catch((err) => {
          this.#log.error({ err }, 'messaging socket: frame failed');
        });
    });
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('close', () => this.#drop(conn));
    this.#followDevice(conn);
    conn.queue = conn.queue
      .then(() => this.#start(conn))
      .catch((err) => {
        this.#log.error({ err }, 'messaging socket: start failed');
        this.#close(conn, realtimeCloseCodes.internalError, 'internal error');
      });
  }

  /** Closes every socket (the server seals); acknowledgements are stored first. */
  async closeAll(): Promise<void> {
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    await this.#writeAcks();
    for (const conn of this.#connections) {
      this.#close(conn, realtimeCloseCodes.goingAway, 'server sealed or shutting down');
    }
  }

  /** Shutdown: every socket closed and the heartbeat stopped. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.closeAll();
  }

  async #start(conn: DeviceConnection): Promise<void> {
    this.#send(conn, { type: 'ready', deviceId: conn.deviceId });
    await this.#sendWelcomes(conn);
    await this.#refreshFollows(conn);
  }

  async #refreshFollows(conn: DeviceConnection): Promise<void> {
    const log = new ConversationLog(this.#messaging.storage());
    for (const cursor of await log.cursorsOf(conn.deviceId)) {
      const existing = conn.follows.get(cursor.conversationId);
      if (existing) {
        existing.upTo = cursor.removedSeq;
      } else {
        conn.follows.set(cursor.conversationId, {
          sent: cursor.ackedSeq,
          acked: cursor.ackedSeq,
          upTo: cursor.removedSeq,
          known: Number.MAX_SAFE_INTEGER,
          pumping: false,
        });
        this.#followConversation(conn, cursor.conversationId);
      }
      void this.#pump(conn, cursor.conversationId);
    }
  }

  async #sendWelcomes(conn: DeviceConnection): Promise<void> {
    const welcomes = await new ConversationLog(this.#messaging.storage()).welcomesFor(
      conn.deviceId,
    );
    for (const w of welcomes) {
      if (conn.sentWelcomes.has(w.id)) continue;
      conn.sentWelcomes.add(w.id);
      this.#send(conn, { type: 'welcome', ...w });
    }
  }

  /** Sends what the device has not been sent, in order, within its window. One pump per conversation. */
  async #pump(conn: DeviceConnection, conversationId: string, inline?: Delivery): Promise<void> {
    const follow = conn.follows.get(conversationId);
    if (!follow || follow.pumping || conn.closed) return;
    follow.pumping = true;
    try {
      const log = new ConversationLog(this.#messaging.storage());
      while (!conn.closed) {
        const limit = follow.upTo ?? Number.MAX_SAFE_INTEGER;
        const room = messagingLimits.deliveryWindow - (follow.sent - follow.acked);
        if (room <= 0 || follow.sent >= limit || follow.sent >= follow.known) break;
        let batch: Delivery[];
        if (inline && inline.seq === follow.sent + 1) {
          batch = [inline];
          inline = undefined;
        } else {
          batch = await log.range(conversationId, follow.sent, Math.min(room, 100), follow.upTo);
        }
        if (batch.length === 0) {
          follow.known = follow.sent;
          break;
        }
        for (const d of batch) {
          // The log has no gaps (positions are reserved under the conversation's row lock).
          if (d.seq !== follow.sent + 1) break;
          this.#send(conn, { type: 'delivery', ...d });
          follow.sent = d.seq;
        }
      }
    } finally {
      follow.pumping = false;
    }
  }

  async #onFrame(conn: DeviceConnection, data: unknown, isBinary: boolean): Promise<void> {
    if (!conn.frames.take(Date.now())) {
      this.#close(conn, realtimeCloseCodes.policyViolation, 'too many frames');
      return;
    }
    const text = isBinary ? null : Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    let parsed: ReturnType<typeof messagingClientFrameSchema.safeParse> | null = null;
    if (text !== null && text.length <= 4096) {
      try {
        parsed = messagingClientFrameSchema.safeParse(JSON.parse(text));
      } catch {
        parsed = null;
      }
    }
    if (!parsed?.success) {
      this.#send(conn, {
        type: 'error',
        code: 'bad_request',
        message:
          parsed?.error.issues[0]?.message ??
          'A frame is one JSON object: ack, ack-welcome or ping.',
      });
      return;
    }
    const frame = parsed.data;
    const log = new ConversationLog(this.#messaging.storage());
    if (frame.type === 'ping') {
      this.#send(conn, { type: 'pong' });
    } else if (frame.type === 'ack-welcome') {
      await log.ackWelcome(conn.deviceId, frame.id);
    } else {
      const follow = conn.follows.get(frame.conversation);
      // Acks beyond what was sent would skip messages the device never saw.
      if (!follow || frame.seq > follow.sent) {
        this.#send(conn, {
          type: 'error',
          code: 'bad_request',
          message: 'That position was not delivered on this socket.',
        });
        return;
      }
      if (frame.seq > follow.acked) {
        follow.acked = frame.seq;
        this.#queueAck(conn.deviceId, frame.conversation, frame.seq);
      }
      void this.#pump(conn, frame.conversation);
    }
  }

  /**
   * Acknowledged positions reach the database together, in one transaction
   * every `ackWriteMs` for every socket of this node, not one write per
   * message (each is a durable commit): a crash loses at most that much
   * progress, which only means a few deliveries are sent again.
   */
  #queueAck(deviceId: string, conversationId: string, seq: number): void {
    const key = `${deviceId} ${conversationId}`;
    if ((this.#pendingAcks.get(key) ?? 0) < seq) this.#pendingAcks.set(key, seq);
    if (this.#ackTimer !== null) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = null;
      void this.#writeAcks();
    }, ackWriteMs);
    this.#ackTimer.unref();
  }

  /** Never rejects: an acknowledgement not stored is a delivery sent again later. */
  async #writeAcks(): Promise<void> {
    if (this.#pendingAcks.size === 0) return;
    const batch = [...this.#pendingAcks];
    this.#pendingAcks.clear();
    try {
      const outer = this.#messaging.storage();
      await outer.db.transaction().execute(async (trx) => {
        const log = new ConversationLog(new Storage(trx, outer.backend, outer.fields));
        for (const [key, seq] of batch) {
          const [deviceId, conversationId] = key.split(' ') as [string, string];
          await log.ack(deviceId, conversationId, seq);
        }
      });
    } catch (err) {
      this.#log.warn({ err }, 'messaging socket: could not store acknowledgements');
    }
  }

  #followConversation(conn: DeviceConnection, conversationId: string): void {
    let entry = this.#conversations.get(conversationId);
    if (!entry) {
      const subject = this.#messaging.subjectOfConversation(conversationId);
      const followers = new Set<DeviceConnection>();
      const stop = subject
        ? this.#messaging.bus.subscribe(subject, (msg) =>
            this.#onConversationSignal(conversationId, msg),
          )
        : () => {};
      entry = { followers, stop };
      this.#conversations.set(conversationId, entry);
    }
    entry.followers.add(conn);
  }

  #followDevice(conn: DeviceConnection): void {
    let entry = this.#devices.get(conn.deviceId);
    if (!entry) {
      const subject = this.#messaging.subjectOfDevice(conn.deviceId);
      const followers = new Set<DeviceConnection>();
      const stop = subject
        ? this.#messaging.bus.subscribe(subject, (msg) => this.#onDeviceSignal(conn.deviceId, msg))
        : () => {};
      entry = { followers, stop };
      this.#devices.set(conn.deviceId, entry);
    }
    entry.followers.add(conn);
  }

  #onConversationSignal(conversationId: string, msg: unknown): void {
    const signal = msg as ConversationSignal;
    if (signal?.v !== 1 || signal.conversation !== conversationId || typeof signal.seq !== 'number')
      return;
    for (const conn of this.#conversations.get(conversationId)?.followers ?? []) {
      const follow = conn.follows.get(conversationId);
      if (!follow) continue;
      // The sender's own device has its message: when it is up to date (everything before
      // acknowledged), count it as delivered and acknowledged instead of echoing it.
      // Otherwise it is echoed in order, and the client recognises it by its bytes.
      if (
        signal.from === conn.deviceId &&
        signal.delivery?.kind === 'application' &&
        follow.sent === signal.seq - 1 &&
        follow.acked === follow.sent &&
        !follow.pumping
      ) {
        follow.sent = signal.seq;
        follow.acked = signal.seq;
        this.#queueAck(conn.deviceId, conversationId, signal.seq);
        continue;
      }
      follow.known = Math.max(
        follow.known === Number.MAX_SAFE_INTEGER ? 0 : follow.known,
        signal.seq,
      );
      conn.queue = conn.queue.then(() => this.#pump(conn, conversationId, signal.delivery));
    }
  }

  #onDeviceSignal(deviceId: string, msg: unknown): void {
    const signal = msg as DeviceSignal;
    if (signal?.v !== 1) return;
    for (const conn of this.#devices.get(deviceId)?.followers ?? []) {
      if (signal.type === 'revoked') {
        this.#close(conn, messagingCloseCodes.deviceRevoked, 'device revoked');
        continue;
      }
      conn.queue = conn.queue.then(async () => {
        if (signal.type === 'welcome') await this.#sendWelcomes(conn);
        else this.#send(conn, { type: 'conversation', conversation: signal.conversation });
        await this.#refreshFollows(conn);
      });
    }
  }

  async #heartbeat(): Promise<void> {
    for (const conn of [...this.#connections]) {
      // One socket at a time, letting other work in between: on SQLCipher the checks are
      // synchronous queries, and a thousand in one go would stall every delivery.
      await new Promise((resolve) => setImmediate(resolve));
      if (conn.closed) continue;
      if (!conn.alive) {
        conn.socket.terminate();
        this.#drop(conn);
        continue;
      }
      conn.alive = false;
      conn.socket.ping();
      // Sessions end, devices get revoked: re-check both at every beat.
      const actor = await this.#access.session(conn.token, conn.source).catch(() => null);
      const device = actor
        ? await new DeviceStore(this.#messaging.storage())
            .ofSession(actor.sessionId)
            .catch(() => null)
        : null;
      if (!actor) this.#close(conn, realtimeCloseCodes.sessionEnded, 'session ended');
      else if (!device || device.id !== conn.deviceId) {
        this.#close(conn, messagingCloseCodes.deviceRevoked, 'device revoked');
      }
    }
  }

  #send(conn: DeviceConnection, frame: MessagingServerFrame): void {
    if (conn.closed || conn.socket.readyState !== OPEN) return;
    conn.socket.send(JSON.stringify(frame));
  }

  #close(conn: DeviceConnection, code: number, reason: string): void {
    if (!conn.closed) {
      try {
        conn.socket.close(code, reason);
      } catch {
        conn.socket.terminate();
      }
    }
    this.#drop(conn);
  }

  #drop(conn: DeviceConnection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#connections.delete(conn);
    for (const id of conn.follows.keys()) {
      const entry = this.#conversations.get(id);
      entry?.followers.delete(conn);
      if (entry && entry.followers.size === 0) {
        entry.stop();
        this.#conversations.delete(id);
      }
    }
    const device = this.#devices.get(conn.deviceId);
    device?.followers.delete(conn);
    if (device && device.followers.size === 0) {
      device.stop();
      this.#devices.delete(conn.deviceId);
    }
  }
}
