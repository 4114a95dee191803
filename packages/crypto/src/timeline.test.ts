import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  applyToTimeline,
  asDeviceId,
  asUserId,
  type DeviceRef,
  emptyTimeline,
  type MessageBody,
  type MessageId,
  type Timeline,
  type TimelineEvent,
  validateContent,
} from './index.ts';

const alice: DeviceRef = {
  userId: asUserId('00000000-0000-4000-8000-00000000000a'),
  deviceId: asDeviceId('00000000-0000-4000-8000-0000000000a1'),
};
const aliceLaptop: DeviceRef = {
  ...alice,
  deviceId: asDeviceId('00000000-0000-4000-8000-0000000000a2'),
};
const bob: DeviceRef = {
  userId: asUserId('00000000-0000-4000-8000-00000000000b'),
  deviceId: asDeviceId('00000000-0000-4000-8000-0000000000b1'),
};

const id = (n: number) =>
  `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}` as MessageId;
const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();

function ev(sender: DeviceRef, n: number, second: number, body: MessageBody): TimelineEvent {
  return { sender, content: validateContent({ v: 1, id: id(n), sentAt: at(second), body }) };
}

const fold = (events: readonly TimelineEvent[], from: Timeline = emptyTimeline) =>
  events.reduce(applyToTimeline, from);

