import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ApiError, NetworkError } from '../api/client.ts';
import { updateAppStatus } from '../app/status.ts';
import {
  configureOutbox,
  discardItem,
  enqueue,
  flushOutbox,
  loadOutbox,
  type OutboxItem,
  type OutboxSender,
  outboxItems,
  registerSender,
  retryItem,
  type SendOutcome,
  stopOutbox,
} from './outbox.ts';
import { secret } from './test-support.ts';
import { closeVault, openVaultWithPrf, VaultLockedError, vault } from './vault.ts';

let counter = 0;
let user = '';
const timers: { run: () => void; ms: number; cleared: boolean }[] = [];
const unregister: (() => void)[] = [];

function useSender(kind: OutboxItem['kind'], sender: OutboxSender): void {
  unregister.push(registerSender(kind, sender));
}

/** A sender that records what it was given and answers from a script (then 'sent'). */
function recorder(script: (item: OutboxItem, call: number) => SendOutcome | Error | undefined) {
  const sent: string[] = [];
  let calls = 0;
  const sender: OutboxSender = async (item) => {
    const answer = script(item, calls++);
    if (answer instanceof Error) throw answer;
    if (answer && answer.status !== 'sent') return answer;
    sent.push(item.label);
    return { status: 'sent' };
  };
  return { sent, sender, calls: () => calls };
}

const item = (label: string, scope = 'project-1') => ({
  kind: 'board.ops' as const,
  scope,
  label,
  payload: { label },
});

beforeEach(async () => {
  user = `outbox-user-${process.pid}-${++counter}`;
  timers.length = 0;
  configureOutbox({
    clock: {
      setTimeout: (run, ms) => {
        const timer = { run, ms, cleared: false };
        timers.push(timer);
        return timer;
      },
      clearTimeout: (handle) => {
        (handle as { cleared: boolean }).cleared = true;
      },
      random: () => 0.5,
    },
  });
  await openVaultWithPrf(user, 'cred-1', secret(1));
  await loadOutbox();
});

afterEach(() => {
  for (const off of unregister.splice(0)) off();
  stopOutbox();
  closeVault();
  updateAppStatus({ connectivity: 'online', sealed: false, sessionEnded: false });
});

const storedIds = async () => (await vault.list('outbox:')).length;

