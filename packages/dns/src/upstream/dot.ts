/**
 * DNS over TLS (RFC 7858) with the TCP habits of RFC 7766: one persistent
 * connection carries many queries at once (pipelining), answers may come
 * back in any order and are matched by a message id this transport assigns
 * per connection, each message is framed by a 2-octet length.
 */
import { randomInt } from 'node:crypto';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import {
  abortReason,
  ConnectionLostError,
  HANDSHAKE_TIMEOUT_MS,
  IDLE_CLOSE_MS,
  SILENT_CONNECTION_MS,
} from './transport.ts';
import type { Upstream } from './upstream.ts';
import { checkQuery, MAX_MESSAGE, messageId, responseMismatch, withId } from './wire.ts';

export interface DotOptions {
  id: string;
  url: string;
  host: string;
  port: number;
  tls: ConnectionOptions;
  idleMs?: number;
}

export function createDotUpstream(options: DotOptions): Upstream {
  return new DotUpstream(options);
}

class DotUpstream implements Upstream {
  readonly id: string;
  readonly url: string;
  readonly #options: DotOptions;
  #connection: DotConnection | null = null;
  /** The last TLS session ticket, so a reconnect can resume instead of a full handshake. */
  #session: Buffer | undefined;
  #closed = false;

  constructor(options: DotOptions) {
    this.id = options.id;
    this.url = options.url;
    this.#options = options;
  }

  async exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    checkQuery(query);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      if (this.#closed) throw new Error(`${this.id}: upstream closed`);
      try {
        return await this.#current().send(query, signal);
      } catch (error) {
        // One more try on a fresh connection when a working one went away
        // under the query (the server closed it, RFC 7766 §6.2.3).
        if (attempt === 0 && error instanceof ConnectionLostError && error.retryable) continue;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = null;
    await connection?.destroy(new ConnectionLostError(`${this.id}: upstream closed`, false));
  }

  #current(): DotConnection {
    if (this.#connection === null) {
      const tls: ConnectionOptions = {
        ...this.#options.tls,
        host: this.#options.host,
        port: this.#options.port,
        ...(this.#session === undefined ? {} : { session: this.#session }),
      };
      const connection = new DotConnection(this.id, tls, this.#options.idleMs ?? IDLE_CLOSE_MS, {
        gone: (c) => {
          if (this.#connection === c) this.#connection = null;
        },
        session: (ticket) => {
          this.#session = ticket;
        },
      });
      this.#connection = connection;
    }
    return this.#connection;
  }
}

interface Pending {
  callerId: number;
  /** The query as written (carrying this connection's id), to check the answer against. */
  wire: Uint8Array;
  writtenAt: number;
  resolve(response: Uint8Array): void;
  reject(error: Error): void;
}

interface ConnectionEvents {
  /** The connection takes no more queries (closed, failed or retiring). */
  gone(connection: DotConnection): void;
  session(ticket: Buffer): void;
}

class DotConnection {
  readonly #label: string;
  readonly #socket: TLSSocket;
  readonly #idleMs: number;
  readonly #events: ConnectionEvents;
  readonly #pending = new Map<number, Pending>();
  /** Ids are handed out in sequence from a random start, so one is not reused soon after a query gave up on it. */
  #nextId = randomInt(0x10000);
  #received: Buffer = Buffer.alloc(0);
  #established = false;
  #lastReadAt = 0;
  #gone = false;
  #failure: Error | null = null;
  #idleTimer: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  readonly #closed: Promise<void>;

