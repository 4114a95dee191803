import { performance } from 'node:perf_hooks';
import {
  realtimeCloseCodes as close,
  type ErrorCode,
  type RealtimeClientFrame,
  type RealtimeServerFrame,
} from '@bulwark/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { BulwarkError } from '../errors.ts';
import type { Actor } from '../identity/sessions/service.ts';
import type { EventBus } from './bus.ts';
import { Budget, Connection, type LiveSocket, OPEN } from './connection.ts';
import { asEnvelope, parseClientFrame } from './frames.ts';

export interface HubLimits {
  /** Bigger frames get an error frame (a subscribe is ~80 bytes); see hardFrameBytes. */
  maxFrameBytes: number;
  maxSubscriptions: number;
  /** Per account, on this node (a tab each, and some to spare). */
  maxConnectionsPerUser: number;
  /** A client this far behind in reading is dropped rather than buffered for. */
  maxBufferedBytes: number;
  /** Events and frames waiting for one connection (behind a slow re-check); more drops it. */
  maxQueued: number;
  /** How long a confirmed session, or right to read a project, is trusted before asking again. */
  recheckMs: number;
  /** Ping interval; a socket that did not answer the previous ping is closed. */
  heartbeatMs: number;
  framesPerWindow: number;
  badFramesPerWindow: number;
  windowMs: number;
}

export const defaultHubLimits: HubLimits = {
  maxFrameBytes: 4096,
  maxSubscriptions: 100,
  maxConnectionsPerUser: 32,
  maxBufferedBytes: 1024 * 1024,
  maxQueued: 1000,
  recheckMs: 5000,
  heartbeatMs: 30_000,
  framesPerWindow: 200,
  badFramesPerWindow: 10,
  windowMs: 10_000,
};

/** Over this the WebSocket library stops reading and closes with 1009. */
export const hardFrameBytes = 64 * 1024;

/** An event is ids and what changed; anything near this size is a bug in its publisher. */
const maxEventBytes = 16 * 1024;

/** The choke point, as the hub asks it (realtime/routes.ts wires it to policy/standing.ts). */
export interface HubAccess {
  /** The session's actor now, or null when it ended; throws BulwarkError when policy refuses it. */
  session(token: string, source: string): Promise<Actor | null>;
  /** Resolves when the actor may read the project now; throws BulwarkError otherwise. */
  readProject(actor: Actor, projectId: string, source: string): Promise<void>;
}

export interface HubOptions {
  bus: EventBus;
  access: HubAccess;
  /** The bus subject of a project's events, or null before init. */
  subject(projectId: string): string | null;
  logger: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
  limits?: Partial<HubLimits>;
  /** Monotonic milliseconds (tests pass their own). */
  now?: () => number;
}

/** Refusals a subscriber is told about; anything else is the server's fault. */
const refusals = new Set<ErrorCode>([
  'not_found',
  'forbidden',
  'policy_unsatisfied',
  'step_up_required',
]);

/**
 * This node's sockets: subscriptions authorized through the choke point,
 * one bus subscription per project followed here, fan-out with a re-check
 * before delivery (removed members and ended sessions stop receiving within
 * `recheckMs`, at once when the event says access changed), and the limits
 * that keep one client from costing the server unbounded memory or work.
 */
