/**
 * The steps around the vault that the screens share: after a passkey
 * sign-in, unlocking with a passkey alone (the server may be unreachable),
 * unlocking with the offline passphrase, and reading back the profile kept
 * inside. Logic only (no JSX), so it stays testable and the screens thin.
 */
import { api, NetworkError } from '../api/client.ts';
import { type AssertionResult, getAssertion, prfWithoutServer } from '../api/webauthn.ts';
import type { Me } from '../app/session.tsx';
import { loadOutbox } from './outbox.ts';
import { rememberCredential, rememberedCredentials } from './remembered-devices.ts';
import {
  openVaultUserId,
  openVaultWithPassphrase,
  openVaultWithPrf,
  rememberDevice,
  type VaultInfo,
  VaultOpenError,
  vault,
  vaultInfo,
} from './vault.ts';

export type OfflineSetupResult =
  | { status: 'open' }
  | { status: 'no-prf' }
  | { status: 'cannot-open'; error: VaultOpenError }
  | { status: 'error'; error: unknown };

/**
 * Call after every passkey sign-in (the server verified the credential
 * belongs to `me`): remembers the credential, opens or creates the offline
 * copy, keeps the profile in it and loads the outbox. Never throws — the
 * sign-in must not fail because of the offline copy; the banner
 * (`<VaultUnlock />`) offers the rest.
 */
export async function afterPasskeySignIn(
  me: Me,
  credentialId: string,
  prfSecret: Uint8Array | null,
): Promise<OfflineSetupResult> {
  try {
    rememberCredential(me.user.id, credentialId);
    if (!prfSecret) return { status: 'no-prf' };
    await openVaultWithPrf(me.user.id, credentialId, prfSecret);
    await rememberDevice(me, credentialId);
    await loadOutbox();
    return { status: 'open' };
  } catch (error) {
    if (error instanceof VaultOpenError) return { status: 'cannot-open', error };
    return { status: 'error', error };
  }
}

export type UnlockOutcome = { status: 'open' } | { status: 'no-prf'; info: VaultInfo };

/**
 * Unlock with a passkey and no server: the PRF output opens the copy. Only a
 * passkey this device has seen sign in to this account may *create* a copy
 * (with an empty allow-list the browser offers any passkey for this site,
 * and a stranger's passkey must not become a key to this person's data).
 */
export async function unlockWithPasskey(
  userId: string,
  options: { me: Me | null; create: boolean },
): Promise<UnlockOutcome> {
  const remembered = rememberedCredentials(userId);
  // Signed in and online: the server checks the passkey is this account's
  // (a step-up ceremony), which makes it safe to start a copy with it.
  const proven = options.me ? await assertionProvenByServer() : null;
  const assertion = proven ?? (await prfWithoutServer(remembered));
  if (!assertion.prfSecret) return { status: 'no-prf', info: await vaultInfo(userId) };
  await openVaultWithPrf(userId, assertion.credentialId, assertion.prfSecret, {
    create: options.create && (proven !== null || remembered.includes(assertion.credentialId)),
  });
  // It opened, so it holds a wrapping: a passkey of this account.
  rememberCredential(userId, assertion.credentialId);
  await afterOpen(options.me);
  return { status: 'open' };
}

/** A step-up ceremony with PRF: null when the server cannot be reached (then unlock locally). */
async function assertionProvenByServer(): Promise<AssertionResult | null> {
  let options: { challengeId: string; options: PublicKeyCredentialRequestOptionsJSON };
  try {
    options = await api.post('/v1/auth/step-up/options', {}, { stepUp: false });
  } catch (error) {
    if (error instanceof NetworkError) return null;
    throw error;
  }
  const assertion = await getAssertion(options.options);
  await api.post(
    '/v1/auth/step-up/verify',
    { challengeId: options.challengeId, response: assertion.response },
    { stepUp: false },
  );
  return assertion;
}

export async function unlockWithPassphrase(
  userId: string,
  passphrase: string,
  options: { me: Me | null; create: boolean },
): Promise<void> {
  await openVaultWithPassphrase(userId, passphrase, { create: options.create });
  await afterOpen(options.me);
}

async function afterOpen(me: Me | null): Promise<void> {
  if (me) await vault.put('me', me);
  await loadOutbox();
}

/** The profile saved in the open copy, for starting without the server. */
export async function readOfflineProfile(): Promise<Me> {
  const me = await vault.get<Me>('me');
  if (!me?.user || me.user.id !== openVaultUserId())
    throw new Error(
      'This offline copy has no saved profile yet. Sign in once while the server can be reached to save it.',
    );
  return me;
}
