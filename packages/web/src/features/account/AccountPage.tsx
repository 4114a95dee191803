/**
 * The signed-in person's account: passkeys, authenticator app, recovery
 * codes, SMS (only where the server offers it, labelled insecure),
 * password (where allowed), sessions and devices, messaging devices, and
 * their own activity in the audit ledger. Sensitive changes ask for a
 * step-up through the API client.
 */
import { type ReactNode, useEffect, useState } from 'react';
import { Link } from 'wouter';
import { ApiError, api, seg } from '../../api/client.ts';
import { createCredential } from '../../api/webauthn.ts';
import { useSession } from '../../app/session.tsx';
import {
  Badge,
  Banner,
  Button,
  Card,
  Dialog,
  EmptyState,
  ErrorNote,
  formatDate,
  PageHeader,
  Spinner,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import { AuditBrowser } from '../admin/AuditTable.tsx';
import '../admin/admin.css';

export interface LoginMethods {
  passkey: boolean;
  password: boolean;
  sms: boolean;
  recoveryCodes: boolean;
  ldap: { id: string; name?: string; kind?: string; org?: string | null }[];
  oidc: { id: string; name?: string; org?: string | null }[];
}

interface Tab {
  id: string;
  label: string;
}

export default function AccountPage({ tab }: { tab?: string | undefined }) {
  const { me } = useSession();
  const methods = useResource('auth-methods', (signal) =>
    api.get<LoginMethods>('/v1/auth/methods', { signal }),
  );
  const tabs: Tab[] = [
    { id: 'passkeys', label: 'Passkeys' },
    { id: 'authenticator', label: 'Authenticator app' },
    { id: 'recovery', label: 'Recovery codes' },
    ...(methods.data?.sms ? [{ id: 'sms', label: 'SMS — insecure' }] : []),
    ...(methods.data?.password ? [{ id: 'password', label: 'Password' }] : []),
    { id: 'sessions', label: 'Sessions and devices' },
    { id: 'messaging', label: 'Messaging devices' },
    { id: 'activity', label: 'My activity' },
  ];
  const current = tab ?? 'passkeys';
  const known = tabs.some((t) => t.id === current);
  return (
    <>
      <PageHeader
        title="Your account"
        subtitle={`${me.user.displayName}${me.user.username ? ` (${me.user.username})` : ''}`}
      />
      <nav className="tabs" aria-label="Account">
        {tabs.map((t) => (
          <Link
            key={t.id}
            href={`/account/${t.id}`}
            aria-current={t.id === current ? 'page' : undefined}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      {current === 'passkeys' ? <PasskeysTab /> : null}
      {current === 'authenticator' ? <TotpTab /> : null}
      {current === 'recovery' ? <RecoveryTab /> : null}
      {current === 'sms' && methods.data?.sms ? <SmsTab /> : null}
      {current === 'password' && methods.data?.password ? <PasswordTab /> : null}
      {current === 'sessions' ? <SessionsTab /> : null}
      {current === 'messaging' ? <MessagingDevicesTab /> : null}
      {current === 'activity' ? (
        <Card>
          <AuditBrowser
            path="/v1/me/audit/entries"
            filters={['action', 'since', 'until', 'issue']}
            title="My activity"
            intro="What you did, as recorded in the tamper-evident audit ledger. Verify checks these entries against the ledger's signed head in this browser."
          />
        </Card>
      ) : null}
      {!known && !methods.loading ? (
        <Banner tone="warning" title="No such section">
          <Link href="/account/passkeys">Go to your passkeys</Link>
        </Banner>
      ) : null}
    </>
  );
}

/** Explains refusals people meet here, in plain words (the server's words otherwise). */
function AccountError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'last_factor')
    return (
      <Banner tone="danger" title="That is your last way to sign in">
        {error.message} Add another passkey (or an authenticator app and recovery codes) first, so
        you cannot be locked out of your account.
      </Banner>
    );
  return <ErrorNote error={error} />;
}

// --- passkeys ------------------------------------------------------------------

interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  aaguid: string;
  backedUp: boolean;
  deviceType: 'singleDevice' | 'multiDevice';
}

function PasskeysTab() {
  const list = useResource('me-passkeys', (signal) =>
    api.get<{ passkeys: Passkey[] }>('/v1/me/passkeys', { signal }),
  );
  const [name, setName] = useState('');
  const [added, setAdded] = useState<string | null>(null);
  const add = useAction(async () => {
    setAdded(null);
    const start = await api.post<{
      challengeId: string;
      options: PublicKeyCredentialCreationOptionsJSON;
    }>('/v1/me/passkeys/options', {});
    const { response } = await createCredential(start.options);
    const body = {
      challengeId: start.challengeId,
      response,
      ...(name.trim() ? { name: name.trim() } : {}),
    };
    const result = await api.post<{ passkey: Passkey }>('/v1/me/passkeys/verify', body);
    setAdded(result.passkey.name);
    setName('');
    list.reload();
  });
  const [renaming, setRenaming] = useState<Passkey | null>(null);
  const [removing, setRemoving] = useState<Passkey | null>(null);
  const passkeys = list.data?.passkeys ?? [];
  return (
    <Card>
      <h2>Passkeys</h2>
      <p className="muted">
        Passkeys sign you in without a password and cannot be phished. Keep at least two — for
        example this device and a security key — so losing one does not lock you out.
      </p>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Spinner label="Loading passkeys…" /> : null}
      {list.data && passkeys.length === 0 ? <EmptyState title="No passkeys yet" /> : null}
      <ul className="list" aria-label="Your passkeys">
        {passkeys.map((p) => (
          <li key={p.id}>
            <div className="item-main">
              <div className="item-title">{p.name}</div>
              <div className="item-meta">
                Added {formatDate(p.createdAt)} · Last used{' '}
                {p.lastUsedAt ? formatDate(p.lastUsedAt) : 'never'}
              </div>
              <div className="item-meta">
                {p.backedUp ? (
                  <Badge tone="info" title="Synced by your platform (e.g. iCloud, Google)">
                    Backed up (synced)
                  </Badge>
                ) : (
                  <Badge tone="success" title="Stays on one device or security key">
                    Device-bound
                  </Badge>
                )}{' '}
                <span className="mono">Model {p.aaguid}</span>
              </div>
            </div>
            <div className="btn-row">
              <Button className="btn-small" onClick={() => setRenaming(p)}>
                Rename<span className="visually-hidden"> {p.name}</span>
              </Button>
              <Button className="btn-small" variant="danger" onClick={() => setRemoving(p)}>
                Remove<span className="visually-hidden"> {p.name}</span>
              </Button>
            </div>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void add.run();
        }}
      >
        <h3>Add a passkey</h3>
        <TextField
          label="Name (optional)"
          hint="So you can tell it apart later, e.g. “Work laptop” or “Blue security key”."
          value={name}
          maxLength={100}
          onChange={(e) => setName(e.target.value)}
        />
        <AccountError error={add.error} />
        {added ? <Banner tone="success">Passkey “{added}” added.</Banner> : null}
        <Button type="submit" variant="primary" busy={add.busy}>
          Add a passkey
        </Button>
      </form>
      <RenamePasskey
        passkey={renaming}
        onClose={() => setRenaming(null)}
        onDone={() => {
          setRenaming(null);
          list.reload();
        }}
      />
      <RemovePasskey
        passkey={removing}
        onClose={() => setRemoving(null)}
        onDone={() => {
          setRemoving(null);
          list.reload();
        }}
      />
    </Card>
  );
}

function RenamePasskey({
  passkey,
  onClose,
  onDone,
}: {
  passkey: Passkey | null;
  onClose: () => void;
  onDone: () => void;
}) {
  const [name, setName] = useState('');
  useEffect(() => setName(passkey?.name ?? ''), [passkey]);
  const rename = useAction(async () => {
    if (!passkey) return;
    await api.patch(`/v1/me/passkeys/${seg(passkey.id)}`, { name: name.trim() });
    onDone();
  });
  return (
    <Dialog open={passkey !== null} title="Rename passkey" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void rename.run();
        }}
      >
        <TextField
          label="New name"
          value={name}
          required
          maxLength={100}
          onChange={(e) => setName(e.target.value)}
        />
        <ErrorNote error={rename.error} />
        <div className="btn-row">
          <Button type="submit" variant="primary" busy={rename.busy} disabled={!name.trim()}>
            Rename
          </Button>
          <Button onClick={onClose}>Cancel</Button>
        </div>
      </form>
    </Dialog>
  );
}

