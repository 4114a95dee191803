/**
 * The init ceremony of a fresh server: choose how the root key is protected
 * (a passphrase, Shamir shares held by several operators, or both), see the
 * shares once, then register the first administrator's passkey with the
 * one-time setup link the server returns. Allowed from the server's own
 * machine only unless the operator enabled remote init.
 */
import { type FormEvent, useState } from 'react';
import { api, describeError } from '../../api/client.ts';
import { createCredential } from '../../api/webauthn.ts';
import { Banner, Button, Card, Checkbox, TextField } from '../../ui/components.tsx';
import {
  initialUnsealMaterial,
  UnsealMaterialFields,
  unsealMaterialBody,
  unsealMaterialProblem,
} from './UnsealMaterialFields.tsx';

interface InitResponse {
  installationId: string;
  shares: string[];
  threshold: number | null;
  operatorTokenFile: string;
  setupUrl?: string;
  expiresAt?: string;
}

export function InitScreen({ onDone }: { onDone: () => void }) {
  const [result, setResult] = useState<InitResponse | null>(null);
  return (
    <main className="center-page">
      <div className="center-card wide">
        <img className="logo" src="/icons/icon.svg" alt="" />
        <h1>Set up this Bulwark server</h1>
        {result ? (
          <FirstAdmin result={result} onDone={onDone} />
        ) : (
          <KeyChoice onInitialised={setResult} />
        )}
      </div>
    </main>
  );
}

function KeyChoice({ onInitialised }: { onInitialised: (result: InitResponse) => void }) {
  const [material, setMaterial] = useState(initialUnsealMaterial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const problem = unsealMaterialProblem(material);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (problem) return;
    setBusy(true);
    setError(null);
    try {
      onInitialised(await api.post<InitResponse>('/v1/sys/init', unsealMaterialBody(material)));
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card>
      <h2>1. Protect the root key</h2>
      <p className="muted">
        Everything the server stores is encrypted under one root key. Decide what unlocks
        ("unseals") it after a restart. Nobody, not even us, can recover it without this.
      </p>
      {error ? <Banner tone="danger">{error}</Banner> : null}
      <form onSubmit={submit}>
        <UnsealMaterialFields value={material} onChange={setMaterial} />
        <Button type="submit" variant="primary" busy={busy} disabled={problem !== null}>
          Initialise the server
        </Button>
      </form>
    </Card>
  );
}

function FirstAdmin({ result, onDone }: { result: InitResponse; onDone: () => void }) {
  const [displayName, setDisplayName] = useState('');
  const [username, setUsername] = useState('');
  const [sharesSaved, setSharesSaved] = useState(result.shares.length === 0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const token = result.setupUrl ? new URL(result.setupUrl).hash.slice(1) : '';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { challengeId, options } = await api.post<{
        challengeId: string;
        options: PublicKeyCredentialCreationOptionsJSON;
      }>('/v1/auth/setup/options', { token, displayName, username });
      const { response } = await createCredential(options);
      await api.post('/v1/auth/setup/verify', { token, challengeId, response });
      onDone();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Banner tone="success" title="The server is initialised and unsealed">
        Installation <code>{result.installationId}</code>. The operator token (for sealing and
        rekeying) was written to <code>{result.operatorTokenFile}</code> on the server.
      </Banner>
      {result.shares.length > 0 ? (
        <Card>
          <h2>Key shares — shown only now</h2>
          <p>
            Give each share to a different operator; {result.threshold} of them together unseal the
            server. The server does not keep them.
          </p>
          <ol className="shares">
            {result.shares.map((share) => (
              <li key={share}>
                <code className="secret">{share}</code>
              </li>
            ))}
          </ol>
          <Checkbox
            label="Each share is with its operator"
            checked={sharesSaved}
            onChange={(e) => setSharesSaved(e.target.checked)}
          />
        </Card>
      ) : null}
      <Card>
        <h2>2. The first administrator</h2>
        {token ? (
          <form onSubmit={submit}>
            {error ? <Banner tone="danger">{error}</Banner> : null}
            <TextField
              label="Your name"
              autoComplete="name"
              value={displayName}
              onChange={(e) => setDisplayName(e.target.value)}
              required
            />
            <TextField
              label="Username"
              autoComplete="username"
              hint="Lower-case letters, digits, dots, dashes."
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              required
            />
            <Button type="submit" variant="primary" busy={busy} disabled={!sharesSaved}>
              Create my passkey
            </Button>
          </form>
        ) : (
          <Banner tone="warning">
            The server gave no setup link (an administrator exists already). Sign in instead.
          </Banner>
        )}
      </Card>
    </>
  );
}
