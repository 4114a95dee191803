import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createContent, type MessageBody, type MessageId } from '@bulwark/crypto';
import { addNotice, applyContent, emptyTimeline, timelineItems } from './timeline.ts';

const alice = { userId: '11111111-1111-4111-8111-111111111111', deviceId: 'a1' };
const bob = { userId: '22222222-2222-4222-8222-222222222222', deviceId: 'b1' };
let clock = Date.parse('2025-01-01T10:00:00.000Z');
function content(body: MessageBody) {
  clock += 1000;
  return createContent(body, new Date(clock));
}

describe('applyContent', () => {
  it('adds messages once, whatever the number of deliveries, and keeps their position', () => {
    const t = emptyTimeline();
    const hello = content({ kind: 'text', text: 'hello' });
    assert.equal(applyContent(t, hello, alice, 5).kind, 'added');
    assert.equal(applyContent(t, hello, alice, 5).kind, 'duplicate');
    assert.equal(t.fold.messages.length, 1);
    assert.equal(t.seqs[hello.id], 5);
  });

  it('gives our own message its position when it comes back', () => {
    const t = emptyTimeline();
    const mine = content({ kind: 'text', text: 'mine' });
    applyContent(t, mine, alice, null);
    assert.equal(t.seqs[mine.id], undefined);
    assert.equal(applyContent(t, mine, alice, 9).kind, 'duplicate');
    assert.equal(t.seqs[mine.id], 9);
  });

  it('lets only the author edit or delete, and anyone react', () => {
    const t = emptyTimeline();
    const hello = content({ kind: 'text', text: 'helo' });
    applyContent(t, hello, alice, 1);
    const target = hello.id as MessageId;
    const forged = applyContent(t, content({ kind: 'edit', target, text: 'X' }), bob, 2);
    assert.equal(forged.kind, 'ignored');
    assert.equal(
      applyContent(t, content({ kind: 'edit', target, text: 'hello' }), alice, 3).kind,
      'edited',
    );
    assert.equal(
      applyContent(t, content({ kind: 'reaction', target, emoji: '👍' }), bob, 4).kind,
      'reacted',
    );
    assert.equal(t.fold.messages[0]?.text, 'hello');
    assert.deepEqual(t.fold.messages[0]?.reactions, [{ emoji: '👍', users: [bob.userId] }]);
    assert.equal(applyContent(t, content({ kind: 'delete', target }), bob, 5).kind, 'ignored');
    assert.equal(applyContent(t, content({ kind: 'delete', target }), alice, 6).kind, 'deleted');
    assert.equal(t.fold.messages[0]?.deleted, true);
  });

  it('keeps an operation whose message has not arrived yet', () => {
    const t = emptyTimeline();
    const later = content({ kind: 'text', text: 'x' });
    const edit = content({ kind: 'edit', target: later.id as MessageId, text: 'y' });
    assert.equal(applyContent(t, edit, alice, 1).kind, 'pending');
    applyContent(t, later, alice, 2);
    assert.equal(t.fold.messages[0]?.text, 'y');
  });
});

describe('timelineItems', () => {
  it('interleaves messages and notices by log position', () => {
    const t = emptyTimeline();
    applyContent(t, content({ kind: 'text', text: 'one' }), alice, 1);
    applyContent(t, content({ kind: 'text', text: 'three' }), alice, 3);
    addNotice(t, { kind: 'undecryptable', seq: 2, at: '2024-01-01T00:00:00.000Z', text: 'lost' });
    assert.deepEqual(
      timelineItems(t).map((i) => (i.type === 'message' ? i.message.text : i.notice.text)),
      ['one', 'lost', 'three'],
    );
  });
});
