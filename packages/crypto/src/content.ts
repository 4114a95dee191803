/**
 * The plaintext inside an application message: versioned JSON, validated by
 * hand (no schema library, to keep this package light for the browser).
 * Everything here arrives from other members, so every field is checked and
 * bounded before anyone renders it, and unknown fields are refused rather
 * than passed along.
 */
import { fromBase64Url, fromUtf8, utf8 } from './encoding.ts';
import { ContentError } from './errors.ts';
import { type Brand, isUuid } from './types.ts';

export type MessageId = Brand<string, 'MessageId'>;

export const MAX_TEXT_BYTES = 64 * 1024;
export const MAX_EMOJI_BYTES = 32;
export const MAX_NAME_BYTES = 255;
export const MAX_MEDIA_TYPE_BYTES = 127;
export const MAX_BLOB_ID_LENGTH = 128;
/** Upper bound on an encoded payload: 64 KiB of text can grow ~6x under JSON escaping. */
export const MAX_CONTENT_BYTES = 512 * 1024;

export interface TextBody {
  readonly kind: 'text';
  readonly text: string;
}
export interface ReplyBody {
  readonly kind: 'reply';
  readonly to: MessageId;
  readonly text: string;
}
export interface EditBody {
  readonly kind: 'edit';
  readonly target: MessageId;
  readonly text: string;
}
export interface DeleteBody {
  readonly kind: 'delete';
  readonly target: MessageId;
}
export interface ReactionBody {
  readonly kind: 'reaction';
  readonly target: MessageId;
  readonly emoji: string;
  readonly remove?: boolean;
}
export interface AttachmentBody {
  readonly kind: 'attachment';
  readonly name: string;
  readonly mediaType: string;
  /** Plaintext size in bytes. */
  readonly size: number;
  /** Lowercase hex SHA-256 of the encrypted blob. */
  readonly sha256: string;
  /** base64url AES-256-GCM key (32 bytes); secret, travels only inside MLS. */
  readonly key: string;
  /** base64url GCM nonce (12 bytes). */
  readonly nonce: string;
  readonly blobId: string;
  readonly text?: string;
}

export type MessageBody =
  | TextBody
  | ReplyBody
  | EditBody
  | DeleteBody
  | ReactionBody
  | AttachmentBody;

export interface MessageContent {
  readonly v: 1;
  readonly id: MessageId;
  /** ISO 8601 UTC with milliseconds, exactly as Date#toISOString writes it. */
  readonly sentAt: string;
  readonly body: MessageBody;
}

export function newMessageId(): MessageId {
  return globalThis.crypto.randomUUID() as MessageId;
}

export function asMessageId(value: string): MessageId {
  if (!isUuid(value)) throw new ContentError('id', 'must be a lowercase UUID');
  return value as MessageId;
}

/** A new payload with a fresh id, stamped `now`. Validates the body. */
export function createContent(body: MessageBody, now: Date = new Date()): MessageContent {
  return validateContent({ v: 1, id: newMessageId(), sentAt: now.toISOString(), body });
}

type Obj = Record<string, unknown>;

function object(value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContentError(path, 'must be an object');
  }
  return value as Obj;
}

function onlyKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ContentError(path, `unknown field ${JSON.stringify(k)}`);
  }
}

function string(
  o: Obj,
  key: string,
  path: string,
  maxBytes: number,
  options: { empty?: boolean } = {},
): string {
  const value = o[key];
  const where = `${path}.${key}`;
  if (typeof value !== 'string') throw new ContentError(where, 'must be a string');
  // Lone surrogates would be rewritten to U+FFFD by UTF-8 encoding, so the
  // text a recipient sees could differ from what was validated.
  if (!value.isWellFormed()) throw new ContentError(where, 'contains unpaired surrogates');
  if (!options.empty && value.length === 0) throw new ContentError(where, 'must not be empty');
  const bytes = utf8(value).length;
  if (bytes > maxBytes)
    throw new ContentError(where, `is ${bytes} bytes, over the ${maxBytes}-byte limit`);
  return value;
}

function messageId(o: Obj, key: string, path: string): MessageId {
  const value = o[key];
  if (!isUuid(value)) throw new ContentError(`${path}.${key}`, 'must be a lowercase UUID');
  return value as MessageId;
}

function base64Bytes(o: Obj, key: string, path: string, length: number): string {
  const value = o[key];
  const where = `${path}.${key}`;
  if (typeof value !== 'string') throw new ContentError(where, 'must be a base64url string');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(value);
  } catch {
    throw new ContentError(where, 'must be a base64url string');
  }
  if (bytes.length !== length)
    throw new ContentError(where, `must encode ${length} bytes, got ${bytes.length}`);
  return value;
}

// One emoji, as Unicode's RGI set defines it (flags, keycaps, ZWJ sequences…):
// a reaction is not a place for arbitrary text.
const SINGLE_EMOJI = /^\p{RGI_Emoji}$/v;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;
const BLOB_ID = /^[A-Za-z0-9_-]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this rejects.
const CONTROL = /[\u0000-\u001f\u007f]/;