function RemovePasskey({
  passkey,
  onClose,
  onDone,
}: {
  passkey: Passkey | null;
  onClose: () => void;
  onDone: () => void;
}) {
  const remove = useAction(async () => {
    if (!passkey) return;
    await api.delete(`/v1/me/passkeys/${seg(passkey.id)}`);
    onDone();
  });
  return (
    <Dialog open={passkey !== null} title="Remove passkey?" onClose={onClose}>
      <p>
        “{passkey?.name}” will no longer sign you in. Sessions already open stay open until you end
        them.
      </p>
      <AccountError error={remove.error} />
      <div className="btn-row">
        <Button variant="danger" busy={remove.busy} onClick={() => void remove.run()}>
          Remove passkey
        </Button>
        <Button onClick={onClose}>Cancel</Button>
      </div>
    </Dialog>
  );
}

// --- authenticator app ----------------------------------------------------------

function svgDataUrl(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

function TotpTab() {
  const status = useResource('me-totp', (signal) =>
    api.get<{ enrolled: boolean }>('/v1/me/totp', { signal }),
  );
  const [enrolment, setEnrolment] = useState<{
    uri: string;
    qrSvg: string;
    secretBase32: string;
  } | null>(null);
  const [code, setCode] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const begin = useAction(async () => {
    setDone(null);
    setEnrolment(await api.post('/v1/me/totp', {}));
  });
  const confirm = useAction(async () => {
    await api.post('/v1/me/totp/confirm', { code });
    setEnrolment(null);
    setCode('');
    setDone('Your authenticator app is set up.');
    status.reload();
  });
  const remove = useAction(async () => {
    await api.delete('/v1/me/totp');
    setDone('The authenticator app was removed.');
    status.reload();
  });
  return (
    <Card>
      <h2>Authenticator app</h2>
      <p className="muted">
        Six-digit codes from an app such as Aegis, Google Authenticator or 1Password: a second
        factor, and a way to confirm sensitive actions.
      </p>
      <ErrorNote error={status.error} />
      {status.loading && !status.data ? <Spinner /> : null}
      {done ? <Banner tone="success">{done}</Banner> : null}
      {status.data?.enrolled && !enrolment ? (
        <>
          <p>
            <Badge tone="success">Set up</Badge>
          </p>
          <AccountError error={remove.error} />
          <div className="btn-row">
            <Button variant="danger" busy={remove.busy} onClick={() => void remove.run()}>
              Remove authenticator app
            </Button>
            <Button busy={begin.busy} onClick={() => void begin.run()}>
              Replace with a new app
            </Button>
          </div>
        </>
      ) : null}
      {status.data && !status.data.enrolled && !enrolment ? (
        <>
          <ErrorNote error={begin.error} />
          <Button variant="primary" busy={begin.busy} onClick={() => void begin.run()}>
            Set up an authenticator app
          </Button>
        </>
      ) : null}
      {enrolment ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void confirm.run();
          }}
        >
          <p>1. Scan this code with your authenticator app:</p>
          <img
            className="qr-image"
            src={svgDataUrl(enrolment.qrSvg)}
            alt="QR code for your authenticator app (the secret is also written below)"
          />
          <p>Or type this secret into the app:</p>
          <p className="secret-box">{enrolment.secretBase32.replace(/(.{4})/g, '$1 ').trim()}</p>
          <p>2. Enter the code the app now shows:</p>
          <TextField
            label="Code from the app"
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            required
          />
          <ErrorNote error={confirm.error} />
          <div className="btn-row">
            <Button type="submit" variant="primary" busy={confirm.busy}>
              Confirm
            </Button>
            <Button onClick={() => setEnrolment(null)}>Cancel</Button>
          </div>
        </form>
      ) : null}
    </Card>
  );
}

