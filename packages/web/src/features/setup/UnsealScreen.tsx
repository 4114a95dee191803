/**
 * A sealed server: operators give the passphrase, or their key shares one
 * after another (each from their own device if they like — progress is the
 * server's), until the threshold is reached.
 */
import { type FormEvent, useState } from 'react';
import { api, describeError } from '../../api/client.ts';
import type { SysStatus } from '../../app/App.tsx';
import { Banner, Button, Card, TextField } from '../../ui/components.tsx';

export function UnsealScreen({ status, onDone }: { status: SysStatus; onDone: () => void }) {
  const [current, setCurrent] = useState(status);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const byShares = current.providers.includes('shamir');
  const byPassphrase = current.providers.includes('passphrase');
  const [mode, setMode] = useState<'passphrase' | 'share'>(byPassphrase ? 'passphrase' : 'share');

  const send = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const next = await api.post<SysStatus>('/v1/sys/unseal', body);
      setCurrent(next);
      setSecret('');
      if (next.state === 'unsealed') onDone();
      else if (next.shares)
        setNotice(
          `Share accepted: ${next.shares.given} of ${next.shares.threshold}. The next operator can now enter theirs.`,
        );
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send(mode === 'passphrase' ? { passphrase: secret } : { share: secret.trim() });
  };

  return (
    <main className="center-page">
      <div className="center-card">
        <img className="logo" src="/icons/icon.svg" alt="" />
        <h1>This server is sealed</h1>
        <p className="muted">
          Its keys are locked (after a restart, or an operator sealed it). Nothing can be read until
          an operator unseals it. If you are not an operator, wait and try again later — your
          offline changes stay on your device.
        </p>
        {error ? <Banner tone="danger">{error}</Banner> : null}
        {notice ? <Banner tone="success">{notice}</Banner> : null}
        <Card>
          {byShares && byPassphrase ? (
            <fieldset className="btn-row choices">
              <legend className="visually-hidden">Unseal with</legend>
              <Button aria-pressed={mode === 'passphrase'} onClick={() => setMode('passphrase')}>
                Passphrase
              </Button>
              <Button aria-pressed={mode === 'share'} onClick={() => setMode('share')}>
                Key share
              </Button>
            </fieldset>
          ) : null}
          {mode === 'share' && current.shares ? (
            <p>
              <strong>
                {current.shares.given} of {current.shares.threshold}
              </strong>{' '}
              shares given so far ({current.shares.total} exist).
            </p>
          ) : null}
          <form onSubmit={submit}>
            <TextField
              label={mode === 'passphrase' ? 'Unseal passphrase' : 'Your key share'}
              type="password"
              autoComplete="off"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
              required
            />
            <div className="btn-row">
              <Button type="submit" variant="primary" busy={busy}>
                {mode === 'passphrase' ? 'Unseal' : 'Add my share'}
              </Button>
              {mode === 'share' && current.shares && current.shares.given > 0 ? (
                <Button variant="danger" onClick={() => void send({ reset: true })}>
                  Start over
                </Button>
              ) : null}
              <Button variant="ghost" onClick={onDone}>
                Check again
              </Button>
            </div>
          </form>
        </Card>
      </div>
    </main>
  );
}
