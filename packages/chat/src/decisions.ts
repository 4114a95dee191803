import type { Delivery } from '@bulwark/protocol';
import type { ConversationRecord } from './device-store.ts';
import { ApiError, TransportError } from './errors.ts';
import { engineErrorCode } from './mls-engine.ts';

/**
 * The client's decisions as pure functions of what it knows, so the rules
 * (what is a repeat, what is our own echo, when to retry) are tested
 * without a server or an MLS engine.
 */

export type DeliveryAction =
  /** At or below the processed position: a redelivery (at-least-once). Ack again, do nothing. */
  | { action: 'duplicate' }
  /** This device is not in the group yet: hold it until the Welcome arrives. */
  | { action: 'hold' }
  /** The group was left or lost: nothing can be decrypted any more. */
  | { action: 'skip' }
  /** Our own commit coming back in order: adopt the state we computed when we made it. */
  | { action: 'own-commit' }
  /** Our own application message coming back (a sender cannot decrypt its own PrivateMessage). */
  | { action: 'own-message'; index: number }
  | { action: 'process' };

export function classifyDelivery(
  record: ConversationRecord,
  delivery: Pick<Delivery, 'seq' | 'kind'>,
  dataHash: string,
): DeliveryAction {
  if (delivery.seq <= record.processedSeq) return { action: 'duplicate' };
  if (record.removed) return { action: 'skip' };
  if (record.groupState === null) return { action: 'hold' };
  if (delivery.kind === 'commit' && record.pendingCommit?.hash === dataHash) {
    return { action: 'own-commit' };
  }
  if (delivery.kind === 'application') {
    const index = record.ownSends.findIndex((s) => s.hash === dataHash);
    if (index >= 0) return { action: 'own-message', index };
  }
  return { action: 'process' };
}

/** Held deliveries once the Welcome put us in the group at `joinedEpoch`: older ones were never ours. */
export function splitHeld(
  held: Delivery[],
  joinedEpoch: number,
): { before: Delivery[]; after: Delivery[] } {
  const sorted = [...held].sort((a, b) => a.seq - b.seq);
  return {
    before: sorted.filter((d) => d.epoch < joinedEpoch),
    after: sorted.filter((d) => d.epoch >= joinedEpoch),
  };
}

/**
 * A delivery that failed to process. From an older epoch than ours (keys
 * gone, or sent before we joined) it is an expected loss: a timeline
 * notice. At or after our epoch it means we are out of step: still a
 * notice, so the conversation keeps moving, but reported as an error too.
 */
export function failureDisposition(
  deliveryEpoch: number,
  localEpoch: number | null,
  err: unknown,
): 'undecryptable' | 'out-of-step' {
  if (localEpoch !== null && deliveryEpoch < localEpoch) return 'undecryptable';
  const code = engineErrorCode(err);
  if (code === 'stale_epoch' || code === 'replayed') return 'undecryptable';
  return 'out-of-step';
}

export type RetryDecision =
  /** Another commit won: process what we have not seen, rebuild, post again. */
  | 'catch-up'
  /** The server holds removals no one committed yet: commit them, then post again. */
  | 'commit-removals'
  /** The group exists already (someone else established it): wait for a Welcome. */
  | 'await-welcome'
  /** Temporary trouble (network, rate limit, server restarting): wait and try again. */
  | 'backoff'
  | 'fail';

export function retryDecision(err: unknown): RetryDecision {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'epoch_conflict':
        return 'catch-up';
      case 'removal_pending':
        return 'commit-removals';
      case 'conflict':
        return 'await-welcome';
      case 'rate_limited':
      case 'storage_unavailable':
      case 'sealed':
        return 'backoff';
      default:
        return err.httpStatus >= 500 ? 'backoff' : 'fail';
    }
  }
  if (err instanceof TransportError) return 'backoff';
  return 'fail';
}

/** How many times send and commit rebuild after losing a race before giving up. */
export const maxAttempts = 6;

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.round(Math.min(5_000, 100 * 2 ** attempt) * (0.5 + random() / 2));
}

/** Key packages: keep at least `low` on the server, topping up by `batch` (docs: ≥ 20, 50). */
export function keyPackagesToUpload(
  available: number,
  opts: { low: number; batch: number; max: number },
): number {
  if (available >= opts.low) return 0;
  return Math.max(0, Math.min(opts.batch, opts.max - available));
}

/** What a known-keys check found for one of a user's devices. */
export type KeyObservation = 'first-seen-user' | 'known' | 'new-device' | 'key-changed';

export function observeKey(
  known: Record<string, { key: string }> | undefined,
  deviceId: string,
  key: string,
): KeyObservation {
  if (known === undefined) return 'first-seen-user';
  const previous = known[deviceId];
  if (previous === undefined) return 'new-device';
  return previous.key === key ? 'known' : 'key-changed';
}
