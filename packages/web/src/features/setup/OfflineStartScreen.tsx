/**
 * Shown when the server cannot be reached at start. Says so in plain words,
 * offers to try again, and — when this device keeps an offline copy for the
 * last account — opens it with the passkey (or the offline passphrase)
 * without the server, then starts the app from the profile saved inside.
 */
import { useState } from 'react';
import type { Me } from '../../app/session.tsx';
import { UnlockFlow } from '../../offline/UnlockFlow.tsx';
import { readOfflineProfile } from '../../offline/unlock.ts';
import { lastSession } from '../../offline/vault.ts';
import { Banner, Button, Card } from '../../ui/components.tsx';

export function OfflineStartScreen({
  message,
  onRetry,
  onOpened,
}: {
  message: string;
  onRetry: () => void;
  onOpened: (me: Me) => void;
}) {
  const [last] = useState(() => lastSession());
  return (
    <main className="center-page">
      <div className="center-card">
        <img className="logo" src="/icons/icon.svg" alt="" />
        <Banner
          tone="warning"
          title="The server cannot be reached"
          actions={
            <Button variant={last ? 'secondary' : 'primary'} onClick={onRetry}>
              Try again
            </Button>
          }
        >
          <p>{message}</p>
          <p>
            Your connection may be down, or the server may be restarting. Nothing on this device is
            lost.
          </p>
        </Banner>
        {last ? (
          <Card>
            <h2>Work offline</h2>
            <p>
              This device keeps an encrypted copy of what you last had open. You can open it with
              your passkey and keep working; your changes are sent when the server is back.
            </p>
            <UnlockFlow
              userId={last.userId}
              me={null}
              create={false}
              passkeyLabel="Open the offline copy on this device"
              onOpened={async () => onOpened(await readOfflineProfile())}
            />
          </Card>
        ) : (
          <p className="muted">
            There is no offline copy on this device yet. One is kept after you sign in with a
            passkey while the server can be reached.
          </p>
        )}
      </div>
    </main>
  );
}