// --- recovery codes --------------------------------------------------------------

function ShownOnce({
  title,
  items,
  warning,
  fileName,
  onDone,
}: {
  title: string;
  items: string[];
  warning: string;
  fileName: string;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState(false);
  const text = `${items.join('\n')}\n`;
  const [href] = useState(() => URL.createObjectURL(new Blob([text], { type: 'text/plain' })));
  return (
    <div>
      <Banner tone="warning" title={title}>
        {warning}
      </Banner>
      <ul className="code-list" aria-label={title}>
        {items.map((item) => (
          <li key={item} className="wrap-anywhere">
            {item}
          </li>
        ))}
      </ul>
      <div className="btn-row">
        <Button
          onClick={() =>
            void navigator.clipboard.writeText(text).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <a className="btn btn-secondary" href={href} download={fileName}>
          Download
        </a>
        <Button
          variant="primary"
          onClick={() => {
            URL.revokeObjectURL(href);
            onDone();
          }}
        >
          I have stored them
        </Button>
      </div>
    </div>
  );
}

function RecoveryTab() {
  const status = useResource('me-recovery', (signal) =>
    api.get<{ remaining: number }>('/v1/me/recovery-codes', { signal }),
  );
  const [fresh, setFresh] = useState<{ codes: string[]; warning: string } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const generate = useAction(async () => {
    setFresh(await api.post('/v1/me/recovery-codes', {}));
    setConfirming(false);
    status.reload();
  });
  return (
    <Card>
      <h2>Recovery codes</h2>
      <p className="muted">
        Each code signs you in once if you lose every passkey. Keep them offline, away from your
        devices.
      </p>
      <ErrorNote error={status.error} />
      {status.data ? (
        <p>
          {status.data.remaining === 0 ? (
            <Badge tone="warning">No codes left</Badge>
          ) : (
            <Badge tone={status.data.remaining < 3 ? 'warning' : 'success'}>
              {status.data.remaining} left
            </Badge>
          )}
        </p>
      ) : status.loading ? (
        <Spinner />
      ) : null}
      {fresh ? (
        <ShownOnce
          title="Your new recovery codes — shown only now"
          items={fresh.codes}
          warning={fresh.warning}
          fileName="bulwark-recovery-codes.txt"
          onDone={() => setFresh(null)}
        />
      ) : (
        <>
          <ErrorNote error={generate.error} />
          <Button variant="primary" onClick={() => setConfirming(true)}>
            Generate new codes
          </Button>
        </>
      )}
      <Dialog
        open={confirming}
        title="Generate new recovery codes?"
        onClose={() => setConfirming(false)}
      >
        <p>Your current codes stop working at once. The new ones are shown only once.</p>
        <ErrorNote error={generate.error} />
        <div className="btn-row">
          <Button variant="primary" busy={generate.busy} onClick={() => void generate.run()}>
            Generate
          </Button>
          <Button onClick={() => setConfirming(false)}>Cancel</Button>
        </div>
      </Dialog>
    </Card>
  );
}

// --- SMS (insecure) -------------------------------------------------------------------

interface SmsStatus {
  phone: string;
  confirmed: boolean;
  insecure: true;
  warning: string;
}

const smsWarningFallback =
  'SMS codes can be read by anyone who can redirect your number (SIM swap, SS7 interception, a compromised gateway). Use a passkey or an authenticator app instead if you can.';

function SmsTab() {
  const status = useResource('me-sms', async (signal) => {
    try {
      return await api.get<SmsStatus>('/v1/me/sms', { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  });
  const [phone, setPhone] = useState('');
  const [challenge, setChallenge] = useState<{ challengeId: string; warning: string } | null>(null);
  const [code, setCode] = useState('');
  const enrol = useAction(async () => {
    setChallenge(await api.post('/v1/me/sms', { phone: phone.trim() }));
    status.reload();
  });
  const confirm = useAction(async () => {
    await api.post('/v1/me/sms/confirm', { challengeId: challenge?.challengeId, code });
    setChallenge(null);
    setCode('');
    status.reload();
  });
  const remove = useAction(async () => {
    await api.delete('/v1/me/sms');
    status.reload();
  });
  const warning = challenge?.warning ?? status.data?.warning ?? smsWarningFallback;
  return (
    <Card>
      <h2>SMS — insecure</h2>
      <Banner tone="warning" title="SMS codes are not secure">
        {warning}
      </Banner>
      <ErrorNote error={status.error} />
      {status.loading && status.data === undefined ? <Spinner /> : null}
      {status.data ? (
        <>
          <p>
            Number <strong className="mono">{status.data.phone}</strong>{' '}
            {status.data.confirmed ? (
              <Badge tone="warning">Confirmed (insecure)</Badge>
            ) : (
              <Badge>Not confirmed</Badge>
            )}
          </p>
          <AccountError error={remove.error} />
          <Button variant="danger" busy={remove.busy} onClick={() => void remove.run()}>
            Remove the number
          </Button>
        </>
      ) : null}
      {status.data === null || (status.data && !status.data.confirmed) ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void enrol.run();
          }}
        >
          <TextField
            label="Mobile number"
            hint="International form, e.g. +41790000000."
            type="tel"
            autoComplete="tel"
            value={phone}
            onChange={(e) => setPhone(e.target.value)}
            required
          />
          <ErrorNote error={enrol.error} />
          <Button type="submit" busy={enrol.busy}>
            Send a confirmation code
          </Button>
        </form>
      ) : null}
      {challenge ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void confirm.run();
          }}
        >
          <TextField
            label="Code from the SMS"
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            required
          />
          <ErrorNote error={confirm.error} />
          <Button type="submit" variant="primary" busy={confirm.busy}>
            Confirm number
          </Button>
        </form>
      ) : null}
    </Card>
  );
}

