/**
 * A banner at the top of the signed-in shell while this account's offline
 * copy is locked (after a sign-in without a passkey PRF, a reload, or
 * another tab's reset): unlock it with the passkey, or the offline
 * passphrase, so changes can be kept and sent while offline.
 */
import { useState } from 'react';
import { useSession } from '../app/session.tsx';
import { Banner, Button } from '../ui/components.tsx';
import { UnlockFlow } from './UnlockFlow.tsx';
import { openVaultUserId, useVaultState } from './vault.ts';

export function VaultUnlock() {
  const { me } = useSession();
  const state = useVaultState();
  const [dismissed, setDismissed] = useState(false);
  if ((state === 'open' && openVaultUserId() === me.user.id) || dismissed) return null;
  return (
    <Banner
      tone="info"
      title="Offline copy locked"
      actions={
        <Button variant="ghost" onClick={() => setDismissed(true)}>
          Not now
        </Button>
      }
    >
      <p>
        Unlock the encrypted copy kept on this device to work while offline: changes you make are
        kept there, and sent when the server can be reached.
      </p>
      <UnlockFlow
        userId={me.user.id}
        me={me}
        create
        passkeyLabel="Unlock with your passkey"
        onOpened={() => undefined}
      />
    </Banner>
  );
}
