/**
 * The offline passphrase: typed to open the offline copy when the passkey
 * gives no PRF output, or chosen (twice) to create one.
 */
import { type FormEvent, useState } from 'react';
import { Button, ErrorNote, TextField, useAction } from '../ui/components.tsx';
import { MIN_PASSPHRASE_LENGTH } from './vault.ts';

export function PassphraseForm({
  mode,
  onSubmit,
  onCancel,
}: {
  mode: 'unlock' | 'create';
  onSubmit: (passphrase: string) => Promise<void>;
  onCancel?: () => void;
}) {
  const [passphrase, setPassphrase] = useState('');
  const [repeat, setRepeat] = useState('');
  const [mismatch, setMismatch] = useState<string | null>(null);
  const submit = useAction(onSubmit);

  const send = (event: FormEvent) => {
    event.preventDefault();
    if (mode === 'create' && passphrase !== repeat) {
      setMismatch('The two passphrases are not the same.');
      return;
    }
    setMismatch(null);
    void submit.run(passphrase);
  };

  return (
    <form onSubmit={send}>
      <TextField
        label={mode === 'create' ? 'Choose an offline passphrase' : 'Offline passphrase'}
        type="password"
        autoComplete={mode === 'create' ? 'new-password' : 'current-password'}
        required
        minLength={mode === 'create' ? MIN_PASSPHRASE_LENGTH : undefined}
        value={passphrase}
        onChange={(event) => setPassphrase(event.target.value)}
        hint={
          mode === 'create'
            ? `At least ${MIN_PASSPHRASE_LENGTH} characters; a few unrelated words work well. It only opens the copy on this device, and nobody can recover it for you.`
            : undefined
        }
      />
      {mode === 'create' ? (
        <TextField
          label="Type it again"
          type="password"
          autoComplete="new-password"
          required
          value={repeat}
          onChange={(event) => setRepeat(event.target.value)}
          error={mismatch}
        />
      ) : null}
      <ErrorNote error={submit.error} />
      <div className="btn-row">
        <Button type="submit" variant="primary" busy={submit.busy}>
          {mode === 'create' ? 'Set passphrase and open' : 'Open the offline copy'}
        </Button>
        {onCancel ? (
          <Button variant="ghost" onClick={onCancel}>
            Cancel
          </Button>
        ) : null}
      </div>
    </form>
  );
}