// --- password -------------------------------------------------------------------

function PasswordTab() {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const mismatch = again !== '' && again !== password ? 'The two passwords differ.' : null;
  const set = useAction(async () => {
    setDone(null);
    await api.put('/v1/me/password', { password });
    setPassword('');
    setAgain('');
    setDone('Password saved. Your other sessions were ended.');
  });
  const remove = useAction(async () => {
    setDone(null);
    await api.delete('/v1/me/password');
    setDone('Password removed.');
  });
  return (
    <Card>
      <h2>Password</h2>
      <p className="muted">
        A password always needs a second factor (authenticator app or SMS) and can be phished;
        passkeys are safer. Setting a new one ends your other sessions.
      </p>
      {done ? <Banner tone="success">{done}</Banner> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!mismatch) void set.run();
        }}
      >
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          hint="At least 12 characters; known breached passwords are refused."
          minLength={12}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <TextField
          label="New password again"
          type="password"
          autoComplete="new-password"
          value={again}
          error={mismatch}
          onChange={(e) => setAgain(e.target.value)}
          required
        />
        <ErrorNote error={set.error} />
        <Button type="submit" variant="primary" busy={set.busy} disabled={Boolean(mismatch)}>
          Set password
        </Button>
      </form>
      <h3>Remove your password</h3>
      <AccountError error={remove.error} />
      <Button variant="danger" busy={remove.busy} onClick={() => void remove.run()}>
        Remove password
      </Button>
    </Card>
  );
}

