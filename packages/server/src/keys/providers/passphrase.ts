import { argon2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { BulwarkError } from '../../errors.ts';
import { DecryptionError, openAesGcm, sealAesGcm } from '../dangerous/aes-gcm.ts';
import { RootKey } from '../root-key.ts';
import { type UnsealProvider, type WrappingRecordBase, wrapAad } from './types.ts';

const argon2Async = promisify(argon2);

export interface Argon2idParams {
  /** KiB of memory. */
  memory: number;
  passes: number;
  parallelism: number;
}

/**
 * RFC 9106 §4, second recommended option (64 MiB, t=3, p=4). Unseal is rare,
 * so we can afford it; the parameters are stored per record so they can be
 * raised later without breaking existing installations.
 */
export const defaultArgon2idParams: Argon2idParams = { memory: 65536, passes: 3, parallelism: 4 };

export interface PassphraseRecord extends WrappingRecordBase {
  provider: 'passphrase';
  kdf: { algorithm: 'argon2id'; salt: string } & Argon2idParams;
}

export class PassphraseProvider implements UnsealProvider<PassphraseRecord, string, null> {
  readonly kind = 'passphrase' as const;
  readonly #passphrase: string | null;
  readonly #params: Argon2idParams;

  /** `passphrase` is needed only to wrap (init, rekey); unwrap takes it as input. */
  constructor(passphrase: string | null, params: Argon2idParams = defaultArgon2idParams) {
    this.#passphrase = passphrase;
    this.#params = params;
  }

  async wrap(root: RootKey): Promise<{ record: PassphraseRecord; output: null }> {
    if (this.#passphrase === null) throw new Error('no passphrase to wrap with');
    const salt = randomBytes(16);
    const kek = await deriveKek(this.#passphrase, salt, this.#params);
    try {
      const wrapped = sealAesGcm(
        kek,
        root.exposeForWrapping(),
        wrapAad(root.installationId, this.kind),
      );
      return {
        record: {
          provider: 'passphrase',
          kdf: { algorithm: 'argon2id', salt: salt.toString('base64'), ...this.#params },
          wrappedRootKey: wrapped.toString('base64'),
        },
        output: null,
      };
    } finally {
      kek.fill(0);
    }
  }

  async unwrap(
    record: PassphraseRecord,
    passphrase: string,
    installationId: string,
  ): Promise<RootKey> {
    const { salt, memory, passes, parallelism } = record.kdf;
    const kek = await deriveKek(passphrase, Buffer.from(salt, 'base64'), {
      memory,
      passes,
      parallelism,
    });
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
      if (err instanceof DecryptionError) throw new BulwarkError('unseal_failed');
      throw err;
    } finally {
      kek.fill(0);
    }
  }
}

async function deriveKek(passphrase: string, salt: Buffer, p: Argon2idParams): Promise<Buffer> {
  return argon2Async('argon2id', {
    message: Buffer.from(passphrase.normalize('NFKC'), 'utf8'),
    nonce: salt,
    parallelism: p.parallelism,
    tagLength: 32,
    memory: p.memory,
    passes: p.passes,
  });
}
