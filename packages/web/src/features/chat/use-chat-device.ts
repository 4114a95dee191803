/**
 * This browser as a messaging device: one `MessagingClient` of
 * `@bulwark/chat` on the vault-backed store, the browser's fetch and
 * WebSocket. Runs from the first visit to chat (or a queued message) until
 * the vault locks; only one tab of a browser profile may run it (two would encrypt with the same ratchet state
 * and fork the group), which a Web Lock enforces.
 */
import './no-eval.ts';
import {
  ApiError as ChatApiError,
  ChatError,
  type ChatEvent,
  createCryptoEngine,
  type DeviceInfo,
  MessagingClient,
  TransportError,
} from '@bulwark/chat';
import { useEffect, useSyncExternalStore } from 'react';
import { NetworkError } from '../../api/client.ts';
import { flushOutbox, type OutboxItem, registerSender } from '../../offline/outbox.ts';
import {
  openVaultUserId,
  subscribeVault,
  useVaultState,
  VaultLockedError,
  vaultState,
} from '../../offline/vault.ts';
import { browserFetch, browserWsFactory } from './browser-transport.ts';
import { browserDeviceName } from './device-name.ts';
import { VaultDeviceStore } from './vault-device-store.ts';

export type ChatDevice =
  | { phase: 'locked' }
  | { phase: 'other-tab' }
  | { phase: 'starting' }
  | { phase: 'failed'; error: unknown; retry: () => void }
  | {
      phase: 'ready';
      client: MessagingClient;
      device: DeviceInfo;
      /** The socket: live, reconnecting, or refused for good. */
      connection: 'connecting' | 'live' | 'reconnecting' | 'stopped';
      connectionDetail: string | null;
      /** Checks again whether the device was verified meanwhile. */
      recheck: () => void;
    };

const lockName = 'bulwark-chat-device';

/** Waits a little for the lock: a reload (or React's strict re-mount) frees it a moment later. */
async function holdLock(released: Promise<void>): Promise<boolean> {
  if (!('locks' in navigator)) return true;
  for (let attempt = 0; attempt < 6; attempt++) {
    const got = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(lockName, { ifAvailable: true }, async (lock) => {
        resolve(lock !== null);
        if (lock) await released;
      });
    });
    if (got) return true;
    await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
  }
  return false;
}

/**
 * The device runs for the whole signed-in session, not just while the chat
 * page is open: navigating away and back (even offline) keeps its state,
 * and messages queued offline are sent when the connection returns,
 * whatever screen is open. It stops when the vault locks (sign-out, reload).
 */
let state: ChatDevice = { phase: 'locked' };
let running: { userId: string; stop: () => void } | null = null;
let wanted = false;
const listeners = new Set<() => void>();

function setDeviceState(next: ChatDevice): void {
  state = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Follow the vault: a locked vault stops the device; reopening starts it again if wanted. */
subscribeVault(() => {
  const userId = openVaultUserId();
  if (running && running.userId !== userId) stopChatDevice();
  if (wanted && userId && !running) startChatDevice();
  if (!userId && state.phase !== 'locked') setDeviceState({ phase: 'locked' });
});

export function stopChatDevice(): void {
  running?.stop();
  running = null;
}

/** Start this browser's device (idempotent). The shell calls it when chat messages wait in the outbox. */
export function startChatDevice(): void {
  wanted = true;
  const userId = openVaultUserId();
  if (vaultState() !== 'open' || !userId) {
    setDeviceState({ phase: 'locked' });
    return;
  }
  if (running) return;
  let stopped = false;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let client: MessagingClient | null = null;
  let unregister: () => void = () => {};
  const retry = () => {
    stopChatDevice();
    startChatDevice();
  };
  running = {
    userId,
    stop: () => {
      stopped = true;
      unregister();
      const c = client;
      void (c ? c.close().catch(() => {}) : Promise.resolve()).finally(release);
    },
  };
  setDeviceState({ phase: 'starting' });

  void (async () => {
    if (!(await holdLock(released))) {
      if (!stopped) setDeviceState({ phase: 'other-tab' });
      return;
    }
    if (stopped) return;
    const c = new MessagingClient({
      baseUrl: `${window.location.origin}/`,
      store: new VaultDeviceStore(),
      fetchImpl: browserFetch,
      wsFactory: browserWsFactory,
      engine: createCryptoEngine(),
    });
    client = c;
    try {
      const device = await c.ensureDevice(browserDeviceName());
      if (stopped) return;
      let ready: Extract<ChatDevice, { phase: 'ready' }> = {
        phase: 'ready',
        client: c,
        device,
        connection: 'connecting',
        connectionDetail: null,
        recheck: retry,
      };
      const update = (change: Partial<typeof ready>) => {
        ready = { ...ready, ...change };
        if (!stopped) setDeviceState(ready);
      };
      update({});
      c.on((event: ChatEvent) => {
        if (event.type === 'ready') {
          update({ connection: 'live', connectionDetail: null });
          void flushOutbox();
        } else if (event.type === 'disconnected') {
          update({ connection: 'reconnecting', connectionDetail: event.detail });
        } else if (event.type === 'error' && event.fatal) {
          update({ connection: 'stopped', connectionDetail: event.message });
        }
      });
      unregister = registerSender('chat.message', (item) => sendQueued(c, item));
      await c.connect({ timeoutMs: 30_000 }).catch(() => {
        // Reported through the events above; the socket keeps retrying unless refused.
      });
    } catch (error) {
      if (stopped) return;
      // Not started: free the client and the lock; a later call (or the retry button) tries again.
      running?.stop();
      running = null;
      setDeviceState({
        phase: error instanceof VaultLockedError ? 'locked' : 'failed',
        error,
        retry,
      } as ChatDevice);
    }
  })();
}

export function useChatDevice(): ChatDevice {
  const vault = useVaultState();
  useEffect(() => {
    if (vault === 'open') startChatDevice();
  }, [vault]);
  return useSyncExternalStore(
    subscribe,
    () => state,
    () => state,
  );
}

/**
 * The outbox's sender for messages written offline: encrypts and sends
 * through the core. Failures to reach the server (or a group not joined yet)
 * are thrown as NetworkError, so the outbox keeps the item and retries; a
 * refusal by the server is final.
 */
async function sendQueued(
  client: MessagingClient,
  item: OutboxItem,
): Promise<{ status: 'sent' } | { status: 'failed'; message: string }> {
  const payload = item.payload as { conversationId?: unknown; text?: unknown };
  if (typeof payload.conversationId !== 'string' || typeof payload.text !== 'string') {
    return { status: 'failed', message: 'This queued message is unreadable.' };
  }
  try {
    // The item's id as the message id: a resend after a crash is dropped by every timeline.
    await client.send(payload.conversationId, payload.text, 30_000, item.id);
    return { status: 'sent' };
  } catch (error) {
    if (isRetryable(error)) throw new NetworkError(error);
    return { status: 'failed', message: error instanceof Error ? error.message : String(error) };
  }
}

/** Worth trying again later: the network, or a group this device is not added to yet. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof TransportError) return true;
  if (error instanceof ChatError)
    return (
      error.code === 'not_joined' || error.code === 'timeout' || error.code === 'device_required'
    );
  if (error instanceof ChatApiError) return error.httpStatus >= 500 || error.code === 'sealed';
  return false;
}