// --- sessions ------------------------------------------------------------------------

interface SessionInfo {
  id: string;
  kind: 'cookie' | 'bearer';
  methods: string[];
  device: string | null;
  createdAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  current: boolean;
}

export function SessionList({
  sessions,
  actions,
}: {
  sessions: SessionInfo[];
  actions?: (s: SessionInfo) => ReactNode;
}) {
  if (sessions.length === 0) return <EmptyState title="No active sessions" />;
  return (
    <ul className="list" aria-label="Sessions">
      {sessions.map((s) => (
        <li key={s.id}>
          <div className="item-main">
            <div className="item-title">
              {s.device ?? (s.kind === 'bearer' ? 'API or command-line client' : 'Unknown browser')}{' '}
              {s.current ? <Badge tone="success">This session</Badge> : null}
            </div>
            <div className="item-meta">
              Signed in {formatDate(s.createdAt)} with {s.methods.join(' + ') || '—'} · last active{' '}
              {formatDate(s.lastSeenAt)}
            </div>
            <div className="item-meta">
              Ends {formatDate(s.idleExpiresAt)} if idle, {formatDate(s.absoluteExpiresAt)} at the
              latest
            </div>
          </div>
          {actions ? <div className="btn-row">{actions(s)}</div> : null}
        </li>
      ))}
    </ul>
  );
}

export type { SessionInfo };

