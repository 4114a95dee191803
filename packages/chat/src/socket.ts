import {
  type MessagingClientFrame,
  type MessagingServerFrame,
  messagingCloseCodes,
} from '@bulwark/protocol';
import { encodeClientFrame, parseServerFrame } from './frames.ts';

/**
 * The socket the client drives, in the shape of the `ws` package's client
 * (the CLI's); the browser adapts its `WebSocket` to it. Message data and
 * close reasons are bytes (ws hands out Buffers) or text (browsers).
 */
export interface WsLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'open', listener: () => void): unknown;
  on(event: 'message', listener: (data: Uint8Array | string, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Uint8Array | string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  /** The upgrade was refused with an HTTP answer (browsers cannot tell; they report a close). */
  on(
    event: 'unexpected-response',
    listener: (req: { destroy(): void }, res: { statusCode?: number | undefined }) => void,
  ): unknown;
}

/**
 * Opens the device socket: the seam for the platform's WebSocket. `headers`
 * carries the bearer session where there is one; a browser cannot set
 * headers and relies on the same-origin session cookie instead.
 */
export type WsFactory = (url: string, opts: { headers: Record<string, string> }) => WsLike;

const OPEN = 1;

const decoder = new TextDecoder();
function text(data: Uint8Array | string): string {
  return typeof data === 'string' ? data : decoder.decode(data);
}

/** Close codes after which reconnecting cannot help: the device or session is gone. */
export const sessionEndedCloseCode = 4401;

export type CloseDisposition =
  | { action: 'reconnect' }
  | {
      action: 'stop';
      code: 'unauthenticated' | 'device_required' | 'device_revoked';
      message: string;
    };

export function closeDisposition(code: number): CloseDisposition {
  switch (code) {
    case sessionEndedCloseCode:
      return {
        action: 'stop',
        code: 'unauthenticated',
        message: 'the session ended (logged out or expired): log in again',
      };
    case messagingCloseCodes.deviceRequired:
      return {
        action: 'stop',
        code: 'device_required',
        message: 'this session is not bound to a messaging device',
      };
    case messagingCloseCodes.deviceRevoked:
      return { action: 'stop', code: 'device_revoked', message: 'this device was revoked' };
    default:
      return { action: 'reconnect' };
  }
}

/** Refusals of the upgrade itself (HTTP before the socket): which ones are final. */
export function refusalDisposition(status: number): CloseDisposition {
  if (status === 401) return closeDisposition(sessionEndedCloseCode);
  if (status === 403 || status === 409) {
    return {
      action: 'stop',
      code: 'device_required',
      message: `the server refused the device socket (HTTP ${status}): is the device bound and verified?`,
    };
  }
  return { action: 'reconnect' };
}

/** Exponential backoff with jitter (0.5–1× the step), capped: many clients do not return in step. */
export function reconnectDelay(
  attempt: number,
  random: () => number = Math.random,
  initialMs = 500,
  maxMs = 30_000,
): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 16));
  return Math.round(step * (0.5 + random() / 2));
}

export interface SocketHandlers {
  frame(frame: MessagingServerFrame): void;
  /** A frame the client could not read: reported, not fatal. */
  malformed(reason: string): void;
  /** The socket will not reconnect. */
  stopped(reason: Extract<CloseDisposition, { action: 'stop' }>): void;
  /** Disconnected; reconnecting after `delayMs`. */
  disconnected(delayMs: number, detail: string): void;
}

export interface DeviceSocketOptions {
  baseUrl: URL;
  /** A bearer session token; absent where the platform sends a session cookie. */
  token?: string;
  handlers: SocketHandlers;
  wsFactory: WsFactory;
  pingIntervalMs?: number;
  random?: () => number;
}

/**
 * The device socket (GET /v1/messaging/ws) with its housekeeping: an
 * application ping every 20 s (a silent proxy dropping the connection is
 * noticed after two unanswered pings), reconnection with backoff, and the
 * close codes after which it stops.
 */
export class DeviceSocket {
  readonly #opts: DeviceSocketOptions;
  readonly #factory: WsFactory;
  #ws: WsLike | null = null;
  #attempt = 0;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #pinger: ReturnType<typeof setInterval> | null = null;
  #unanswered = 0;

  constructor(opts: DeviceSocketOptions) {
    this.#opts = opts;
    this.#factory = opts.wsFactory;
  }

  get open(): boolean {
    return this.#ws?.readyState === OPEN;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  /** false when the socket is not open (the frame is not queued: acks are resent on reconnect anyway). */
  send(frame: MessagingClientFrame): boolean {
    if (!this.#ws || this.#ws.readyState !== OPEN) return false;
    this.#ws.send(encodeClientFrame(frame));
    return true;
  }

  /** The server said `ready`: the connection works, so the next drop starts backing off from zero. */
  markReady(): void {
    this.#attempt = 0;
  }

  close(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#stopPinging();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      try {
        ws.close(1000, 'client closing');
      } catch {
        ws.terminate();
      }
    }
  }

  #connect(): void {
    const url = new URL('v1/messaging/ws', this.#opts.baseUrl);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    const token = this.#opts.token;
    const ws = this.#factory(url.toString(), {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    this.#ws = ws;
    let finished = false;
    const finish = (disposition: CloseDisposition, detail: string) => {
      if (finished || this.#ws !== ws) return;
      finished = true;
      this.#ws = null;
      this.#stopPinging();
      if (this.#stopped) return;
      if (disposition.action === 'stop') {
        this.#stopped = true;
        this.#opts.handlers.stopped(disposition);
        return;
      }
      const delay = reconnectDelay(this.#attempt++, this.#opts.random);
      this.#opts.handlers.disconnected(delay, detail);
      this.#timer = setTimeout(() => {
        this.#timer = null;
        if (!this.#stopped) this.#connect();
      }, delay);
    };
    ws.on('open', () => this.#startPinging(ws));
    ws.on('message', (data) => {
      const parsed = parseServerFrame(text(data));
      if (!parsed.ok) {
        this.#opts.handlers.malformed(parsed.reason);
        return;
      }
      if (parsed.frame.type === 'pong') this.#unanswered = 0;
      this.#opts.handlers.frame(parsed.frame);
    });
    ws.on('unexpected-response', (req, res) => {
      req.destroy();
      finish(refusalDisposition(res.statusCode ?? 0), `HTTP ${res.statusCode ?? '?'}`);
    });
    ws.on('error', (err) => finish({ action: 'reconnect' }, err.message));
    ws.on('close', (code, reason) =>
      finish(closeDisposition(code), `closed ${code} ${text(reason)}`.trim()),
    );
  }

  #startPinging(ws: WsLike): void {
    this.#stopPinging();
    this.#unanswered = 0;
    this.#pinger = setInterval(() => {
      if (this.#unanswered >= 2) {
        ws.terminate();
        return;
      }
      this.#unanswered += 1;
      if (ws.readyState === OPEN) ws.send(encodeClientFrame({ type: 'ping' }));
    }, this.#opts.pingIntervalMs ?? 20_000);
    // Node: the pinger alone must not keep a process alive (browsers return a number).
    (this.#pinger as { unref?: () => void }).unref?.();
  }

  #stopPinging(): void {
    if (this.#pinger) clearInterval(this.#pinger);
    this.#pinger = null;
  }
}
