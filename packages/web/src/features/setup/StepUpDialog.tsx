/**
 * "Confirm it's you": an action answered `step_up_required` waits here
 * while the person proves presence again with their passkey (or an
 * authenticator code); the API client then sends the action once more.
 */
import { type FormEvent, useState } from 'react';
import { api, describeError } from '../../api/client.ts';
import { getAssertion } from '../../api/webauthn.ts';
import { Banner, Button, Dialog, TextField } from '../../ui/components.tsx';

export interface StepUpRequest {
  resolve: (confirmed: boolean) => void;
}

export function StepUpDialog({
  request,
  onDone,
}: {
  request: StepUpRequest | null;
  onDone: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [code, setCode] = useState('');

  const finish = (confirmed: boolean) => {
    request?.resolve(confirmed);
    setError(null);
    setCode('');
    onDone();
  };

  const attempt = async (proof: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await proof();
      finish(true);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  const withPasskey = () =>
    attempt(async () => {
      const { challengeId, options } = await api.post<{
        challengeId: string;
        options: PublicKeyCredentialRequestOptionsJSON;
      }>('/v1/auth/step-up/options', {}, { stepUp: false });
      const assertion = await getAssertion(options);
      await api.post(
        '/v1/auth/step-up/verify',
        { challengeId, response: assertion.response },
        { stepUp: false },
      );
    });

  const withCode = (event: FormEvent) => {
    event.preventDefault();
    void attempt(async () => {
      await api.post('/v1/auth/step-up/totp', { code }, { stepUp: false });
    });
  };

  return (
    <Dialog open={request !== null} title="Confirm it's you" onClose={() => finish(false)}>
      <p>
        This change is sensitive, so your organisation asks you to confirm with your passkey (or an
        authenticator code) first. It counts for the next five minutes.
      </p>
      {error ? <Banner tone="danger">{error}</Banner> : null}
      <div className="btn-row">
        <Button variant="primary" busy={busy} onClick={withPasskey}>
          Confirm with my passkey
        </Button>
        <Button onClick={() => finish(false)}>Cancel</Button>
      </div>
      <form onSubmit={withCode} className="step-up-code">
        <TextField
          label="Or an authenticator app code"
          inputMode="numeric"
          autoComplete="one-time-code"
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
        <Button type="submit" disabled={code.length < 6 || busy}>
          Confirm with the code
        </Button>
      </form>
    </Dialog>
  );
}
