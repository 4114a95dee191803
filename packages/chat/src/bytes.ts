import { createHash } from 'node:crypto';

/** Bytes on the wire are base64url without padding (docs/messaging.md, "API"). */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Throws on anything that is not base64url: a silently truncated key or message is worse. */
export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new TypeError('expected base64url without padding');
  }
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** Hex SHA-256: how own sends and key packages are recognised without keeping their bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