function SessionsTab() {
  const list = useResource('me-sessions', (signal) =>
    api.get<{ sessions: SessionInfo[] }>('/v1/sessions', { signal }),
  );
  const [note, setNote] = useState<string | null>(null);
  const revoke = useAction(async (id: string) => {
    await api.delete(`/v1/sessions/${seg(id)}`);
    setNote('Session ended.');
    list.reload();
  });
  const others = useAction(async () => {
    const { revoked } = await api.post<{ revoked: number }>('/v1/sessions/revoke-others', {});
    setNote(revoked === 0 ? 'There were no other sessions.' : `${revoked} other session(s) ended.`);
    list.reload();
  });
  return (
    <Card>
      <h2>Sessions and devices</h2>
      <p className="muted">
        Everywhere you are signed in. End anything you do not recognise, then replace the passkey or
        password it used.
      </p>
      {note ? <Banner tone="success">{note}</Banner> : null}
      <ErrorNote error={list.error ?? revoke.error ?? others.error} />
      {list.loading && !list.data ? <Spinner label="Loading sessions…" /> : null}
      {list.data ? (
        <SessionList
          sessions={list.data.sessions}
          actions={(s) =>
            s.current ? null : (
              <Button
                className="btn-small"
                variant="danger"
                busy={revoke.busy}
                onClick={() => void revoke.run(s.id)}
              >
                End session
                <span className="visually-hidden"> on {s.device ?? 'unknown device'}</span>
              </Button>
            )
          }
        />
      ) : null}
      <Button variant="danger" busy={others.busy} onClick={() => void others.run()}>
        End all other sessions
      </Button>
    </Card>
  );
}

// --- messaging devices ----------------------------------------------------------------

interface MessagingDevice {
  id: string;
  name: string;
  status: 'pending' | 'active' | 'revoked';
  fingerprint: string;
  verifiedBy: { kind: 'device' | 'admin'; id: string } | null;
  createdAt: string;
  revokedAt: string | null;
}

function groupFingerprint(hex: string): string {
  return (hex.match(/.{1,4}/g) ?? [hex]).join(' ');
}

function MessagingDevicesTab() {
  const list = useResource('me-devices', (signal) =>
    api.get<{ devices: MessagingDevice[] }>('/v1/messaging/devices', { signal }),
  );
  const [revoking, setRevoking] = useState<MessagingDevice | null>(null);
  const revoke = useAction(async () => {
    if (!revoking) return;
    await api.delete(`/v1/messaging/devices/${seg(revoking.id)}`);
    setRevoking(null);
    list.reload();
  });
  const devices = list.data?.devices ?? [];
  return (
    <Card>
      <h2>Messaging devices</h2>
      <p className="muted">
        Each device holds its own encryption key. Compare fingerprints with the device itself before
        trusting it; revoke any device you lost or do not recognise — it is removed from every
        conversation.
      </p>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Spinner label="Loading devices…" /> : null}
      {list.data && devices.length === 0 ? (
        <EmptyState title="No messaging devices">
          <p>A device is added when you first open chat on it.</p>
        </EmptyState>
      ) : null}
      <ul className="list" aria-label="Messaging devices">
        {devices.map((d) => (
          <li key={d.id}>
            <div className="item-main">
              <div className="item-title">
                {d.name}{' '}
                {d.status === 'active' ? (
                  <Badge tone="success">Verified</Badge>
                ) : d.status === 'pending' ? (
                  <Badge tone="warning">Pending verification</Badge>
                ) : (
                  <Badge tone="danger">Revoked</Badge>
                )}
              </div>
              <div className="item-meta">
                Fingerprint <span className="fingerprint">{groupFingerprint(d.fingerprint)}</span>
              </div>
              <div className="item-meta">
                Added {formatDate(d.createdAt)}
                {d.verifiedBy
                  ? ` · verified by ${d.verifiedBy.kind === 'admin' ? 'an administrator' : 'another of your devices'}`
                  : ''}
                {d.revokedAt ? ` · revoked ${formatDate(d.revokedAt)}` : ''}
              </div>
            </div>
            {d.status !== 'revoked' ? (
              <Button className="btn-small" variant="danger" onClick={() => setRevoking(d)}>
                Revoke<span className="visually-hidden"> {d.name}</span>
              </Button>
            ) : null}
          </li>
        ))}
      </ul>
      <Dialog
        open={revoking !== null}
        title="Revoke this device?"
        onClose={() => setRevoking(null)}
      >
        <p>
          “{revoking?.name}” stops receiving messages at once and leaves every conversation. This
          cannot be undone; the device would have to be set up again as a new one.
        </p>
        <ErrorNote error={revoke.error} />
        <div className="btn-row">
          <Button variant="danger" busy={revoke.busy} onClick={() => void revoke.run()}>
            Revoke device
          </Button>
          <Button onClick={() => setRevoking(null)}>Cancel</Button>
        </div>
      </Dialog>
    </Card>
  );
}
