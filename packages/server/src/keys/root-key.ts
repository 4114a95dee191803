import { hkdfSync, randomBytes } from 'node:crypto';

/**
 * Every purpose a key is derived for. One purpose, one HKDF `info`
 * (SECURITY.md, key hierarchy): adding a purpose means adding a line here.
 */
export const keyPurposes = {
  database: 'bulwark/v1/database-page-key',
  fieldEncryption: 'bulwark/v1/field-encryption',
  blindIndex: 'bulwark/v1/blind-index',
  ledgerSigning: 'bulwark/v1/ledger-signing-seed',
  sessionMac: 'bulwark/v1/session-mac',
  tlsCaKey: 'bulwark/v1/tls-ca-key',
  storageCheck: 'bulwark/v1/storage-check',
} as const;

export type KeyPurpose = keyof typeof keyPurposes;

declare const rootKeyBrand: unique symbol;
declare const purposeKeyBrand: unique symbol;

/**
 * The 256-bit root key. Held only in memory while unsealed; `wipe()` zeroes
 * it on seal. Branded so that a derived key can never be passed where the
 * root is expected, nor the reverse.
 */
export class RootKey {
  declare readonly [rootKeyBrand]: true;
  #bytes: Buffer | null;
  readonly installationId: string;

  constructor(bytes: Uint8Array, installationId: string) {
    if (bytes.byteLength !== 32) throw new RangeError('the root key is 32 bytes');
    this.#bytes = Buffer.from(bytes);
    this.installationId = installationId;
  }

  static generate(installationId: string): RootKey {
    const bytes = randomBytes(32);
    const key = new RootKey(bytes, installationId);
    bytes.fill(0);
    return key;
  }

  /** The raw bytes, for wrapping by an unseal provider only. */
  exposeForWrapping(): Buffer {
    if (!this.#bytes) throw new Error('the root key was wiped');
    return this.#bytes;
  }

  /** HKDF-SHA256(root, salt = installation id, info = purpose) → 32 bytes. */
  derive(purpose: KeyPurpose): PurposeKey {
    if (!this.#bytes) throw new Error('the root key was wiped');
    const okm = hkdfSync(
      'sha256',
      this.#bytes,
      Buffer.from(this.installationId, 'utf8'),
      Buffer.from(keyPurposes[purpose], 'utf8'),
      32,
    );
    return new PurposeKey(purpose, Buffer.from(okm));
  }

  get wiped(): boolean {
    return this.#bytes === null;
  }

  wipe(): void {
    this.#bytes?.fill(0);
    this.#bytes = null;
  }
}

/** A key derived from the root for exactly one purpose. */
export class PurposeKey {
  declare readonly [purposeKeyBrand]: true;
  readonly purpose: KeyPurpose;
  #bytes: Buffer | null;

  constructor(purpose: KeyPurpose, bytes: Buffer) {
    this.purpose = purpose;
    this.#bytes = bytes;
  }

  bytes(): Buffer {
    if (!this.#bytes) throw new Error(`the ${this.purpose} key was wiped`);
    return this.#bytes;
  }

  wipe(): void {
    this.#bytes?.fill(0);
    this.#bytes = null;
  }
}
