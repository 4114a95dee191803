/**
 * Sign in: the passkey first (phishing-resistant, and its PRF opens this
 * device's offline copy at the same touch), then whatever else the
 * installation offers — authenticator app after a password, LDAP / Active
 * Directory, single sign-on (OIDC), a recovery code, and SMS labelled as the
 * insecure method it is.
 */
import { type FormEvent, useEffect, useState } from 'react';
import { api, describeError } from '../../api/client.ts';
import { getAssertion, passkeysSupported } from '../../api/webauthn.ts';
import type { Me } from '../../app/session.tsx';
import { afterPasskeySignIn } from '../../offline/unlock.ts';
import { Badge, Banner, Button, Card, TextField, useResource } from '../../ui/components.tsx';

interface LoginMethods {
  passkey: boolean;
  recoveryCodes: boolean;
  password: boolean;
  sms: boolean;
  ldap: { id: string; kind: 'openldap' | 'active-directory'; org: string | null }[];
  oidc: { id: string; org: string | null }[];
}

interface PendingSecondFactor {
  challengeId: string;
  methods: string[];
}

/** After any sign-in: who am I, and open the offline copy when the passkey gave a PRF secret. */
async function afterSignIn(credentialId?: string, prfSecret?: Uint8Array | null): Promise<void> {
  const me = await api.get<Me>('/v1/me');
  // Never throws: the app works online without it, and the shell offers to unlock later.
  if (credentialId) await afterPasskeySignIn(me, credentialId, prfSecret ?? null);
}

export function SignInScreen({ onSignedIn }: { onSignedIn: () => void }) {
  const methods = useResource('login-methods', (signal) =>
    api.get<LoginMethods>('/v1/auth/methods', { signal }),
  );
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<PendingSecondFactor | null>(null);

  useEffect(() => {
    document.title = 'Sign in · Bulwark';
  }, []);

  const run = async (what: string, action: () => Promise<void>, signsIn = true) => {
    setBusy(what);
    setError(null);
    try {
      await action();
      if (signsIn) onSignedIn();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(null);
    }
  };

  const withPasskey = () =>
    run('passkey', async () => {
      const { challengeId, options } = await api.post<{
        challengeId: string;
        options: PublicKeyCredentialRequestOptionsJSON;
      }>('/v1/auth/passkey/login/options');
      const assertion = await getAssertion(options);
      await api.post('/v1/auth/passkey/login/verify', {
        challengeId,
        response: assertion.response,
      });
      await afterSignIn(assertion.credentialId, assertion.prfSecret);
    });

  const m = methods.data;
  return (
    <main className="center-page">
      <div className="center-card">
        <img className="logo" src="/icons/icon.svg" alt="" />
        <h1>Sign in to Bulwark</h1>
        <p className="muted">Your organisation's end-to-end encrypted workspace.</p>
        {error ? <Banner tone="danger">{error}</Banner> : null}
        <Card>
          <h2>With your passkey</h2>
          <p className="muted">
            Use this device's screen lock or your security key. Passkeys cannot be phished and
            satisfy every security policy.
          </p>
          {passkeysSupported() ? (
            <Button variant="primary" busy={busy === 'passkey'} onClick={withPasskey}>
              Sign in with a passkey
            </Button>
          ) : (
            <Banner tone="warning">
              This browser cannot use passkeys. Use another method below.
            </Banner>
          )}
        </Card>
        {pending ? (
          <SecondFactor
            pending={pending}
            busy={busy}
            onSubmit={(body) =>
              run('second-factor', async () => {
                await api.post('/v1/auth/login/second-factor', body);
                await afterSignIn();
              })
            }
          />
        ) : null}
        {m && !pending ? (
          <OtherMethods
            methods={m}
            busy={busy}
            onPassword={(username, password) =>
              run(
                'password',
                async () =>
                  setPending(
                    await api.post<PendingSecondFactor>('/v1/auth/login/password', {
                      username,
                      password,
                    }),
                  ),
                false, // not signed in yet: the second factor follows
              )
            }
            onLdap={(connector, username, password) =>
              run('ldap', async () => {
                await api.post('/v1/auth/login/ldap', { connector, username, password });
                await afterSignIn();
              })
            }
            onRecovery={(username, code) =>
              run('recovery', async () => {
                await api.post('/v1/auth/login/recovery', { username, code });
                await afterSignIn();
              })
            }
          />
        ) : null}
        {methods.error ? <Banner tone="warning">{describeError(methods.error)}</Banner> : null}
      </div>
    </main>
  );
}

