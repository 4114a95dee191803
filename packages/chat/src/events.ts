import type { MessageContent } from '@bulwark/crypto';
import type { Member } from './device-store.ts';
import type { TimelineChange } from './timeline.ts';

export type ChatEvent =
  /** The socket is up and the server named the device it serves. */
  | { type: 'ready'; deviceId: string }
  | {
      type: 'message';
      conversation: string;
      /** Null for our own send when the server's answer gave no position. */
      seq: number | null;
      sender: Member;
      content: MessageContent;
      /** What it did to the timeline: a new message, or an edit, deletion or reaction. */
      change: Exclude<TimelineChange['kind'], 'duplicate' | 'ignored'>;
      own: boolean;
    }
  | {
      type: 'membership';
      conversation: string;
      epoch: number;
      added: Member[];
      removed: Member[];
      /** This device was removed: the conversation is read-only from now on. */
      selfRemoved: boolean;
    }
  /** This device entered the group (created it, or a Welcome). */
  | { type: 'joined'; conversation: string; epoch: number }
  /** A delivery was processed and stored (tests wait on these to know a catch-up is done). */
  | { type: 'processed'; conversation: string; seq: number }
  | {
      type: 'warning';
      conversation: string | null;
      kind: WarningKind;
      message: string;
      userId?: string;
      deviceId?: string;
    }
  | { type: 'error'; conversation: string | null; code: string; message: string; fatal: boolean }
  | { type: 'disconnected'; retryInMs: number; detail: string };

export type WarningKind =
  | 'key-changed'
  | 'new-device'
  | 'undecryptable'
  | 'ignored-content'
  | 'key-packages-exhausted'
  | 'device-pending'
  | 'malformed-frame';

export type ChatListener = (event: ChatEvent) => void;

/** The client's events: listeners, a wait with a timeout, and an async iterator. */
export class ChatEvents {
  readonly #listeners = new Set<ChatListener>();

  on(listener: ChatListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ChatEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not stop the processing of deliveries.
      }
    }
  }

  /** The next event matching `match` (events already emitted do not count). */
  waitFor<E extends ChatEvent>(
    match: (event: ChatEvent) => event is E,
    timeoutMs: number,
  ): Promise<E>;
  waitFor(match: (event: ChatEvent) => boolean, timeoutMs: number): Promise<ChatEvent>;
  waitFor(match: (event: ChatEvent) => boolean, timeoutMs: number): Promise<ChatEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching chat event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((event) => {
        if (!match(event)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  /**
   * Resolves once `condition` holds: checked now and after every event
   * (e.g. "this device has 50 messages in its timeline").
   */
  waitUntil(
    condition: () => boolean | Promise<boolean>,
    timeoutMs: number,
    describe = 'the condition',
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let checking = false;
      let again = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        off();
        if (err === undefined) resolve();
        else reject(err);
      };
      const check = async () => {
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            if (await condition()) return finish();
          } while (again && !settled);
        } catch (err) {
          finish(err);
        } finally {
          checking = false;
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`${describe} did not hold within ${timeoutMs} ms`)),
        timeoutMs,
      );
      // Listening before the first check: an event during that check is not missed.
      const off = this.on(() => void check());
      void check();
    });
  }

  /** Every event from now on, until the consumer stops iterating (or `signal` aborts). */
  async *stream(signal?: AbortSignal): AsyncGenerator<ChatEvent> {
    const queue: ChatEvent[] = [];
    let wake: (() => void) | null = null;
    const off = this.on((event) => {
      queue.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      off();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
