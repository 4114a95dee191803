/**
 * The gate in front of every screen: a fresh server gets the init ceremony,
 * a sealed one the unseal page, a visitor the sign-in page, a member the
 * app. When the server cannot be reached at start, the offline copy (if
 * this device has one) can be opened with the passkey alone.
 */
import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, NetworkError } from '../api/client.ts';
import { InitScreen } from '../features/setup/InitScreen.tsx';
import { OfflineStartScreen } from '../features/setup/OfflineStartScreen.tsx';
import { SignInScreen } from '../features/setup/SignInScreen.tsx';
import { UnsealScreen } from '../features/setup/UnsealScreen.tsx';
import { closeVault } from '../offline/vault.ts';
import { Banner, Button, Spinner } from '../ui/components.tsx';
import { Shell } from './Shell.tsx';
import { type Me, SessionProvider } from './session.tsx';
import { updateAppStatus } from './status.ts';

export interface SysStatus {
  state: 'uninitialized' | 'sealed' | 'unsealed';
  initialized: boolean;
  sealed: boolean;
  installationId: string | null;
  providers: ('passphrase' | 'shamir')[];
  shares: { given: number; threshold: number; total: number } | null;
  storage: 'sqlite' | 'postgres';
  version: string;
}

type Phase =
  | { kind: 'loading' }
  | { kind: 'unreachable'; message: string }
  | { kind: 'uninitialized' }
  | { kind: 'sealed'; status: SysStatus }
  | { kind: 'signed-out' }
  | { kind: 'signed-in'; me: Me; offline: boolean };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });

  const check = useCallback(async () => {
    try {
      const status = await api.get<SysStatus>('/v1/sys/status');
      if (status.state === 'uninitialized') return setPhase({ kind: 'uninitialized' });
      if (status.state === 'sealed') return setPhase({ kind: 'sealed', status });
      updateAppStatus({ sealed: false });
      try {
        const me = await api.get<Me>('/v1/me');
        updateAppStatus({ sessionEnded: false });
        setPhase({ kind: 'signed-in', me, offline: false });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) setPhase({ kind: 'signed-out' });
        else throw error;
      }
    } catch (error) {
      if (error instanceof NetworkError) setPhase({ kind: 'unreachable', message: error.message });
      else
        setPhase({
          kind: 'unreachable',
          message: error instanceof Error ? error.message : String(error),
        });
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  const signedOut = useCallback(() => {
    closeVault();
    setPhase({ kind: 'signed-out' });
  }, []);

  switch (phase.kind) {
    case 'loading':
      return (
        <main className="center-page">
          <Spinner label="Connecting to the server…" />
        </main>
      );
    case 'unreachable':
      return (
        <OfflineStartScreen
          message={phase.message}
          onRetry={check}
          onOpened={(me) => setPhase({ kind: 'signed-in', me, offline: true })}
        />
      );
    case 'uninitialized':
      return <InitScreen onDone={check} />;
    case 'sealed':
      return <UnsealScreen status={phase.status} onDone={check} />;
    case 'signed-out':
      return <SignInScreen onSignedIn={check} />;
    case 'signed-in':
      return (
        <SessionProvider initial={phase.me} onSignedOut={signedOut}>
          {phase.offline ? (
            <div className="visually-hidden" role="status">
              Opened from this device's encrypted copy while the server is unreachable.
            </div>
          ) : null}
          <Shell onRecheck={check} />
        </SessionProvider>
      );
  }
}

/** Shown where something failed before any screen could load. */
export function FatalError({ message, onRetry }: { message: string; onRetry: () => void }) {
  return (
    <main className="center-page">
      <div className="center-card">
        <Banner
          tone="danger"
          title="Something went wrong"
          actions={<Button onClick={onRetry}>Try again</Button>}
        >
          {message}
        </Banner>
      </div>
    </main>
  );
}
