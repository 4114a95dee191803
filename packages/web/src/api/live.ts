/**
 * Live updates: one WebSocket to `/v1/ws` per tab (docs/api.md, "Live
 * updates"), shared by every screen that watches a project. The session
 * cookie authenticates it (same origin; a browser cannot send anything
 * else). Events name what changed, never its content: a screen refetches.
 *
 * After every (re)subscription the watchers get `{type: 'live.resync'}`:
 * events sent while the socket was down are gone, so they fetch again.
 * Reconnects back off exponentially with jitter (1 s … 30 s); a session that
 * ended (4401) or a policy that now refuses it (4403) stops reconnecting and
 * tells the shell.
 */
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { updateAppStatus } from '../app/status.ts';

export interface ProjectEvent {
  type: string;
  /** `issues.changed`: the ids of the issues that changed. */
  issues?: string[];
  fields?: string[];
  code?: string;
  message?: string;
  [key: string]: unknown;
}

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

type Listener = (event: ProjectEvent) => void;

const PING_EVERY_MS = 25_000;
/** No frame at all for this long (the server pings every 30 s): the connection is dead. */
const SILENCE_MS = 70_000;
const MAX_BACKOFF_MS = 30_000;
/** Keep an unused socket open briefly: a page switch resubscribes at once. */
const IDLE_CLOSE_MS = 10_000;

class LiveConnection {
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #stateListeners = new Set<() => void>();
  #socket: WebSocket | null = null;
  #state: LiveState = 'stopped';
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  #lastFrameAt = 0;
  #stopped = false;
  #onlineHooked = false;

  state(): LiveState {
    return this.#state;
  }

  onState(listener: () => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  watch(projectId: string, listener: Listener): () => void {
    let set = this.#listeners.get(projectId);
    const first = !set;
    if (!set) {
      set = new Set();
      this.#listeners.set(projectId, set);
    }
    set.add(listener);
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
    this.#stopped = false;
    if (!this.#socket) this.#connect();
    else if (first) this.#send({ type: 'subscribe', project: projectId });
    return () => {
      const current = this.#listeners.get(projectId);
      if (!current) return;
      current.delete(listener);
      if (current.size > 0) return;
      this.#listeners.delete(projectId);
      this.#send({ type: 'unsubscribe', project: projectId });
      if (this.#listeners.size === 0) {
        this.#idleTimer = setTimeout(() => this.#close(), IDLE_CLOSE_MS);
      }
    };
  }

  #setState(state: LiveState) {
    if (state === this.#state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener();
  }

  #connect() {
    if (typeof WebSocket === 'undefined' || typeof location === 'undefined') return;
    this.#hookOnline();
    const scheme = location.protocol === 'http:' ? 'ws' : 'wss';
    let socket: WebSocket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}/v1/ws`);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    this.#setState(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    socket.addEventListener('open', () => {
      this.#lastFrameAt = Date.now();
      for (const projectId of this.#listeners.keys())
        this.#send({ type: 'subscribe', project: projectId });
      this.#pingTimer = setInterval(() => this.#heartbeat(), PING_EVERY_MS);
    });
    socket.addEventListener('message', (message) => this.#receive(message.data));
    socket.addEventListener('close', (event) => this.#closed(socket, event.code));
    // 'error' is always followed by 'close', where the retry is decided.
  }

  #receive(data: unknown) {
    this.#lastFrameAt = Date.now();
    if (typeof data !== 'string') return;
    let frame: {
      type?: string;
      project?: string;
      event?: ProjectEvent;
      code?: string;
      message?: string;
    };
    try {
      frame = JSON.parse(data) as typeof frame;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'subscribed':
        this.#attempt = 0;
        this.#setState('live');
        if (frame.project) this.#emit(frame.project, { type: 'live.resync' });
        break;
      case 'event':
        if (frame.project && frame.event && typeof frame.event.type === 'string')
          this.#emit(frame.project, frame.event);
        break;
      case 'error':
        if (frame.project)
          this.#emit(frame.project, {
            type: 'live.error',
            ...(frame.code ? { code: frame.code } : {}),
            ...(frame.message ? { message: frame.message } : {}),
          });
        break;
      default:
        break;
    }
  }

  #emit(projectId: string, event: ProjectEvent) {
    for (const listener of this.#listeners.get(projectId) ?? []) {
      try {
        listener(event);
      } catch (error) {
        console.error('live update listener failed', error);
      }
    }
  }

  #heartbeat() {
    if (Date.now() - this.#lastFrameAt > SILENCE_MS) {
      this.#socket?.close(4000, 'no answer');
      return;
    }
    this.#send({ type: 'ping' });
  }

  #send(frame: Record<string, unknown>) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(frame));
  }

  #closed(socket: WebSocket, code: number) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    if (code === 4401) {
      updateAppStatus({ sessionEnded: true });
      this.#stopped = true;
    } else if (code === 4403) {
      updateAppStatus({
        policyMessage: 'Your session no longer satisfies your organisation’s security policy.',
      });
      this.#stopped = true;
    }
    if (this.#stopped || this.#listeners.size === 0) {
      this.#setState('stopped');
      return;
    }
    // 1013: too many sockets of this account on this node; wait longer.
    this.#scheduleRetry(code === 1013 ? 4 : 0);
  }

  #scheduleRetry(extraSteps = 0) {
    this.#setState('reconnecting');
    this.#attempt += 1;
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.#attempt - 1 + extraSteps));
    const delay = base / 2 + Math.random() * (base / 2);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#socket && this.#listeners.size > 0 && !this.#stopped) this.#connect();
    }, delay);
  }

  #hookOnline() {
    if (this.#onlineHooked || typeof window === 'undefined') return;
    this.#onlineHooked = true;
    // Back online: try now rather than at the end of a long backoff.
    window.addEventListener('online', () => {
      if (this.#socket || this.#listeners.size === 0 || this.#stopped) return;
      if (this.#retryTimer) clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#connect();
    });
  }

  #close() {
    this.#idleTimer = null;
    if (this.#listeners.size > 0) return;
    const socket = this.#socket;
    this.#socket = null;
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#attempt = 0;
    socket?.close(1000, 'no more watchers');
    this.#setState('stopped');
  }
}

const connection = new LiveConnection();

/**
 * Calls `onEvent` for every live event of the project while mounted:
 * `issues.changed` (`issues`: ids), `board.changed`, `project.updated`, …,
 * plus `live.resync` after each (re)subscription and `live.error` when the
 * server refused the subscription.
 */
export function useProjectEvents(
  projectId: string | null,
  onEvent: (event: ProjectEvent) => void,
): void {
  const ref = useRef(onEvent);
  ref.current = onEvent;
  useEffect(() => {
    if (!projectId) return;
    return connection.watch(projectId, (event) => ref.current(event));
  }, [projectId]);
}

/** Whether live updates are flowing, for a small indicator. */
export function useLiveState(): LiveState {
  return useSyncExternalStore(
    (listener) => connection.onState(listener),
    () => connection.state(),
    () => 'stopped' as LiveState,
  );
}