  constructor(label: string, tls: ConnectionOptions, idleMs: number, events: ConnectionEvents) {
    this.#label = label;
    this.#idleMs = idleMs;
    this.#events = events;
    this.#socket = connect(tls);
    this.#socket.setNoDelay(true);
    this.#handshakeTimer = setTimeout(() => {
      this.#kill(new ConnectionLostError(`${label}: TLS handshake timed out`, false));
    }, HANDSHAKE_TIMEOUT_MS);
    this.#handshakeTimer.unref();
    this.#socket.once('secureConnect', () => {
      clearTimeout(this.#handshakeTimer);
      this.#established = true;
    });
    this.#socket.on('session', (ticket: Buffer) => this.#events.session(ticket));
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#socket.on('error', (error) => {
      this.#failure ??= error;
    });
    this.#closed = new Promise((resolve) => {
      this.#socket.once('close', () => {
        clearTimeout(this.#handshakeTimer);
        clearTimeout(this.#idleTimer);
        this.#retire();
        const cause = this.#failure;
        const lost = new ConnectionLostError(
          `${label}: connection ${this.#established ? 'closed' : 'failed'}${cause ? `: ${cause.message}` : ''}`,
          this.#established,
          cause ?? undefined,
        );
        this.#failAll(cause instanceof ConnectionLostError ? cause : lost);
        resolve();
      });
    });
  }

  send(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (this.#gone) {
      return Promise.reject(new ConnectionLostError(`${this.#label}: connection closed`, true));
    }
    if (this.#pending.size >= 0x10000) {
      return Promise.reject(new Error(`${this.#label}: too many queries in flight`));
    }
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;

    const wire = withId(query, id);
    const frame = Buffer.allocUnsafe(2 + wire.length);
    frame.writeUInt16BE(wire.length, 0);
    frame.set(wire, 2);

    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        if (this.#pending.get(id) !== entry) return;
        this.#pending.delete(id);
        reject(abortReason(signal));
        const silentFor = performance.now() - entry.writtenAt;
        if (this.#lastReadAt < entry.writtenAt && silentFor >= SILENT_CONNECTION_MS) {
          this.#kill(new ConnectionLostError(`${this.#label}: no answer on this connection`, true));
        } else {
          this.#idleIfUnused();
        }
      };
      const entry: Pending = {
        callerId: messageId(query),
        wire,
        writtenAt: performance.now(),
        resolve: (response) => {
          signal.removeEventListener('abort', onAbort);
          resolve(response);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.#pending.set(id, entry);
      signal.addEventListener('abort', onAbort, { once: true });
      clearTimeout(this.#idleTimer);
      this.#socket.ref();
      this.#socket.write(frame);
    });
  }

  /** Closes the socket, failing what is in flight with `error`; resolves once it is closed. */
  destroy(error: Error): Promise<void> {
    this.#kill(error);
    return this.#closed;
  }

  #read(chunk: Buffer): void {
    this.#lastReadAt = performance.now();
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    // A frame may arrive in pieces or several in one chunk (RFC 7766 §8).
    while (this.#received.length >= 2 && !this.#socket.destroyed) {
      const length = this.#received.readUInt16BE(0);
      if (this.#received.length < 2 + length) break;
      const message = this.#received.subarray(2, 2 + length);
      this.#received = this.#received.subarray(2 + length);
      this.#answer(message);
    }
  }

  #answer(message: Uint8Array): void {
    if (message.length < 12 || message.length > MAX_MESSAGE) {
      // Framing we cannot trust: later bytes may be misaligned too.
      this.#kill(new ConnectionLostError(`${this.#label}: malformed frame from upstream`, false));
      return;
    }
    const entry = this.#pending.get(messageId(message));
    // An unknown id is a late answer to a query that gave up: drop it.
    if (entry === undefined) return;
    this.#pending.delete(messageId(message));
    const mismatch = responseMismatch(entry.wire, message);
    if (mismatch === null) entry.resolve(withId(message, entry.callerId));
    else entry.reject(new Error(`${this.#label}: ${mismatch}`));
    this.#idleIfUnused();
  }

  /** With nothing in flight, let the process exit and close the connection after the idle time. */
  #idleIfUnused(): void {
    if (this.#pending.size > 0 || this.#gone) return;
    this.#socket.unref();
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending.size > 0) return;
      this.#retire();
      this.#socket.end();
    }, this.#idleMs);
    this.#idleTimer.unref();
  }

  /** Takes no more queries; the upstream opens a new connection for the next one. */
  #retire(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#events.gone(this);
  }

  #kill(error: Error): void {
    this.#failure ??= error;
    this.#retire();
    this.#failAll(error);
    this.#socket.destroy();
  }

  #failAll(error: Error): void {
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of entries) entry.reject(error);
  }
}