describe('outbox', () => {
  test('delivers in creation order and removes what was sent', async () => {
    const { sent, sender } = recorder(() => undefined);
    for (const label of ['a', 'b', 'c', 'd']) await enqueue(item(label));
    assert.equal(outboxItems().length, 4);
    useSender('board.ops', sender);
    await flushOutbox();
    assert.deepEqual(sent, ['a', 'b', 'c', 'd']);
    assert.equal(outboxItems().length, 0);
    assert.equal(await storedIds(), 0);
  });

  test('enqueue persists before resolving and starts a flush', async () => {
    const { sent, sender } = recorder(() => undefined);
    useSender('board.ops', sender);
    const queued = await enqueue(item('x'));
    assert.equal(queued.state, 'queued');
    await flushOutbox();
    assert.deepEqual(sent, ['x']);
  });

  test('an item survives a NetworkError, backs off, and is sent on the next flush', async () => {
    const { sent, sender } = recorder((_item, call) =>
      call === 0 ? new NetworkError(new TypeError('fetch failed')) : undefined,
    );
    await enqueue(item('first'));
    await enqueue(item('second'));
    useSender('board.ops', sender);
    await flushOutbox();
    assert.deepEqual(sent, []);
    assert.equal(outboxItems().length, 2);
    assert.equal(outboxItems()[0]?.state, 'queued');
    assert.equal(outboxItems()[0]?.attempts, 1);
    assert.equal(await storedIds(), 2);
    const retry = timers.find((t) => !t.cleared);
    assert.equal(retry?.ms, 1000);
    retry?.run();
    await flushOutbox();
    assert.deepEqual(sent, ['first', 'second']);
    assert.equal(await storedIds(), 0);
  });

  test('back-off doubles on transient server answers and stops at 60 s', async () => {
    const failures = [
      new ApiError(503, 'sealed', 'sealed'),
      new ApiError(429, 'rate_limited', 'slow down'),
      new ApiError(502, 'http_502', 'bad gateway'),
      new ApiError(401, 'unauthenticated', 'signed out'),
    ];
    const { sender, calls } = recorder((_item, call) => failures[call % failures.length]);
    useSender('board.ops', sender);
    await enqueue(item('a'));
    for (let i = 0; i < 8; i++) await flushOutbox();
    const delays = timers.map((t) => t.ms);
    assert.deepEqual(delays.slice(0, 7), [1000, 2000, 4000, 8000, 16000, 32000, 60000]);
    assert.ok(delays.every((ms) => ms <= 60_000));
    assert.ok(calls() >= 8);
    assert.equal(outboxItems()[0]?.state, 'queued');
  });

  test('the connection coming back flushes at once', async () => {
    let online = false;
    const { sent, sender } = recorder(() => (online ? undefined : new NetworkError('down')));
    useSender('board.ops', sender);
    updateAppStatus({ connectivity: 'offline' });
    await enqueue(item('a'));
    await flushOutbox();
    assert.deepEqual(sent, []);
    online = true;
    updateAppStatus({ connectivity: 'online' });
    // No flush call and no timer: the status change alone sends it (polled, not a fixed
    // delay: fake IndexedDB is slow on a loaded machine).
    for (let waited = 0; sent.length === 0 && waited < 5_000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(sent, ['a']);
    assert.ok(timers.every((t) => t.cleared));
  });

  test('a conflict keeps the item with the message and holds back its scope only', async () => {
    const { sent, sender } = recorder((it) =>
      it.label === 'move' && !sent.includes('fixed')
        ? { status: 'conflict', message: 'BUL-3 was deleted' }
        : undefined,
    );
    useSender('board.ops', sender);
    await enqueue(item('move'));
    await enqueue(item('after move'));
    await enqueue(item('other project', 'project-2'));
    await flushOutbox();
    assert.deepEqual(sent, ['other project']);
    const held = outboxItems().find((i) => i.label === 'move');
    assert.equal(held?.state, 'conflict');
    assert.equal(held?.problem, 'BUL-3 was deleted');
    assert.equal(outboxItems().find((i) => i.label === 'after move')?.state, 'queued');
    // The decision survives a reload.
    stopOutbox();
    await loadOutbox();
    assert.equal(outboxItems().find((i) => i.label === 'move')?.problem, 'BUL-3 was deleted');
    // Discarding it lets the rest of the scope go, in order.
    await discardItem(held?.id ?? '');
    await flushOutbox();
    assert.deepEqual(sent, ['other project', 'after move']);
    assert.equal(outboxItems().length, 0);
    assert.equal(await storedIds(), 0);
  });

  test('retry sends a failed item again; a thrown 4xx becomes a failure', async () => {
    let refuse = true;
    const { sent, sender } = recorder(() =>
      refuse ? new ApiError(400, 'invalid_body', 'The column does not exist.') : undefined,
    );
    useSender('board.ops', sender);
    const queued = await enqueue(item('a'));
    await flushOutbox();
    assert.equal(outboxItems()[0]?.state, 'failed');
    assert.equal(outboxItems()[0]?.problem, 'The column does not exist.');
    refuse = false;
    await retryItem(queued.id);
    await flushOutbox();
    assert.deepEqual(sent, ['a']);
    assert.equal(outboxItems().length, 0);
  });

  test('items persist across a reload (fresh module state)', async () => {
    await enqueue(item('one'));
    await enqueue(item('two', 'project-2'));
    await enqueue(item('three'));
    stopOutbox();
    closeVault();
    // A new page: new module instance, the vault opened again from IndexedDB.
    const fresh = (await import(
      new URL(`./outbox.ts?reload=${counter}`, import.meta.url).href
    )) as typeof import('./outbox.ts');
    await openVaultWithPrf(user, 'cred-1', secret(1));
    try {
      const loaded = await fresh.loadOutbox();
      assert.deepEqual(
        loaded.map((i) => i.label),
        ['one', 'two', 'three'],
      );
      const sent: string[] = [];
      const off = fresh.registerSender('board.ops', async (it) => {
        sent.push(it.label);
        return { status: 'sent' };
      });
      await fresh.flushOutbox();
      off();
      assert.deepEqual(sent, ['one', 'two', 'three']);
      assert.equal(await storedIds(), 0);
    } finally {
      fresh.stopOutbox();
    }
  });

  test('nothing is sent twice, even with flushes started concurrently', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: string[] = [];
    useSender('board.ops', async (it) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      seen.push(it.id);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return { status: 'sent' };
    });
    const items = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((l) => enqueue(item(l))));
    await Promise.all([flushOutbox(), flushOutbox(), flushOutbox(), loadOutbox()]);
    await flushOutbox();
    assert.equal(maxInFlight, 1);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);
    assert.deepEqual(new Set(seen), new Set(items.map((i) => i.id)));
  });

  test('a discard while the item is being sent is refused', async () => {
    let release: (value: SendOutcome) => void = () => {};
    let senderCalled: () => void = () => {};
    const called = new Promise<void>((resolve) => (senderCalled = resolve));
    useSender(
      'board.ops',
      () =>
        new Promise<SendOutcome>((resolve) => {
          release = resolve;
          senderCalled();
        }),
    );
    const queued = await enqueue(item('a'));
    const flushing = flushOutbox();
    // Wait for the send itself, not a guessed delay: on a loaded machine IndexedDB is slow,
    // and releasing before the sender runs would leave the flush waiting for ever.
    await called;
    assert.equal(outboxItems()[0]?.state, 'sending');
    await assert.rejects(discardItem(queued.id), /being sent/);
    release({ status: 'sent' });
    await flushing;
    assert.equal(outboxItems().length, 0);
  });

  test('locked: enqueue throws VaultLockedError and the list is dropped from memory', async () => {
    await enqueue(item('kept'));
    closeVault();
    assert.equal(outboxItems().length, 0);
    await assert.rejects(enqueue(item('nope')), VaultLockedError);
    await openVaultWithPrf(user, 'cred-1', secret(1));
    assert.deepEqual(
      (await loadOutbox()).map((i) => i.label),
      ['kept'],
    );
  });
});
