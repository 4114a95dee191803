import type { MessageBody, MessageId } from '@bulwark/crypto';
import type { Delivery, WelcomeDelivery } from '@bulwark/protocol';
import {
  ChatError,
  type ConversationContext,
  type ConversationDeps,
  ConversationState,
} from './conversation-state.ts';
import type { ConversationRecord } from './device-store.ts';
import { ApiError } from './errors.ts';
import { reconcileGroup, updateOwnKeys } from './group-work.ts';
import { processDelivery, processWelcome } from './incoming.ts';
import { sendMessage } from './sending.ts';
import { addNotice, type NoticeKind, type Timeline } from './timeline.ts';

export { ChatError, type ConversationDeps };

/**
 * One conversation on this device. Everything that reads or changes its
 * group state runs on one promise chain, strictly in order: deliveries,
 * Welcomes, commits we make and messages we send. MLS state is a chain of
 * epochs and ratchets; two tasks interleaving on it would fork it. The work
 * itself is in incoming.ts, group-work.ts and sending.ts, as functions of a
 * ConversationContext that assume they run on the chain.
 */
export class Conversation {
  readonly id: string;
  readonly #deps: ConversationDeps;
  readonly #state: ConversationState;
  readonly #cx: ConversationContext;
  #chain: Promise<unknown> = Promise.resolve();
  #reconcileQueued = false;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(id: string, deps: ConversationDeps) {
    this.id = id;
    this.#deps = deps;
    this.#state = new ConversationState(id, deps);
    this.#cx = {
      id,
      deps,
      state: this.#state,
      queueReconcile: () => {
        this.reconcile().catch((err: unknown) => this.#reportError(err));
      },
      later: (ms) => this.#later(ms),
      reportError: (err) => this.#reportError(err),
    };
  }

  /** Runs `task` after everything queued before it; a failure does not break the chain. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(task);
    this.#chain = result.catch(() => {});
    return result;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.run(async () => {});
  }

  deliver(delivery: Delivery): Promise<void> {
    return this.run(() => processDelivery(this.#cx, delivery));
  }

  welcome(welcome: WelcomeDelivery): Promise<void> {
    return this.run(() => processWelcome(this.#cx, welcome));
  }

  /**
   * Fetch the view and do what it asks (establish, add the missing, commit
   * removals). Coalesced. `immediate` skips the stagger (see reconcileGroup).
   */
  reconcile(immediate = false): Promise<void> {
    if (this.#reconcileQueued && !immediate) return this.idle();
    this.#reconcileQueued = true;
    return this.run(async () => {
      this.#reconcileQueued = false;
      await reconcileGroup(this.#cx, immediate);
    });
  }

  /** Commits fresh keys for this device (post-compromise security); resolves with the new epoch. */
  updateKeys(): Promise<number> {
    return this.run(() => updateOwnKeys(this.#cx));
  }

  send(
    body: MessageBody,
    messageId?: MessageId,
  ): Promise<{ messageId: string; seq: number | null }> {
    return this.run(() => sendMessage(this.#cx, body, messageId));
  }

  notice(
    kind: NoticeKind,
    text: string,
    who: { userId?: string; deviceId?: string },
  ): Promise<void> {
    return this.run(async () => {
      const timeline = await this.#state.loadTimeline();
      addNotice(timeline, { kind, seq: null, at: this.#deps.now().toISOString(), text, ...who });
      await this.#deps.store.saveTimeline(this.id, timeline);
    });
  }

  /** A consistent copy of what is stored (after everything queued so far). */
  snapshot(): Promise<{ record: ConversationRecord; timeline: Timeline }> {
    return this.run(async () => ({
      record: structuredClone(await this.#state.load()),
      timeline: structuredClone(await this.#state.loadTimeline()),
    }));
  }

  /** Stops the timers of staggered work (the client is closing). */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #later(ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.reconcile(true).catch((err: unknown) => this.#reportError(err));
    }, ms);
    (timer as { unref?: () => void }).unref?.();
    this.#timers.add(timer);
  }

  #reportError(err: unknown): void {
    this.#deps.events.emit({
      type: 'error',
      conversation: this.id,
      code: err instanceof ApiError || err instanceof ChatError ? err.code : 'internal',
      message: (err as Error).message,
      fatal: false,
    });
  }
}
