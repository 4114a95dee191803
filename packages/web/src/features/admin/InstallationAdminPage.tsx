/**
 * The installation admin's screens: the whole audit ledger (browse,
 * verify in this browser), its signed heads, and the key ceremonies that
 * need the operator token (seal, rekey, a new first-admin setup link). The
 * token is typed in for one request and never kept.
 */
import { type FormEvent, type ReactNode, useState } from 'react';
import { Link } from 'wouter';
import { api } from '../../api/client.ts';
import { useSession } from '../../app/session.tsx';
import { forgetPinnedLedger, lastSeenHead, pinnedKey } from '../../audit/verify.ts';
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
  TextArea,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import { AuditBrowser, ScrollBlock } from './AuditTable.tsx';
import './admin.css';
import {
  initialUnsealMaterial,
  UnsealMaterialFields,
  unsealMaterialBody,
  unsealMaterialProblem,
} from '../setup/UnsealMaterialFields.tsx';

const tabs = [
  { id: 'audit', label: 'Audit ledger' },
  { id: 'heads', label: 'Signed heads' },
  { id: 'ceremonies', label: 'Key ceremonies' },
];

export default function InstallationAdminPage({ tab }: { tab?: string | undefined }) {
  const { me } = useSession();
  const current = tab ?? 'audit';
  return (
    <>
      <PageHeader
        title="Installation administration"
        subtitle="The whole audit ledger and the server's key ceremonies."
      />
      {!me.user.isAdmin ? (
        <Banner tone="warning" title="For installation admins">
          Your account is not an installation admin, so the server will refuse these screens.
        </Banner>
      ) : null}
      <nav className="tabs" aria-label="Installation administration">
        {tabs.map((t) => (
          <Link
            key={t.id}
            href={`/admin/${t.id}`}
            aria-current={t.id === current ? 'page' : undefined}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      {current === 'audit' ? (
        <>
          <Card>
            <AuditBrowser
              path="/v1/audit/entries"
              filters={['actor', 'action', 'since', 'until', 'issue', 'org', 'project']}
              signHead
              title="All audit entries"
              intro="Every recorded change, oldest first. Open an entry to see it as stored. Verify has the server sign the current head if needed, then checks each entry on this page against it in this browser."
            />
          </Card>
          <ServerVerify />
        </>
      ) : null}
      {current === 'heads' ? <HeadsTab /> : null}
      {current === 'ceremonies' ? <CeremoniesTab /> : null}
      {!tabs.some((t) => t.id === current) ? (
        <Banner tone="warning" title="No such section">
          <Link href="/admin/audit">Go to the audit ledger</Link>
        </Banner>
      ) : null}
    </>
  );
}

type ServerVerifyResult =
  | { ok: true; size: number; heads: number }
  | { ok: false; size: number; firstBadSeq: number | null; reason: string };

function ServerVerify() {
  const [result, setResult] = useState<ServerVerifyResult | null>(null);
  const run = useAction(async () =>
    setResult(await api.post<ServerVerifyResult>('/v1/audit/verify', {})),
  );
  return (
    <Card>
      <h2>Full check on the server</h2>
      <p className="muted">
        The server recomputes every entry, the whole tree and every signed head from storage. Unlike
        the check in this browser, it trusts the server's own code.
      </p>
      <ErrorNote error={run.error} />
      {result?.ok ? (
        <Banner tone="success" title="The ledger verifies">
          {result.size} entries and {result.heads} signed heads check out.
        </Banner>
      ) : null}
      {result && !result.ok ? (
        <Banner
          tone="danger"
          title={
            result.firstBadSeq !== null
              ? `The ledger fails at entry ${result.firstBadSeq}`
              : 'The ledger does not verify'
          }
        >
          {result.reason} The audit trail may have been altered — report this to your security team.
        </Banner>
      ) : null}
      <Button busy={run.busy} onClick={() => void run.run()}>
        Run the full check
      </Button>
    </Card>
  );
}

interface Head {
  size: number;
  rootHash: string;
  checkpoint: string;
}

function HeadsTab() {
  const heads = useResource('audit-heads', (signal) =>
    api.get<{ heads: Head[] }>('/v1/audit/heads', { signal }),
  );
  const key = useResource('audit-key', (signal) =>
    api.get<{ origin: string; verifierKey: string }>('/v1/audit/key', { signal }),
  );
  const [localVersion, setLocalVersion] = useState(0);
  const [forgetting, setForgetting] = useState(false);
  let pinned: string | null = null;
  let lastHead: ReturnType<typeof lastSeenHead> = null;
  let localError: unknown = null;
  try {
    pinned = pinnedKey();
    lastHead = lastSeenHead();
  } catch (error) {
    localError = error;
  }
  const list = [...(heads.data?.heads ?? [])].reverse();
  return (
    <>
      <Card>
        <h2>Ledger key</h2>
        <ErrorNote error={key.error} />
        {key.data ? (
          <p className="wrap-anywhere">
            The server signs with <span className="mono">{key.data.verifierKey}</span>
          </p>
        ) : null}
        <p key={localVersion} className="wrap-anywhere">
          {pinned ? (
            <>
              Pinned in this browser: <span className="mono">{pinned}</span>{' '}
              {key.data && pinned !== key.data.verifierKey ? (
                <Badge tone="danger">Different from the server's</Badge>
              ) : key.data ? (
                <Badge tone="success">Matches</Badge>
              ) : null}
            </>
          ) : (
            'No key is pinned in this browser yet: the first verification pins it.'
          )}
        </p>
        {lastHead ? (
          <p>
            Last head verified here: size {lastHead.size}, root{' '}
            <span className="mono wrap-anywhere">{lastHead.rootHash}</span>
          </p>
        ) : null}
        <ErrorNote error={localError} />
        {pinned || lastHead ? (
          <Button variant="danger" onClick={() => setForgetting(true)}>
            Forget the pinned key…
          </Button>
        ) : null}
        <Dialog
          open={forgetting}
          title="Forget the pinned ledger key?"
          onClose={() => setForgetting(false)}
        >
          <p>
            Do this only after your administrators announced a new ledger key (a rekey of the server
            does not change it). The next verification pins whatever key the server presents, and
            the history this browser remembered is dropped.
          </p>
          <div className="btn-row">
            <Button
              variant="danger"
              onClick={() => {
                forgetPinnedLedger();
                setForgetting(false);
                setLocalVersion((v) => v + 1);
              }}
            >
              Forget
            </Button>
            <Button onClick={() => setForgetting(false)}>Cancel</Button>
          </div>
        </Dialog>
      </Card>
      <Card>
        <h2>Signed heads</h2>
        <p className="muted">
          Every signed tree head, newest first: C2SP checkpoints an offline verifier (
          <code>bulwark audit verify</code>) checks entries against.
        </p>
        <ErrorNote error={heads.error} />
        {heads.loading && !heads.data ? <Spinner label="Loading heads…" /> : null}
        {heads.data && list.length === 0 ? <EmptyState title="No signed heads yet" /> : null}
        <ul className="audit-list" aria-label="Signed heads">
          {list.map((h) => (
            <li key={h.size}>
              <details className="audit-row">
                <summary>
                  <span className="audit-action">Size {h.size}</span>
                  <span className="mono muted wrap-anywhere">{h.rootHash}</span>
                </summary>
                <ScrollBlock label={`Checkpoint of size ${h.size}`}>{h.checkpoint}</ScrollBlock>
              </details>
            </li>
          ))}
        </ul>
      </Card>
    </>
  );
}

// --- key ceremonies -----------------------------------------------------------------

/** The operator token, for one request: the field is cleared after each use. */
function OperatorTokenField({
  value,
  onChange,
}: {
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <TextField
      label="Operator token"
      type="password"
      autoComplete="off"
      spellCheck={false}
      hint="From the server's data/operator.token. Sent with this one request and never stored."
      value={value}
      onChange={(e) => onChange(e.target.value)}
      required
    />
  );
}

function Ceremony({
  title,
  consequence,
  children,
}: {
  title: string;
  consequence: ReactNode;
  children: ReactNode;
}) {
  return (
    <Card>
      <h2>{title}</h2>
      {consequence}
      {children}
    </Card>
  );
}

function CeremoniesTab() {
  return (
    <>
      <Banner tone="info" title="These ceremonies need the operator token">
        The token is in <code>data/operator.token</code> on the server machine (readable only by the
        account that runs the server). Each form asks for it and sends it with that one request;
        this app never keeps it.
      </Banner>
      <SealCeremony />
      <RekeyCeremony />
      <SetupLinkCeremony />
    </>
  );
}

function SealCeremony() {
  const [token, setToken] = useState('');
  const [open, setOpen] = useState(false);
  const [sealed, setSealed] = useState(false);
  const seal = useAction(async () => {
    const operatorToken = token;
    setToken('');
    await api.post('/v1/sys/seal', {}, { operatorToken, stepUp: false });
    setOpen(false);
    setSealed(true);
  });
  return (
    <Ceremony
      title="Seal the server now"
      consequence={
        <Banner tone="warning" title="Sealing stops the server for everyone">
          Every key is dropped from memory: nobody can sign in or work, and every request answers
          "sealed" until operators unseal it with the passphrase or enough key shares (
          <code>bulwark unseal</code>). Use it when you suspect the machine is compromised.
        </Banner>
      }
    >
      {sealed ? (
        <Banner tone="danger" title="The server is sealed">
          Unseal it from the server machine with <code>npx bulwark unseal</code>.
        </Banner>
      ) : (
        <Button variant="danger" onClick={() => setOpen(true)}>
          Seal now…
        </Button>
      )}
      <Dialog open={open} title="Seal the server?" onClose={() => setOpen(false)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void seal.run();
          }}
        >
          <p>Everyone, including you, is cut off until the server is unsealed.</p>
          <OperatorTokenField value={token} onChange={setToken} />
          <ErrorNote error={seal.error} />
          <div className="btn-row">
            <Button type="submit" variant="danger" busy={seal.busy} disabled={!token}>
              Seal for everyone
            </Button>
            <Button onClick={() => setOpen(false)}>Cancel</Button>
          </div>
        </form>
      </Dialog>
    </Ceremony>
  );
}

interface RekeyResult {
  installationId: string;
  shares: string[];
  threshold: number | null;
  providers: string[];
}

function RekeyCeremony() {
  const [token, setToken] = useState('');
  const [currentKind, setCurrentKind] = useState<'passphrase' | 'shares'>('passphrase');
  const [currentPassphrase, setCurrentPassphrase] = useState('');
  const [currentShares, setCurrentShares] = useState('');
  const [material, setMaterial] = useState(initialUnsealMaterial);
  const [result, setResult] = useState<RekeyResult | null>(null);
  const problem = unsealMaterialProblem(material);
  const rekey = useAction(async () => {
    const operatorToken = token;
    setToken('');
    const current =
      currentKind === 'passphrase'
        ? { passphrase: currentPassphrase }
        : {
            shares: currentShares
              .split(/\s*\n\s*/)
              .map((s) => s.trim())
              .filter(Boolean),
          };
    const next = unsealMaterialBody(material);
    const answer = await api.post<RekeyResult>(
      '/v1/sys/rekey',
      { current, next },
      { operatorToken, stepUp: false },
    );
    setCurrentPassphrase('');
    setCurrentShares('');
    setMaterial(initialUnsealMaterial);
    setResult(answer);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!problem) void rekey.run();
  };
  return (
    <Ceremony
      title="Rekey: new passphrase or key shares"
      consequence={
        <p>
          Proves the current unseal material, then wraps the root key under new material. The old
          passphrase and shares stop working at once; the data and the ledger key do not change. New
          shares are shown once: hand each to its keeper before you leave this page.
        </p>
      }
    >
      {result ? (
        <>
          <Banner tone="success" title="Rekeyed">
            The server now unseals with: {result.providers.join(' and ')}
            {result.threshold ? ` (any ${result.threshold} of ${result.shares.length} shares)` : ''}
            .
          </Banner>
          {result.shares.length > 0 ? (
            <NewShares shares={result.shares} onDone={() => setResult(null)} />
          ) : (
            <Button onClick={() => setResult(null)}>Done</Button>
          )}
        </>
      ) : (
        <form onSubmit={submit}>
          <fieldset className="fieldset">
            <legend>Current unseal material</legend>
            <div className="checkbox-group" role="radiogroup" aria-label="Prove with">
              <div className="checkbox">
                <input
                  id="rekey-current-passphrase"
                  type="radio"
                  name="rekey-current"
                  checked={currentKind === 'passphrase'}
                  onChange={() => setCurrentKind('passphrase')}
                />
                <label htmlFor="rekey-current-passphrase">The passphrase</label>
              </div>
              <div className="checkbox">
                <input
                  id="rekey-current-shares"
                  type="radio"
                  name="rekey-current"
                  checked={currentKind === 'shares'}
                  onChange={() => setCurrentKind('shares')}
                />
                <label htmlFor="rekey-current-shares">Key shares</label>
              </div>
            </div>
            {currentKind === 'passphrase' ? (
              <TextField
                label="Current passphrase"
                type="password"
                autoComplete="off"
                value={currentPassphrase}
                onChange={(e) => setCurrentPassphrase(e.target.value)}
                required
              />
            ) : (
              <TextArea
                label="Current shares"
                hint="One share per line, at least the threshold."
                value={currentShares}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => setCurrentShares(e.target.value)}
                required
              />
            )}
          </fieldset>
          <fieldset className="fieldset">
            <legend>New unseal material</legend>
            <UnsealMaterialFields
              value={material}
              onChange={setMaterial}
              labels={{ passphrase: 'New passphrase', confirm: 'New passphrase again' }}
            />
          </fieldset>
          <OperatorTokenField value={token} onChange={setToken} />
          <ErrorNote error={rekey.error} />
          <Button
            type="submit"
            variant="primary"
            busy={rekey.busy}
            disabled={!token || problem !== null}
          >
            Rekey
          </Button>
        </form>
      )}
    </Ceremony>
  );
}

function NewShares({ shares, onDone }: { shares: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState<number | null>(null);
  return (
    <div>
      <Banner tone="warning" title="New shares — shown only now">
        Give each share to a different keeper through a channel you trust. The server does not keep
        them; lost shares beyond the threshold cannot be recovered.
      </Banner>
      <ol className="list" aria-label="New key shares">
        {shares.map((share, i) => (
          <li key={share}>
            <div className="item-main">
              <div className="item-title">Share {i + 1}</div>
              <div className="secret-box">{share}</div>
            </div>
            <Button
              className="btn-small"
              onClick={() => void navigator.clipboard.writeText(share).then(() => setCopied(i))}
            >
              {copied === i ? 'Copied' : 'Copy'}
              <span className="visually-hidden"> share {i + 1}</span>
            </Button>
          </li>
        ))}
      </ol>
      <Button variant="primary" onClick={onDone}>
        Every share is handed over
      </Button>
    </div>
  );
}

function SetupLinkCeremony() {
  const [token, setToken] = useState('');
  const [link, setLink] = useState<{ setupUrl: string; expiresAt: string } | null>(null);
  const issue = useAction(async () => {
    const operatorToken = token;
    setToken('');
    setLink(
      await api.post<{ setupUrl: string; expiresAt: string }>(
        '/v1/sys/setup-link',
        {},
        { operatorToken, stepUp: false },
      ),
    );
  });
  return (
    <Ceremony
      title="New first-admin setup link"
      consequence={
        <p>
          A one-time link (30 minutes) that registers the first administrator's passkey. The server
          issues it only while no administrator exists — for instance when the link printed by{' '}
          <code>bulwark init</code> expired unused. Whoever opens it becomes the administrator.
        </p>
      }
    >
      {link ? (
        <>
          <Banner tone="warning" title="Setup link — shown only now">
            Hand it only to the intended administrator. It expires {formatDate(link.expiresAt)}.
          </Banner>
          <p className="secret-box">{link.setupUrl}</p>
          <Button onClick={() => setLink(null)}>Done</Button>
        </>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void issue.run();
          }}
        >
          <OperatorTokenField value={token} onChange={setToken} />
          <ErrorNote error={issue.error} />
          <Button type="submit" busy={issue.busy} disabled={!token}>
            Issue a setup link
          </Button>
        </form>
      )}
    </Ceremony>
  );
}
