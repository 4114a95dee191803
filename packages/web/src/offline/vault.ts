/**
 * INTERFACE STUB — the offline helper replaces the bodies (keep the exports).
 * The encrypted offline store: IndexedDB records sealed with AES-GCM under a
 * data key that is itself wrapped by a key derived from the passkey's PRF
 * output (or a passphrase). Locked: nothing readable.
 */
export class VaultLockedError extends Error {
  constructor() {
    super('The offline store is locked: sign in with your passkey to open it.');
    this.name = 'VaultLockedError';
  }
}

export type VaultState = 'locked' | 'open';

export function vaultState(): VaultState {
  return 'locked';
}

export function useVaultState(): VaultState {
  return 'locked';
}

/** Open (creating on first use) this user's store with a PRF secret from their passkey. */
export async function openVaultWithPrf(
  _userId: string,
  _credentialId: string,
  _prfSecret: Uint8Array,
): Promise<void> {}

/** The fallback when the authenticator has no PRF: a passphrase. */
export async function openVaultWithPassphrase(
  _userId: string,
  _passphrase: string,
): Promise<void> {}

export function closeVault(): void {}

export const vault = {
  async get<T>(_key: string): Promise<T | undefined> {
    return undefined;
  },
  async put(_key: string, _value: unknown): Promise<void> {},
  async delete(_key: string): Promise<void> {},
  async list(_prefix: string): Promise<string[]> {
    return [];
  },
};
