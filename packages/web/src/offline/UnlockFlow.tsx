/**
 * The steps to open the offline copy, shared by the banner in the shell and
 * the offline start screen: passkey first; when the passkey gives no PRF
 * output or cannot open this copy, the offline passphrase, or (signed in
 * only) a fresh copy.
 */
import { useState } from 'react';
import { describeError } from '../api/client.ts';
import type { Me } from '../app/session.tsx';
import { Button, ErrorNote, useAction } from '../ui/components.tsx';
import { PassphraseForm } from './PassphraseForm.tsx';
import { unlockWithPasskey, unlockWithPassphrase } from './unlock.ts';
import { resetVault, VaultOpenError, vaultInfo } from './vault.ts';

type Step =
  | { kind: 'start'; note: string | null }
  | { kind: 'passphrase'; mode: 'unlock' | 'create'; why: string }
  | { kind: 'cannot-open'; why: string; hasPassphrase: boolean };

const noPrf =
  'Your passkey cannot give this browser a key for the offline copy (it does not support the “PRF” extension, which many older security keys and some password managers lack).';

export function UnlockFlow({
  userId,
  me,
  create,
  passkeyLabel,
  onOpened,
}: {
  userId: string;
  /** The profile to keep inside the copy (signed in), or null (offline start reads it). */
  me: Me | null;
  /** Signed in: a missing or unopenable copy may be made afresh. Offline: never. */
  create: boolean;
  passkeyLabel: string;
  onOpened: () => void | Promise<void>;
}) {
  const [step, setStep] = useState<Step>({ kind: 'start', note: null });

  const withPasskey = useAction(async () => {
    try {
      const outcome = await unlockWithPasskey(userId, { me, create });
      if (outcome.status === 'open') return await onOpened();
      const { info } = outcome;
      if (info.hasPassphrase)
        setStep({
          kind: 'passphrase',
          mode: 'unlock',
          why: `${noPrf} Use your offline passphrase.`,
        });
      else if (!info.exists && create)
        setStep({
          kind: 'passphrase',
          mode: 'create',
          why: `${noPrf} Choose an offline passphrase to protect the copy on this device instead.`,
        });
      else
        setStep({
          kind: 'cannot-open',
          hasPassphrase: false,
          why: info.exists
            ? `${noPrf} No offline passphrase was set for this copy, so it cannot be opened without the passkey that made it.`
            : `${noPrf} There is no offline copy of this account on this device yet.`,
        });
    } catch (error) {
      if (!(error instanceof VaultOpenError)) throw error;
      if (error.reason === 'unknown-passkey') {
        const info = await vaultInfo(userId);
        setStep({ kind: 'cannot-open', why: error.message, hasPassphrase: info.hasPassphrase });
      } else if (error.reason === 'no-vault' && create) {
        setStep({
          kind: 'passphrase',
          mode: 'create',
          why: 'This passkey has not signed in to this account on this device yet, so it cannot start an offline copy. Sign out and sign in with it once, or choose an offline passphrase.',
        });
      } else throw error;
    }
  });

  const freshStart = useAction(async () => {
    await resetVault(userId);
    setStep({
      kind: 'start',
      note: 'The old offline copy was deleted. Unlock to start a fresh one.',
    });
  });
  const [confirmFresh, setConfirmFresh] = useState(false);

  if (step.kind === 'passphrase')
    return (
      <>
        <p>{step.why}</p>
        <PassphraseForm
          mode={step.mode}
          onSubmit={async (passphrase) => {
            await unlockWithPassphrase(userId, passphrase, { me, create: step.mode === 'create' });
            await onOpened();
          }}
          onCancel={() => setStep({ kind: 'start', note: null })}
        />
      </>
    );

  if (step.kind === 'cannot-open')
    return (
      <>
        <p>{step.why}</p>
        {create ? (
          <p className="muted">
            Starting a fresh offline copy deletes the locked one on this device, including any
            changes made offline that were never sent. What is on the server is not touched.
          </p>
        ) : null}
        <ErrorNote error={freshStart.error} />
        <div className="btn-row">
          {step.hasPassphrase ? (
            <Button
              variant="primary"
              onClick={() =>
                setStep({
                  kind: 'passphrase',
                  mode: 'unlock',
                  why: 'Enter your offline passphrase.',
                })
              }
            >
              Use the offline passphrase
            </Button>
          ) : null}
          {create && !confirmFresh ? (
            <Button onClick={() => setConfirmFresh(true)}>Start a fresh offline copy…</Button>
          ) : null}
          {create && confirmFresh ? (
            <>
              <Button variant="danger" busy={freshStart.busy} onClick={() => void freshStart.run()}>
                Delete the old copy and start fresh
              </Button>
              <Button variant="ghost" onClick={() => setConfirmFresh(false)}>
                Keep it
              </Button>
            </>
          ) : null}
          <Button variant="ghost" onClick={() => setStep({ kind: 'start', note: null })}>
            Try another passkey
          </Button>
        </div>
      </>
    );

  return (
    <>
      {step.note ? <p role="status">{step.note}</p> : null}
      {withPasskey.error ? <p className="field-error">{describeError(withPasskey.error)}</p> : null}
      <div className="btn-row">
        <Button variant="primary" busy={withPasskey.busy} onClick={() => void withPasskey.run()}>
          {passkeyLabel}
        </Button>
      </div>
    </>
  );
}