describe('timeline', () => {
  test('duplicates are applied once', () => {
    const hello = ev(alice, 1, 1, { kind: 'text', text: 'hello' });
    const like = ev(bob, 2, 2, { kind: 'reaction', target: id(1), emoji: '👍' });
    const once = fold([hello, like]);
    assert.deepEqual(fold([hello, hello, like, like, hello]), once);
    assert.equal(once.messages.length, 1);
    assert.deepEqual(once.messages[0]?.reactions, [{ emoji: '👍', users: [bob.userId] }]);
  });

  test('only the original sender (any of their devices) edits or deletes', () => {
    const t = fold([
      ev(alice, 1, 1, { kind: 'text', text: 'original' }),
      ev(bob, 2, 2, { kind: 'edit', target: id(1), text: 'bob was here' }),
      ev(bob, 3, 3, { kind: 'delete', target: id(1) }),
    ]);
    assert.equal(t.messages[0]?.text, 'original');
    assert.equal(t.messages[0]?.deleted, false);
    const edited = applyToTimeline(
      t,
      ev(aliceLaptop, 4, 4, { kind: 'edit', target: id(1), text: 'fixed typo' }),
    );
    assert.equal(edited.messages[0]?.text, 'fixed typo');
    assert.equal(edited.messages[0]?.editedAt, at(4));
    const deleted = applyToTimeline(edited, ev(alice, 5, 5, { kind: 'delete', target: id(1) }));
    assert.deepEqual(deleted.messages[0], {
      id: id(1),
      sender: alice,
      sentAt: at(1),
      kind: 'text',
      text: '',
      deleted: true,
      reactions: [],
    });
    // Nothing revives a deleted message.
    const after = fold(
      [
        ev(alice, 6, 6, { kind: 'edit', target: id(1), text: 'back?' }),
        ev(bob, 7, 7, { kind: 'reaction', target: id(1), emoji: '😮' }),
      ],
      deleted,
    );
    assert.deepEqual(after.messages, deleted.messages);
  });

  test('edits resolve last-writer-wins on sentAt, not on arrival', () => {
    const msg = ev(alice, 1, 1, { kind: 'text', text: 'v0' });
    const e1 = ev(alice, 2, 2, { kind: 'edit', target: id(1), text: 'v1' });
    const e2 = ev(alice, 3, 3, { kind: 'edit', target: id(1), text: 'v2' });
    assert.equal(fold([msg, e2, e1]).messages[0]?.text, 'v2');
    assert.equal(fold([msg, e1, e2]).messages[0]?.text, 'v2');
  });

  test('operations that arrive before their message wait for it', () => {
    const react = ev(bob, 2, 2, { kind: 'reaction', target: id(1), emoji: '🎉' });
    const edit = ev(alice, 3, 3, { kind: 'edit', target: id(1), text: 'edited' });
    const early = fold([react, edit]);
    assert.equal(early.messages.length, 0);
    assert.equal(early.pending.length, 2);
    const t = applyToTimeline(early, ev(alice, 1, 1, { kind: 'text', text: 'first' }));
    assert.equal(t.pending.length, 0);
    assert.equal(t.messages[0]?.text, 'edited');
    assert.deepEqual(t.messages[0]?.reactions, [{ emoji: '🎉', users: [bob.userId] }]);
  });

  test('reactions toggle per user and emoji', () => {
    const t = fold([
      ev(alice, 1, 1, { kind: 'text', text: 'hi' }),
      ev(bob, 2, 2, { kind: 'reaction', target: id(1), emoji: '👍' }),
      ev(alice, 3, 3, { kind: 'reaction', target: id(1), emoji: '👍' }),
      ev(bob, 4, 4, { kind: 'reaction', target: id(1), emoji: '❤️' }),
      ev(bob, 5, 5, { kind: 'reaction', target: id(1), emoji: '👍', remove: true }),
    ]);
    assert.deepEqual(t.messages[0]?.reactions, [
      { emoji: '❤️', users: [bob.userId] },
      { emoji: '👍', users: [alice.userId] },
    ]);
  });

  test('messages are ordered by sentAt, then id', () => {
    const t = fold([
      ev(bob, 9, 5, { kind: 'text', text: 'c' }),
      ev(alice, 2, 1, { kind: 'text', text: 'a' }),
      ev(bob, 3, 5, { kind: 'reply', to: id(2), text: 'b' }),
    ]);
    assert.deepEqual(
      t.messages.map((m) => m.text),
      ['a', 'b', 'c'],
    );
    assert.equal(t.messages[1]?.replyTo, id(2));
  });

  test('any delivery order with duplicates yields the same timeline', () => {
    const senders = [alice, aliceLaptop, bob];
    const emojis = ['👍', '❤️', '😂'];
    // A conversation: messages 1..m, then operations targeting them (or a missing message).
    const scenario = fc
      .record({
        messages: fc.integer({ min: 1, max: 3 }),
        ops: fc.array(
          fc.record({
            sender: fc.nat({ max: 2 }),
            kind: fc.constantFrom('edit', 'delete', 'reaction', 'unreaction'),
            // 0..3: messages (4 never exists); 4..5: other operations.
            target: fc.nat({ max: 5 }),
            emoji: fc.nat({ max: 2 }),
            second: fc.nat({ max: 20 }),
          }),
          { minLength: 4, maxLength: 24 },
        ),
        msgSenders: fc.array(fc.nat({ max: 2 }), { minLength: 3, maxLength: 3 }),
      })
      .map(({ messages, ops, msgSenders }) => {
        const events: TimelineEvent[] = [];
        for (let i = 1; i <= messages; i++) {
          events.push(
            ev(senders[msgSenders[i - 1] ?? 0] as DeviceRef, i, i, { kind: 'text', text: `m${i}` }),
          );
        }
        ops.forEach((op, k) => {
          const sender = senders[op.sender] as DeviceRef;
          const target = op.target < 4 ? id(op.target + 1) : id(100 + op.target - 4);
          const n = 100 + k;
          const body: MessageBody =
            op.kind === 'edit'
              ? { kind: 'edit', target, text: `edit ${k}` }
              : op.kind === 'delete'
                ? { kind: 'delete', target }
                : {
                    kind: 'reaction',
                    target,
                    emoji: emojis[op.emoji] as string,
                    ...(op.kind === 'unreaction' ? { remove: true } : {}),
                  };
          events.push(ev(sender, n, op.second, body));
        });
        return events;
      });
    fc.assert(
      fc.property(
        scenario.chain((events) =>
          fc.tuple(
            fc.constant(events),
            fc.shuffledSubarray([...events, ...events], { minLength: events.length * 2 }),
          ),
        ),
        ([events, delivered]) => {
          const expected = fold(events);
          const actual = fold(delivered);
          assert.deepEqual(actual.messages, expected.messages);
          assert.deepEqual(actual.pending, expected.pending);
          assert.deepEqual(actual.seen, expected.seen);
        },
      ),
      { numRuns: 300 },
    );
  });
});