export class RealtimeHub {
  readonly #bus: EventBus;
  readonly #access: HubAccess;
  readonly #subject: (projectId: string) => string | null;
  readonly #log: HubOptions['logger'];
  readonly #limits: HubLimits;
  readonly #now: () => number;
  readonly #connections = new Set<Connection>();
  readonly #perUser = new Map<string, number>();
  readonly #projects = new Map<string, { followers: Set<Connection>; stop: () => void }>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(opts: HubOptions) {
    this.#bus = opts.bus;
    this.#access = opts.access;
    this.#subject = opts.subject;
    this.#log = opts.logger;
    this.#limits = { ...defaultHubLimits, ...opts.limits };
    this.#now = opts.now ?? (() => performance.now());
    this.#timer = setInterval(() => this.heartbeat(), this.#limits.heartbeatMs);
    this.#timer.unref();
  }

  /**
   * Publishes a project's event to every node, after the change committed.
   * Never rejects. The event holds ids and the names of what changed, never
   * content: NATS may be shared, and content is encrypted at rest.
   */
  async publishProject(
    projectId: string,
    event: object,
    opts: { accessChanged?: boolean } = {},
  ): Promise<void> {
    try {
      const subject = this.#subject(projectId);
      if (subject === null) return;
      const envelope = {
        v: 1,
        project: projectId,
        event,
        ...(opts.accessChanged ? { access: true } : {}),
      };
      if (JSON.stringify(envelope).length > maxEventBytes) {
        this.#log.error({ projectId }, `a live update over ${maxEventBytes} bytes was dropped`);
        return;
      }
      await this.#bus.publish(subject, envelope);
    } catch (err) {
      this.#log.error({ err, projectId }, 'could not publish a live update');
    }
  }

  /** A socket the request guard let through, with the session it authenticated. */
  accept(socket: LiveSocket, who: { actor: Actor; token: string; source: string }): void {
    const userId = who.actor.userId;
    const held = this.#perUser.get(userId) ?? 0;
    if (this.#closed || held >= this.#limits.maxConnectionsPerUser) {
      if (this.#closed) socket.close(close.goingAway, 'shutting down');
      else socket.close(close.tryAgainLater, 'too many connections');
      return;
    }
    const { framesPerWindow, badFramesPerWindow, windowMs } = this.#limits;
    const conn = new Connection({
      socket,
      ...who,
      now: this.#now(),
      frames: new Budget(framesPerWindow, windowMs),
      badFrames: new Budget(badFramesPerWindow, windowMs),
    });
    this.#connections.add(conn);
    this.#perUser.set(userId, held + 1);
    socket.on('message', (data, isBinary) => this.#onFrame(conn, data, isBinary));
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('close', () => this.#forget(conn));
  }

  /** Pings every socket, closes those that missed the last ping, re-checks idle sessions. */
  heartbeat(): void {
    for (const conn of this.#connections) {
      if (!conn.alive) {
        this.#terminate(conn, 'no answer to ping');
        continue;
      }
      conn.alive = false;
      conn.socket.ping();
      // A session revoked while no event flows still loses its socket.
      this.#enqueue(conn, async () => {
        await this.#freshSession(conn);
      });
    }
  }

  /** Closes every socket (the server seals or stops); clients reconnect. */
  closeAll(reason: string): void {
    for (const conn of [...this.#connections]) this.#end(conn, close.goingAway, reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.closeAll('server shutting down');
    for (const project of this.#projects.values()) project.stop();
    this.#projects.clear();
  }

  /** Open sockets on this node (for tests and metrics). */
  get connections(): number {
    return this.#connections.size;
  }

  // --- frames from the client -------------------------------------------------

  #onFrame(conn: Connection, data: unknown, isBinary: boolean): void {
    if (conn.closed) return;
    if (!conn.frames.take(this.#now())) {
      this.#end(conn, close.policyViolation, 'too many frames');
      return;
    }
    const parsed = parseClientFrame(data, isBinary, this.#limits.maxFrameBytes);
    if ('error' in parsed) {
      this.#badFrame(conn, parsed.error, parsed.message);
      return;
    }
    this.#enqueue(conn, () => this.#handle(conn, parsed.frame));
  }

  async #handle(conn: Connection, frame: RealtimeClientFrame): Promise<void> {
    if (frame.type === 'ping') return this.#send(conn, { type: 'pong' });
    const project = frame.project;
    if (frame.type === 'unsubscribe') {
      this.#unfollow(conn, project);
      return this.#send(conn, { type: 'unsubscribed', project });
    }
    if (conn.subscriptions.has(project)) return this.#send(conn, { type: 'subscribed', project });
    if (conn.subscriptions.size >= this.#limits.maxSubscriptions) {
      return this.#send(conn, {
        type: 'error',
        code: 'rate_limited',
        message: `At most ${this.#limits.maxSubscriptions} subscriptions per connection; unsubscribe first.`,
        project,
      });
    }
    if (!(await this.#mayRead(conn, project)) || conn.closed) return;
    this.#follow(conn, project);
    await this.#bus.flush?.();
    this.#send(conn, { type: 'subscribed', project });
  }

  #badFrame(conn: Connection, code: ErrorCode, message: string): void {
    if (conn.badFrames.take(this.#now())) this.#send(conn, { type: 'error', code, message });
    else this.#end(conn, close.policyViolation, 'too many malformed frames');
  }

  // --- events from the bus ----------------------------------------------------

  #follow(conn: Connection, projectId: string): void {
    let project = this.#projects.get(projectId);
    if (!project) {
      const subject = this.#subject(projectId);
      if (subject === null) throw new BulwarkError('not_initialized');
      const followers = new Set<Connection>();
      const stop = this.#bus.subscribe(subject, (msg) => this.#fanOut(projectId, msg));
      project = { followers, stop };
      this.#projects.set(projectId, project);
    }
    project.followers.add(conn);
  }

  #unfollow(conn: Connection, projectId: string): void {
    conn.subscriptions.delete(projectId);
    const project = this.#projects.get(projectId);
    if (!project) return;
    project.followers.delete(conn);
    if (project.followers.size === 0) {
      project.stop();
      this.#projects.delete(projectId);
    }
  }

  #fanOut(projectId: string, msg: unknown): void {
    const envelope = asEnvelope(msg, projectId);
    if (!envelope) {
      this.#log.warn({ projectId }, 'dropped a malformed live update from the bus');
      return;
    }
    const project = this.#projects.get(projectId);
    if (!project) return;
    // Serialised once for every follower.
    const frame = JSON.stringify({ type: 'event', project: projectId, event: envelope.event });
    const accessChanged = envelope.access === true;
    for (const conn of project.followers) {
      this.#enqueue(conn, () => this.#deliver(conn, projectId, frame, accessChanged));
    }
  }

  async #deliver(conn: Connection, projectId: string, frame: string, force: boolean) {
    const confirmedAt = conn.subscriptions.get(projectId);
    if (confirmedAt === undefined) return;
    if (force || this.#now() - confirmedAt >= this.#limits.recheckMs) {
      if (!(await this.#mayRead(conn, projectId)) || conn.closed) return;
    }
    this.#sendText(conn, frame);
  }

  // --- asking the choke point again ---------------------------------------------

  /** Whether the actor may read the project now; a refusal ends the subscription and says so. */
  async #mayRead(conn: Connection, projectId: string): Promise<boolean> {
    if (!(await this.#freshSession(conn))) return false;
    try {
      await this.#access.readProject(conn.actor, projectId, conn.source);
    } catch (err) {
      if (!(err instanceof BulwarkError)) throw err;
      if (err.code === 'unauthenticated') {
        this.#end(conn, close.sessionEnded, 'session ended');
        return false;
      }
      if (!refusals.has(err.code)) throw err;
      this.#unfollow(conn, projectId);
      // The choke point's own words: a 404 here is the same as for an id never used.
      this.#send(conn, { type: 'error', code: err.code, message: err.message, project: projectId });
      return false;
    }
    conn.subscriptions.set(projectId, this.#now());
    return true;
  }

  /** The session, re-checked when the last check is older than recheckMs; false when the socket closed. */
  async #freshSession(conn: Connection): Promise<boolean> {
    const now = this.#now();
    if (now - conn.sessionCheckedAt < this.#limits.recheckMs) return true;
    let actor: Actor | null;
    try {
      actor = await this.#access.session(conn.token, conn.source);
    } catch (err) {
      if (err instanceof BulwarkError && refusals.has(err.code)) {
        this.#end(conn, close.policyUnsatisfied, 'refused by security policy');
        return false;
      }
      if (err instanceof BulwarkError && err.code === 'unauthenticated') actor = null;
      else throw err;
    }
    if (!actor) {
      this.#end(conn, close.sessionEnded, 'session ended');
      return false;
    }
    conn.actor = actor;
    conn.sessionCheckedAt = now;
    return true;
  }

  // --- sending, queueing, closing -----------------------------------------------

  #enqueue(conn: Connection, task: () => Promise<void>): void {
    if (conn.closed) return;
    if (conn.queued >= this.#limits.maxQueued) {
      this.#terminate(conn, 'too much queued');
      return;
    }
    conn.queued += 1;
    conn.queue = conn.queue
      .then(() => (conn.closed ? undefined : task()))
      .catch((err: unknown) => this.#fail(conn, err))
      .finally(() => {
        conn.queued -= 1;
      });
  }

  #fail(conn: Connection, err: unknown): void {
    if (err instanceof BulwarkError && (err.code === 'sealed' || err.code === 'not_initialized')) {
      this.#end(conn, close.goingAway, 'sealed');
      return;
    }
    this.#log.error({ err, userId: conn.actor.userId }, 'a live-updates socket failed');
    this.#end(conn, close.internalError, 'internal error');
  }

  #send(conn: Connection, frame: RealtimeServerFrame): void {
    this.#sendText(conn, JSON.stringify(frame));
  }

  #sendText(conn: Connection, text: string): void {
    if (conn.closed || conn.socket.readyState !== OPEN) return;
    if (conn.socket.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.#terminate(conn, 'slow consumer');
      return;
    }
    conn.socket.send(text);
  }

  /** A close handshake: the client learns why. */
  #end(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.socket.close(code, reason);
    this.#forget(conn);
  }

  /** No handshake: for a peer that does not read (its buffer is full) or answer. */
  #terminate(conn: Connection, why: string): void {
    if (!conn.closed) this.#log.warn({ userId: conn.actor.userId, why }, 'dropped a live socket');
    conn.closed = true;
    conn.socket.terminate();
    this.#forget(conn);
  }

  #forget(conn: Connection): void {
    conn.closed = true;
    if (!this.#connections.delete(conn)) return;
    const userId = conn.actor.userId;
    const held = (this.#perUser.get(userId) ?? 1) - 1;
    if (held > 0) this.#perUser.set(userId, held);
    else this.#perUser.delete(userId);
    for (const projectId of [...conn.subscriptions.keys()]) this.#unfollow(conn, projectId);
  }
}
