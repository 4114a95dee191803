import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivery } from '@bulwark/protocol';
import {
  backoffMs,
  classifyDelivery,
  failureDisposition,
  keyPackagesToUpload,
  observeKey,
  retryDecision,
  splitHeld,
} from './decisions.ts';
import { type ConversationRecord, emptyConversation } from './device-store.ts';
import { ApiError, TransportError } from './errors.ts';

function record(over: Partial<ConversationRecord> = {}): ConversationRecord {
  return { ...emptyConversation('c'), groupState: 'AQ', epoch: 4, processedSeq: 10, ...over };
}

const content = {
  v: 1 as const,
  id: '0c7c3b4e-1d2a-4f3b-8c9d-0e1f2a3b4c5d',
  sentAt: '2025-01-01T00:00:00.000Z',
  body: { kind: 'text' as const, text: 'hi' },
} as never;

describe('classifyDelivery', () => {
  it('drops what was processed already (at-least-once delivery repeats)', () => {
    assert.equal(
      classifyDelivery(record(), { seq: 10, kind: 'application' }, 'h').action,
      'duplicate',
    );
    assert.equal(classifyDelivery(record(), { seq: 3, kind: 'commit' }, 'h').action, 'duplicate');
    assert.equal(
      classifyDelivery(record(), { seq: 11, kind: 'application' }, 'h').action,
      'process',
    );
  });

  it('holds deliveries until this device is in the group', () => {
    const r = record({ groupState: null, epoch: null, processedSeq: 0 });
    assert.equal(classifyDelivery(r, { seq: 1, kind: 'commit' }, 'h').action, 'hold');
  });

  it('skips everything once removed, but still drops repeats first', () => {
    const r = record({ removed: true, groupState: null });
    assert.equal(classifyDelivery(r, { seq: 11, kind: 'application' }, 'h').action, 'skip');
    assert.equal(classifyDelivery(r, { seq: 9, kind: 'application' }, 'h').action, 'duplicate');
  });

  it('recognises our own commit by its bytes, and only a commit', () => {
    const pendingCommit = {
      hash: 'own',
      groupState: 'AQ',
      epoch: 5,
      added: [],
      removed: [],
    };
    const r = record({ pendingCommit });
    assert.equal(classifyDelivery(r, { seq: 11, kind: 'commit' }, 'own').action, 'own-commit');
    assert.equal(classifyDelivery(r, { seq: 11, kind: 'commit' }, 'other').action, 'process');
    assert.equal(classifyDelivery(r, { seq: 11, kind: 'application' }, 'own').action, 'process');
  });

  it('recognises our own application messages by their bytes', () => {
    const r = record({
      ownSends: [
        { hash: 'a', content },
        { hash: 'b', content },
      ],
    });
    assert.deepEqual(classifyDelivery(r, { seq: 11, kind: 'application' }, 'b'), {
      action: 'own-message',
      index: 1,
    });
    assert.equal(classifyDelivery(r, { seq: 11, kind: 'commit' }, 'b').action, 'process');
    assert.equal(classifyDelivery(r, { seq: 11, kind: 'application' }, 'c').action, 'process');
  });
});

describe('splitHeld', () => {
  it('drops what predates the epoch joined at and keeps the rest in log order', () => {
    const d = (seq: number, epoch: number) => ({ seq, epoch }) as Delivery;
    const { before, after } = splitHeld([d(5, 3), d(3, 2), d(4, 3), d(2, 2)], 3);
    assert.deepEqual(
      before.map((x) => x.seq),
      [2, 3],
    );
    assert.deepEqual(
      after.map((x) => x.seq),
      [4, 5],
    );
  });
});

describe('failureDisposition', () => {
  it('calls a failure from an older epoch undecryptable, a current one out of step', () => {
    assert.equal(failureDisposition(3, 4, new Error('x')), 'undecryptable');
    assert.equal(failureDisposition(4, 4, new Error('x')), 'out-of-step');
    assert.equal(failureDisposition(5, 4, new Error('x')), 'out-of-step');
    assert.equal(failureDisposition(4, 4, { code: 'replayed' }), 'undecryptable');
    assert.equal(failureDisposition(4, 4, { code: 'stale_epoch' }), 'undecryptable');
  });
});

describe('retryDecision', () => {
  it('maps the server’s codes to what to do next', () => {
    const api = (code: string, status = 409) => new ApiError(code, code, status);
    assert.equal(retryDecision(api('epoch_conflict')), 'catch-up');
    assert.equal(retryDecision(api('removal_pending')), 'commit-removals');
    assert.equal(retryDecision(api('conflict')), 'await-welcome');
    assert.equal(retryDecision(api('rate_limited', 429)), 'backoff');
    assert.equal(retryDecision(api('internal', 500)), 'backoff');
    assert.equal(retryDecision(api('forbidden', 403)), 'fail');
    assert.equal(retryDecision(api('device_not_verified', 403)), 'fail');
    assert.equal(retryDecision(new TransportError('down')), 'backoff');
    assert.equal(retryDecision(new Error('bug')), 'fail');
  });

  it('backs off within bounds', () => {
    assert.equal(
      backoffMs(0, () => 1),
      100,
    );
    assert.equal(
      backoffMs(0, () => 0),
      50,
    );
    assert.equal(
      backoffMs(30, () => 1),
      5000,
    );
  });
});

describe('keyPackagesToUpload', () => {
  const policy = { low: 20, batch: 50, max: 200 };
  it('tops up by a batch below the low mark, never above the maximum', () => {
    assert.equal(keyPackagesToUpload(0, policy), 50);
    assert.equal(keyPackagesToUpload(19, policy), 50);
    assert.equal(keyPackagesToUpload(20, policy), 0);
    assert.equal(keyPackagesToUpload(19, { ...policy, max: 30 }), 11);
  });
});

describe('observeKey', () => {
  it('trusts on first use, then reports new devices and changed keys', () => {
    assert.equal(observeKey(undefined, 'd1', 'k1'), 'first-seen-user');
    const known = { d1: { key: 'k1' } };
    assert.equal(observeKey(known, 'd1', 'k1'), 'known');
    assert.equal(observeKey(known, 'd1', 'k2'), 'key-changed');
    assert.equal(observeKey(known, 'd2', 'k3'), 'new-device');
  });
});