function SecondFactor({
  pending,
  busy,
  onSubmit,
}: {
  pending: PendingSecondFactor;
  busy: string | null;
  onSubmit: (body: Record<string, string>) => void;
}) {
  const [method, setMethod] = useState(pending.methods[0] ?? 'totp');
  const [code, setCode] = useState('');
  const [smsChallengeId, setSmsChallengeId] = useState<string | null>(null);
  const [smsError, setSmsError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit({
      challengeId: pending.challengeId,
      method,
      code,
      ...(smsChallengeId ? { smsChallengeId } : {}),
    });
  };
  const sendSms = async () => {
    setSmsError(null);
    try {
      const sent = await api.post<{ challengeId: string }>('/v1/auth/login/second-factor/sms', {
        challengeId: pending.challengeId,
      });
      setSmsChallengeId(sent.challengeId);
    } catch (failure) {
      setSmsError(describeError(failure));
    }
  };
  return (
    <Card>
      <h2>Second step</h2>
      <form onSubmit={submit}>
        <fieldset className="choices">
          <legend>Confirm with</legend>
          {pending.methods.map((option) => (
            <label key={option} className="checkbox">
              <input
                type="radio"
                name="second-factor"
                value={option}
                checked={method === option}
                onChange={() => setMethod(option)}
              />
              {option === 'totp'
                ? 'Authenticator app code'
                : option === 'recovery-code'
                  ? 'Recovery code'
                  : option === 'sms'
                    ? 'Text message (SMS)'
                    : option}
              {option === 'sms' ? <Badge tone="danger">Insecure</Badge> : null}
            </label>
          ))}
        </fieldset>
        {method === 'sms' ? (
          <Banner tone="warning" title="SMS is the weakest method">
            Text messages can be intercepted or redirected to another SIM. Prefer a passkey.{' '}
            <Button className="btn-small" onClick={sendSms}>
              {smsChallengeId ? 'Send again' : 'Send me a code'}
            </Button>
            {smsError ? <span className="field-error"> {smsError}</span> : null}
          </Banner>
        ) : null}
        <TextField
          label="Code"
          autoComplete="one-time-code"
          inputMode={method === 'recovery-code' ? 'text' : 'numeric'}
          value={code}
          onChange={(e) => setCode(e.target.value)}
          required
        />
        <Button type="submit" variant="primary" busy={busy === 'second-factor'}>
          Finish signing in
        </Button>
      </form>
    </Card>
  );
}

function OtherMethods({
  methods,
  busy,
  onPassword,
  onLdap,
  onRecovery,
}: {
  methods: LoginMethods;
  busy: string | null;
  onPassword: (username: string, password: string) => void;
  onLdap: (connector: string, username: string, password: string) => void;
  onRecovery: (username: string, code: string) => void;
}) {
  const [username, setUsername] = useState('');
  const [secret, setSecret] = useState('');
  const [mode, setMode] = useState<string | null>(null);
  const directoryLabel = (kind: string) =>
    kind === 'active-directory' ? 'Active Directory' : 'LDAP directory';
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mode === 'password') onPassword(username, secret);
    else if (mode === 'recovery') onRecovery(username, secret);
    else if (mode?.startsWith('ldap:')) onLdap(mode.slice(5), username, secret);
  };
  return (
    <Card>
      <h2>Other ways to sign in</h2>
      <div className="btn-row">
        {methods.oidc.map((connector) => (
          <a
            key={connector.id}
            className="btn"
            href={`/v1/auth/oidc/${encodeURIComponent(connector.id)}/start`}
          >
            Single sign-on: {connector.id}
          </a>
        ))}
        {methods.ldap.map((connector) => (
          <Button
            key={connector.id}
            aria-pressed={mode === `ldap:${connector.id}`}
            onClick={() => setMode(`ldap:${connector.id}`)}
          >
            {directoryLabel(connector.kind)} ({connector.id})
          </Button>
        ))}
        {methods.password ? (
          <Button aria-pressed={mode === 'password'} onClick={() => setMode('password')}>
            Password and second factor
          </Button>
        ) : null}
        <Button aria-pressed={mode === 'recovery'} onClick={() => setMode('recovery')}>
          Recovery code
        </Button>
      </div>
      {methods.sms ? (
        <p className="muted">
          SMS codes are accepted as a second step after a password{' '}
          <Badge tone="danger">Insecure</Badge>
        </p>
      ) : null}
      {mode ? (
        <form onSubmit={submit} className="other-method">
          <TextField
            label="Username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
          <TextField
            label={mode === 'recovery' ? 'Recovery code' : 'Password'}
            type={mode === 'recovery' ? 'text' : 'password'}
            autoComplete={mode === 'recovery' ? 'off' : 'current-password'}
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            required
          />
          <Button type="submit" variant="primary" busy={busy !== null && busy !== 'passkey'}>
            {mode === 'recovery' ? 'Sign in with the recovery code' : 'Continue'}
          </Button>
        </form>
      ) : null}
    </Card>
  );
}
