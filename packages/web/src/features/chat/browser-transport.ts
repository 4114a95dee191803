/**
 * The browser's seams for `@bulwark/chat`: HTTP over `fetch` and the device
 * socket over `WebSocket`, both same-origin with the session cookie (a
 * browser never holds a bearer token in script reach).
 */
import { type FetchLike, TransportError, type WsFactory, type WsLike } from '@bulwark/chat';
import { updateAppStatus } from '../../app/status.ts';

/** `fetch` with the session cookie; a failure to reach the server becomes a TransportError. */
export const browserFetch: FetchLike = async (url, init) => {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: (init.body as Uint8Array<ArrayBuffer> | undefined) ?? null,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (error) {
    updateAppStatus({ connectivity: 'offline' });
    throw new TransportError(
      `The server could not be reached (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
  updateAppStatus({ connectivity: 'online' });
  if (response.status === 401) updateAppStatus({ sessionEnded: true });
  return { status: response.status, arrayBuffer: () => response.arrayBuffer() };
};

type Listener = (...args: never[]) => void;

/**
 * The browser `WebSocket` in the shape the core drives (the `ws` package's).
 * Headers cannot be set: the same-origin cookie authenticates the upgrade. A
 * refused upgrade is not visible to scripts; it shows as a close (1006), and
 * the core backs off and retries.
 */
export const browserWsFactory: WsFactory = (url) => {
  const ws = new WebSocket(url);
  const listeners = new Map<string, Listener[]>();
  const emit = (event: string, ...args: unknown[]) => {
    for (const l of listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args);
  };
  ws.addEventListener('open', () => emit('open'));
  ws.addEventListener('message', (e: MessageEvent) => {
    if (typeof e.data === 'string') emit('message', e.data, false);
  });
  ws.addEventListener('error', () => emit('error', new Error('the device socket failed')));
  ws.addEventListener('close', (e: CloseEvent) => emit('close', e.code, e.reason));
  const like = {
    get readyState() {
      return ws.readyState;
    },
    send: (data: string) => ws.send(data),
    close: (code?: number, reason?: string) => ws.close(code, reason),
    terminate: () => ws.close(),
    on(event: string, listener: Listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
      return like;
    },
  };
  return like as WsLike;
};
