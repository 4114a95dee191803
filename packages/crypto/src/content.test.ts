import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ContentError,
  createContent,
  decodeContent,
  encodeContent,
  MAX_TEXT_BYTES,
  type MessageBody,
  type MessageContent,
  newMessageId,
  validateContent,
} from './index.ts';

const ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const base = { v: 1, id: ID, sentAt: '2025-01-31T12:00:00.000Z' };
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function refuses(value: unknown, path: string, message?: RegExp) {
  assert.throws(
    () => decodeContent(bytes(value)),
    (e: unknown) =>
      e instanceof ContentError &&
      e.path === path &&
      (message === undefined || message.test(e.message)),
    `expected a ContentError at ${path} for ${JSON.stringify(value).slice(0, 120)}`,
  );
}

const attachment = {
  kind: 'attachment',
  name: 'report.pdf',
  mediaType: 'application/pdf',
  size: 1234,
  sha256: 'a'.repeat(64),
  key: 'A'.repeat(43),
  nonce: 'B'.repeat(16),
  blobId: 'blob_123-x',
};

describe('message content', () => {
  test('every body kind round-trips', () => {
    const bodies: MessageBody[] = [
      { kind: 'text', text: 'hello 👋' },
      { kind: 'reply', to: newMessageId(), text: 'yes' },
      { kind: 'edit', target: newMessageId(), text: 'hello, edited' },
      { kind: 'delete', target: newMessageId() },
      { kind: 'reaction', target: newMessageId(), emoji: '👍🏽' },
      { kind: 'reaction', target: newMessageId(), emoji: '🇫🇷', remove: true },
      { kind: 'reaction', target: newMessageId(), emoji: '👩‍👩‍👧' },
      attachment as MessageBody,
      { ...(attachment as MessageBody), text: 'see attached' } as MessageBody,
    ];
    for (const body of bodies) {
      const content = createContent(body, new Date('2025-02-01T00:00:00Z'));
      assert.equal(content.sentAt, '2025-02-01T00:00:00.000Z');
      assert.deepEqual(decodeContent(encodeContent(content)), content);
    }
  });

  test('validation errors name the field', () => {
    refuses(
      { ...base, v: 2, body: { kind: 'text', text: 'x' } },
      'v',
      /unsupported content version/,
    );
    refuses({ ...base, id: ID.toUpperCase(), body: { kind: 'text', text: 'x' } }, 'content.id');
    refuses(
      { ...base, sentAt: '2025-01-31T12:00:00Z', body: { kind: 'text', text: 'x' } },
      'content.sentAt',
    );
    refuses(
      { ...base, sentAt: '2025-02-30T12:00:00.000Z', body: { kind: 'text', text: 'x' } },
      'content.sentAt',
    );
    refuses(
      { ...base, extra: 1, body: { kind: 'text', text: 'x' } },
      'content',
      /unknown field "extra"/,
    );
    refuses(
      { ...base, body: { kind: 'text', text: 'x', html: '<b>' } },
      'body',
      /unknown field "html"/,
    );
    refuses({ ...base, body: { kind: 'poll' } }, 'body.kind', /unsupported kind "poll"/);
    refuses({ ...base, body: { kind: 'text', text: '' } }, 'body.text', /empty/);
    refuses({ ...base, body: { kind: 'text', text: 5 } }, 'body.text', /string/);
    refuses({ ...base, body: { kind: 'text', text: '\ud800' } }, 'body.text', /surrogate/);
    refuses({ ...base, body: { kind: 'reply', to: 'nope', text: 'x' } }, 'body.to');
    refuses(
      { ...base, body: { kind: 'reaction', target: ID, emoji: 'lol' } },
      'body.emoji',
      /single emoji/,
    );
    refuses(
      { ...base, body: { kind: 'reaction', target: ID, emoji: '👍👍' } },
      'body.emoji',
      /single emoji/,
    );
    refuses(
      { ...base, body: { kind: 'reaction', target: ID, emoji: '👍'.repeat(9) } },
      'body.emoji',
      /32-byte limit/,
    );
    refuses(
      { ...base, body: { kind: 'reaction', target: ID, emoji: '👍', remove: 'yes' } },
      'body.remove',
    );
    refuses({ ...base, body: { ...attachment, size: -1 } }, 'body.size');
    refuses({ ...base, body: { ...attachment, size: 1.5 } }, 'body.size');
    refuses({ ...base, body: { ...attachment, sha256: 'A'.repeat(64) } }, 'body.sha256');
    refuses({ ...base, body: { ...attachment, key: 'A'.repeat(42) } }, 'body.key', /32 bytes/);
    refuses(
      { ...base, body: { ...attachment, nonce: 'B'.repeat(16).replace('B', '+') } },
      'body.nonce',
    );
    refuses({ ...base, body: { ...attachment, mediaType: 'pdf' } }, 'body.mediaType');
    refuses({ ...base, body: { ...attachment, name: 'a\nb' } }, 'body.name', /control/);
    refuses({ ...base, body: { ...attachment, blobId: '../etc' } }, 'body.blobId');
    refuses([], 'content');
    assert.throws(
      () => decodeContent(new Uint8Array([0xff])),
      (e: unknown) => e instanceof ContentError && /JSON/.test(e.message),
    );
  });

  test('text is limited to 64 KiB of UTF-8', () => {
    const ok = 'é'.repeat(MAX_TEXT_BYTES / 2);
    assert.equal(
      decodeContent(bytes({ ...base, body: { kind: 'text', text: ok } })).body.kind,
      'text',
    );
    refuses(
      { ...base, body: { kind: 'text', text: `${ok}x` } },
      'body.text',
      /65537 bytes, over the 65536-byte limit/,
    );
    assert.throws(
      () => createContent({ kind: 'text', text: 'x'.repeat(MAX_TEXT_BYTES + 1) }),
      ContentError,
    );
  });

  test('validation returns a canonical copy: decode(encode(x)) is stable for any valid text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }),
        fc.date({ min: new Date(0), max: new Date('9999-12-31'), noInvalidDate: true }),
        (text, date) => {
          const content: MessageContent = validateContent({
            ...base,
            sentAt: date.toISOString(),
            body: { kind: 'text', text },
          });
          const once = encodeContent(content);
          assert.deepEqual(encodeContent(decodeContent(once)), once);
        },
      ),
    );
  });
});
