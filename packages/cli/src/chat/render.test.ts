import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createContent } from '@bulwark/crypto';
import { clock, groupHex, renderEvent } from './render.ts';

const me = '11111111-1111-4111-8111-111111111111';
const them = { userId: '22222222-2222-4222-8222-222222222222', deviceId: 'd' };
const now = new Date('2025-03-01T12:00:00');

describe('renderEvent', () => {
  it('prints a message with time, sender and text, escaping control characters', () => {
    const content = createContent({ kind: 'text', text: 'hi \u001b[31mred' }, now);
    const line = renderEvent(
      {
        type: 'message',
        conversation: 'c',
        seq: 1,
        sender: them,
        content,
        change: 'added',
        own: false,
      },
      'c',
      me,
      now,
    );
    assert.match(line ?? '', /^12:00 22222222: hi \?\[31mred {2}\[[0-9a-f]{8}\]$/);
  });

  it('leaves out other conversations and says who "you" are', () => {
    const content = createContent({ kind: 'text', text: 'x' }, now);
    const event = {
      type: 'message' as const,
      conversation: 'other',
      seq: 1,
      sender: { userId: me, deviceId: 'd' },
      content,
      change: 'added' as const,
      own: true,
    };
    assert.equal(renderEvent(event, 'c', me, now), null);
    assert.match(renderEvent({ ...event, conversation: 'c' }, 'c', me, now) ?? '', / you: x/);
  });

  it('prints warnings about changed keys', () => {
    const line = renderEvent(
      { type: 'warning', conversation: 'c', kind: 'key-changed', message: 'key of bob changed' },
      'c',
      me,
      now,
    );
    assert.equal(line, '! warning: key of bob changed');
  });
});

describe('formatting', () => {
  it('shows the date only when it is not today', () => {
    assert.equal(clock('2025-03-01T09:05:00', now), '09:05');
    assert.equal(clock('2025-02-28T09:05:00', now), '2025-02-28 09:05');
  });

  it('groups fingerprints for reading aloud', () => {
    assert.equal(groupHex('abcdef0123'), 'abcd ef01 23');
  });
});
