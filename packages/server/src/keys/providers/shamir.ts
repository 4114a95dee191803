import { createHash, randomBytes } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { BulwarkError } from '../../errors.ts';
import { DecryptionError, openAesGcm, sealAesGcm } from '../dangerous/aes-gcm.ts';
import { RootKey } from '../root-key.ts';
import { type UnsealProvider, type WrappingRecordBase, wrapAad } from './types.ts';

/**
 * Shamir k-of-n: a random 256-bit key-encryption key is split into shares
 * (GF(256), `shamir-secret-sharing`, independently audited) and the root key
 * is wrapped by it. The server keeps only the wrapped root key; the shares
 * leave once, at init. Splitting a KEK rather than the root key itself means
 * shares can be re-dealt (rekey) without touching the root key or the data.
 */
export interface ShamirRecord extends WrappingRecordBase {
  provider: 'shamir';
  threshold: number;
  total: number;
}

const SHARE_PREFIX = 'bulwark-share-v1';
const KEK_BYTES = 32;

export class ShamirProvider implements UnsealProvider<ShamirRecord, Uint8Array[], string[]> {
  readonly kind = 'shamir' as const;
  readonly #total: number;
  readonly #threshold: number;

  constructor(total = 5, threshold = 3) {
    if (!Number.isInteger(total) || !Number.isInteger(threshold)) {
      throw new RangeError('share counts are integers');
    }
    if (threshold < 2 || total < threshold || total > 255) {
      throw new RangeError('need 2 ≤ threshold ≤ shares ≤ 255');
    }
    this.#total = total;
    this.#threshold = threshold;
  }

  async wrap(root: RootKey): Promise<{ record: ShamirRecord; output: string[] }> {
    const kek = randomBytes(KEK_BYTES);
    try {
      const wrapped = sealAesGcm(
        kek,
        root.exposeForWrapping(),
        wrapAad(root.installationId, this.kind),
      );
      const shares = await split(new Uint8Array(kek), this.#total, this.#threshold);
      return {
        record: {
          provider: 'shamir',
          threshold: this.#threshold,
          total: this.#total,
          wrappedRootKey: wrapped.toString('base64'),
        },
        output: shares.map((s) => encodeShare(root.installationId, s)),
      };
    } finally {
      kek.fill(0);
    }
  }

  async unwrap(
    record: ShamirRecord,
    shares: Uint8Array[],
    installationId: string,
  ): Promise<RootKey> {
    if (shares.length < record.threshold) {
      throw new BulwarkError('bad_request', `${record.threshold} shares are needed`);
    }
    let kek: Uint8Array;
    try {
      kek = await combine(shares);
    } catch {
      throw new BulwarkError('shares_mismatch');
    }
    try {
      const root = openAesGcm(
        kek,
        Buffer.from(record.wrappedRootKey, 'base64'),
        wrapAad(installationId, this.kind),
      );
      const key = new RootKey(root, installationId);
      root.fill(0);
      return key;
    } catch (err) {
      // Wrong or mixed shares interpolate to a different KEK: the tag tells.
      if (err instanceof DecryptionError) throw new BulwarkError('shares_mismatch');
      throw err;
    } finally {
      kek.fill(0);
    }
  }
}

/** A decoded share: the bytes for `combine` and its x-coordinate (last byte), for duplicates. */
export interface DecodedShare {
  installationId: string;
  bytes: Uint8Array;
  x: number;
}

/**
 * `bulwark-share-v1.<installation>.<base64url share>.<check>`: the
 * installation id lets a share from another installation be refused at once,
 * and the checksum (not a security measure) catches a mistyped share before
 * it spoils a multi-operator unseal.
 */
export function encodeShare(installationId: string, share: Uint8Array): string {
  const body = `${SHARE_PREFIX}.${installationId}.${Buffer.from(share).toString('base64url')}`;
  return `${body}.${checksum(body)}`;
}

export function decodeShare(text: string, expectedInstallationId: string): DecodedShare {
  const trimmed = text.trim();
  const parts = trimmed.split('.');
  if (parts.length !== 4 || parts[0] !== SHARE_PREFIX) {
    throw new BulwarkError(
      'invalid_share',
      `That is not a Bulwark unseal share: it should start with "${SHARE_PREFIX}." and have four dot-separated parts.`,
    );
  }
  const [, installationId = '', data = '', check = ''] = parts;
  const body = `${SHARE_PREFIX}.${installationId}.${data}`;
  if (!/^[A-Za-z0-9_-]+$/.test(data) || checksum(body) !== check) {
    throw new BulwarkError(
      'invalid_share',
      'That share is damaged (its checksum does not match): check it was copied completely.',
    );
  }
  if (installationId !== expectedInstallationId) {
    throw new BulwarkError(
      'foreign_share',
      `That share belongs to installation ${installationId}, not to this one (${expectedInstallationId}).`,
    );
  }
  const bytes = new Uint8Array(Buffer.from(data, 'base64url'));
  const x = bytes[bytes.length - 1];
  if (bytes.length !== KEK_BYTES + 1 || x === undefined || x === 0) {
    throw new BulwarkError('invalid_share', 'That share has the wrong length.');
  }
  return { installationId, bytes, x };
}

function checksum(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex').slice(0, 8);
}
