import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { BulwarkError } from '../errors.ts';
import { replaceFileAtomic, writeFileExclusiveAtomic } from '../util/files.ts';
import type { PassphraseRecord } from './providers/passphrase.ts';
import type { ShamirRecord } from './providers/shamir.ts';

/**
 * The keyring file: the only place the root key is written, and only wrapped.
 * It also names the installation, so data, shares and keyring from different
 * installations are never mixed up.
 */
const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);

const passphraseRecordSchema = z
  .object({
    provider: z.literal('passphrase'),
    wrappedRootKey: base64,
    kdf: z
      .object({
        algorithm: z.literal('argon2id'),
        salt: base64,
        memory: z.number().int().min(8192).max(4_194_304),
        passes: z.number().int().min(1).max(64),
        parallelism: z.number().int().min(1).max(64),
      })
      .strict(),
  })
  .strict();

const shamirRecordSchema = z
  .object({
    provider: z.literal('shamir'),
    wrappedRootKey: base64,
    threshold: z.number().int().min(2).max(255),
    total: z.number().int().min(2).max(255),
  })
  .strict();

export const keyringSchema = z
  .object({
    format: z.literal('bulwark-keyring'),
    version: z.literal(1),
    installationId: z.string().regex(/^bwk_[a-z0-9]{20}$/),
    createdAt: z.iso.datetime(),
    rotatedAt: z.iso.datetime().optional(),
    operatorTokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
    wrappings: z
      .array(z.discriminatedUnion('provider', [passphraseRecordSchema, shamirRecordSchema]))
      .min(1),
  })
  .strict();

export type Keyring = z.infer<typeof keyringSchema>;

// Compile-time check that the schema and the providers' record types agree.
type Assert<T extends true> = T;
export type _RecordsAgree = Assert<
  Keyring['wrappings'][number] extends PassphraseRecord | ShamirRecord ? true : false
>;

export class KeyringStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  /** Reads and validates the keyring; null when the directory is not initialised. */
  read(): Keyring | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BulwarkError(
        'storage_corrupt',
        `The keyring file ${this.path} is not valid JSON; restore it from a backup.`,
      );
    }
    const parsed = keyringSchema.safeParse(json);
    if (!parsed.success) {
      throw new BulwarkError(
        'storage_corrupt',
        `The keyring file ${this.path} is damaged (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'invalid'}); restore it from a backup.`,
      );
    }
    return parsed.data;
  }

  /** Rekey: swaps the whole keyring at once; a crash leaves the old or the new one, never half. */
  replace(keyring: Keyring): void {
    if (!this.exists()) throw new BulwarkError('not_initialized');
    replaceFileAtomic(this.path, `${JSON.stringify(keyring, null, 2)}\n`, 0o600);
  }

  /** Writes the keyring once; refuses when one exists (init never overwrites). */
  create(keyring: Keyring): void {
    try {
      writeFileExclusiveAtomic(this.path, `${JSON.stringify(keyring, null, 2)}\n`, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new BulwarkError('already_initialized');
      }
      throw err;
    }
  }
}