function body(value: unknown): MessageBody {
  const path = 'body';
  const o = object(value, path);
  switch (o.kind) {
    case 'text':
      onlyKeys(o, path, ['kind', 'text']);
      return { kind: 'text', text: string(o, 'text', path, MAX_TEXT_BYTES) };
    case 'reply':
      onlyKeys(o, path, ['kind', 'to', 'text']);
      return {
        kind: 'reply',
        to: messageId(o, 'to', path),
        text: string(o, 'text', path, MAX_TEXT_BYTES),
      };
    case 'edit':
      onlyKeys(o, path, ['kind', 'target', 'text']);
      return {
        kind: 'edit',
        target: messageId(o, 'target', path),
        text: string(o, 'text', path, MAX_TEXT_BYTES),
      };
    case 'delete':
      onlyKeys(o, path, ['kind', 'target']);
      return { kind: 'delete', target: messageId(o, 'target', path) };
    case 'reaction': {
      onlyKeys(o, path, ['kind', 'target', 'emoji', 'remove']);
      const emoji = string(o, 'emoji', path, MAX_EMOJI_BYTES);
      if (!SINGLE_EMOJI.test(emoji))
        throw new ContentError(`${path}.emoji`, 'must be a single emoji');
      const target = messageId(o, 'target', path);
      if (o.remove === undefined) return { kind: 'reaction', target, emoji };
      if (typeof o.remove !== 'boolean')
        throw new ContentError(`${path}.remove`, 'must be a boolean');
      return { kind: 'reaction', target, emoji, remove: o.remove };
    }
    case 'attachment': {
      onlyKeys(o, path, [
        'kind',
        'name',
        'mediaType',
        'size',
        'sha256',
        'key',
        'nonce',
        'blobId',
        'text',
      ]);
      const name = string(o, 'name', path, MAX_NAME_BYTES);
      if (CONTROL.test(name))
        throw new ContentError(`${path}.name`, 'must not contain control characters');
      const mediaType = string(o, 'mediaType', path, MAX_MEDIA_TYPE_BYTES);
      if (!MEDIA_TYPE.test(mediaType))
        throw new ContentError(`${path}.mediaType`, 'must be a type/subtype media type');
      const size = o.size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new ContentError(`${path}.size`, 'must be a non-negative integer');
      }
      const sha256 = string(o, 'sha256', path, 64);
      if (!SHA256_HEX.test(sha256))
        throw new ContentError(`${path}.sha256`, 'must be 64 lowercase hex digits');
      const key = base64Bytes(o, 'key', path, 32);
      const nonce = base64Bytes(o, 'nonce', path, 12);
      const blobId = string(o, 'blobId', path, MAX_BLOB_ID_LENGTH);
      if (!BLOB_ID.test(blobId)) throw new ContentError(`${path}.blobId`, 'must be [A-Za-z0-9_-]+');
      const base = {
        kind: 'attachment',
        name,
        mediaType,
        size,
        sha256,
        key,
        nonce,
        blobId,
      } as const;
      return o.text === undefined
        ? base
        : { ...base, text: string(o, 'text', path, MAX_TEXT_BYTES, { empty: true }) };
    }
    default:
      throw new ContentError(`${path}.kind`, `unsupported kind ${JSON.stringify(o.kind)}`);
  }
}

/** Checks an untrusted value and returns a fresh, canonical copy of it. */
export function validateContent(value: unknown): MessageContent {
  const o = object(value, 'content');
  if (o.v !== 1) throw new ContentError('v', `unsupported content version ${JSON.stringify(o.v)}`);
  onlyKeys(o, 'content', ['v', 'id', 'sentAt', 'body']);
  const id = messageId(o, 'id', 'content');
  const sentAt = o.sentAt;
  // One spelling per instant, so sentAt strings sort chronologically.
  if (
    typeof sentAt !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(sentAt) ||
    Number.isNaN(Date.parse(sentAt)) ||
    new Date(sentAt).toISOString() !== sentAt
  ) {
    throw new ContentError(
      'content.sentAt',
      'must be an ISO 8601 UTC timestamp like 2025-01-31T12:00:00.000Z',
    );
  }
  return { v: 1, id, sentAt, body: body(o.body) };
}

export function encodeContent(content: MessageContent): Uint8Array {
  const bytes = utf8(JSON.stringify(validateContent(content)));
  if (bytes.length > MAX_CONTENT_BYTES)
    throw new ContentError('content', `is over ${MAX_CONTENT_BYTES} bytes`);
  return bytes;
}

/** Parses and validates a decrypted payload. Throws ContentError naming the bad field. */
export function decodeContent(bytes: Uint8Array): MessageContent {
  if (bytes.length > MAX_CONTENT_BYTES)
    throw new ContentError('content', `is over ${MAX_CONTENT_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch {
    throw new ContentError('content', 'is not UTF-8 JSON');
  }
  return validateContent(value);
}
