import type { UnsealProviderKind } from '@bulwark/protocol';
import type { RootKey } from '../root-key.ts';

/**
 * One way of wrapping the root key. Each record in the keyring is written by
 * exactly one provider and unwrapped only by it. Hardware providers (TPM 2.0,
 * PKCS#11, FIDO2 PRF) implement the same interface: `wrap` at init or rekey,
 * `unwrap` with whatever the operator presents; callers never see how.
 */
export interface WrappingRecordBase {
  provider: string;
  /** base64: nonce ‖ AES-256-GCM(kek, root key) ‖ tag, AAD = wrapAad(installation, provider). */
  wrappedRootKey: string;
}

export interface UnsealProvider<TRecord extends WrappingRecordBase, TInput, TWrapOutput> {
  readonly kind: UnsealProviderKind;
  wrap(root: RootKey): Promise<{ record: TRecord; output: TWrapOutput }>;
  /** Throws BulwarkError (never returns a wrong key) when the input does not unlock the record. */
  unwrap(record: TRecord, input: TInput, installationId: string): Promise<RootKey>;
}

/** AAD for a wrapped root key: binds it to its installation and its provider. */
export function wrapAad(installationId: string, provider: string): Buffer {
  return Buffer.from(`bulwark-root-key-wrap:v1:${installationId}:${provider}`, 'utf8');
}
