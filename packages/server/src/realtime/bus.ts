import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';

/**
 * Events between the nodes of one installation (ARCHITECTURE.md,
 * "Scale-out"): a change is published after its transaction commits and
 * every node fans it out to its own sockets. Subjects are exact names (no
 * wildcards); payloads are JSON objects holding ids and what changed,
 * never content or secrets, because the bus may be shared infrastructure.
 */
export interface EventBus {
  /** Never rejects: the change is committed already, so a lost event is logged, not thrown. */
  publish(subject: string, event: object): Promise<void>;
  /** Handlers get a parsed copy, never the publisher's object; returns the unsubscribe. */
  subscribe(subject: string, handler: (event: unknown) => void): () => void;
  /**
   * Resolves once the subscriptions made so far receive what is published
   * anywhere from now on (NATS registers them asynchronously), so a client
   * told "subscribed" can fetch the current state and miss no change after it.
   */
  flush?(): Promise<void>;
  close(): Promise<void>;
}

type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;

/** One node: delivers in this process, asynchronously, like NATS would. */
export class LocalEventBus implements EventBus {
  readonly #handlers = new Map<string, Set<(event: unknown) => void>>();
  readonly #logger: Logger;
  #closed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  async publish(subject: string, event: object): Promise<void> {
    if (this.#closed) return;
    const handlers = this.#handlers.get(subject);
    if (!handlers || handlers.size === 0) return;
    // A JSON copy, so subscribers see exactly what NATS would carry.
    const json = JSON.stringify(event);
    // Off the publisher's stack: a subscriber never runs inside the request that published.
    setImmediate(() => {
      for (const handler of [...handlers])
        deliver(this.#logger, subject, handler, JSON.parse(json));
    });
  }

  subscribe(subject: string, handler: (event: unknown) => void): () => void {
    let set = this.#handlers.get(subject);
    if (!set) {
      set = new Set();
      this.#handlers.set(subject, set);
    }
    // A wrapper per call, so subscribing the same function twice unsubscribes one at a time.
    const entry = (event: unknown) => handler(event);
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#handlers.get(subject) === set) this.#handlers.delete(subject);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
  }
}

export interface NatsBusOptions {
  /** nats://host:port or tls://host:port (config events.nats.url). */
  url: string;
  name?: string | undefined;
  tls?:
    | { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined }
    | undefined;
  credsFile?: string | undefined;
  logger: Logger;
  /** How long the first connection may take. */
  timeoutMs?: number | undefined;
}

/**
 * Core NATS publish/subscribe between nodes: at-most-once, which is what live
 * updates need (a client that missed something refetches). The client library
 * reconnects on its own and buffers what is published meanwhile.
 */
export class NatsEventBus implements EventBus {
  readonly #nc: NatsConnection;
  readonly #logger: Logger;
  #closing = false;

  static async connect(opts: NatsBusOptions): Promise<NatsEventBus> {
    const tlsRequired = opts.tls !== undefined || opts.url.startsWith('tls:');
    const nc = await connect({
      servers: [opts.url],
      name: opts.name ?? 'bulwark',
      timeout: opts.timeoutMs ?? 10_000,
      // Never give up: NATS restarting must not need every Bulwark node restarted.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      ...(tlsRequired ? { tls: definedOnly(opts.tls ?? {}) } : {}),
      ...(opts.credsFile
        ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(opts.credsFile))) }
        : {}),
    });
    return new NatsEventBus(nc, opts.logger);
  }

  constructor(nc: NatsConnection, logger: Logger) {
    this.#nc = nc;
    this.#logger = logger;
    void this.#watch();
  }

  async publish(subject: string, event: object): Promise<void> {
    try {
      this.#nc.publish(subject, JSON.stringify(event));
    } catch (err) {
      this.#logger.error({ err, subject }, 'could not publish a live update to NATS; it is lost');
    }
  }

  subscribe(subject: string, handler: (event: unknown) => void): () => void {
    const sub = this.#nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.#logger.error({ err, subject }, 'a NATS subscription failed');
          return;
        }
        let event: unknown;
        try {
          event = msg.json();
        } catch {
          this.#logger.warn({ subject }, 'dropped a NATS message that is not JSON');
          return;
        }
        deliver(this.#logger, subject, handler, event);
      },
    });
    return () => {
      if (!sub.isClosed()) sub.unsubscribe();
    };
  }

  async flush(): Promise<void> {
    // A round trip to the server; bounded, because while NATS is away it waits for the reconnect.
    const timer = new Promise((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([this.#nc.flush().catch(() => {}), timer]);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Drain sends what is buffered; while NATS is away that could wait forever.
    const drained = this.#nc.drain().catch(() => {});
    const timer = new Promise((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([drained, timer]);
    if (!this.#nc.isClosed()) await this.#nc.close();
  }

  async #watch(): Promise<void> {
    for await (const s of this.#nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.#logger.warn({ server: s.server }, 'lost the NATS connection; reconnecting');
          break;
        case 'reconnect':
          this.#logger.info({ server: s.server }, 'NATS connection restored');
          break;
        case 'error':
          this.#logger.error({ err: s.error }, 'NATS reported an error');
          break;
        case 'close':
          if (!this.#closing) this.#logger.error('the NATS connection closed; live updates stop');
          break;
        default:
          break;
      }
    }
  }
}

/** The configured bus: NATS when `events.nats` is set, else in-process. */
export async function createEventBus(
  config: { nats?: Omit<NatsBusOptions, 'logger'> | undefined },
  logger: Logger,
): Promise<EventBus> {
  if (!config.nats) return new LocalEventBus(logger);
  return NatsEventBus.connect({ ...config.nats, logger });
}

/** The keys that are set (the NATS client's options do not take `undefined`). */
function definedOnly(files: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

function deliver(
  logger: Logger,
  subject: string,
  handler: (event: unknown) => void,
  event: unknown,
): void {
  try {
    handler(event);
  } catch (err) {
    logger.error({ err, subject }, 'a live-update subscriber failed');
  }
}
