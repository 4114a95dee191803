/**
 * The orgs the person can see (`GET /v1/orgs`). Installation admins create
 * orgs here (`POST /v1/orgs`): the org and its first owner, whose one-time
 * enrolment link is shown once to pass on.
 */
import { type FormEvent, useState } from 'react';
import { Link } from 'wouter';
import { api, seg } from '../../api/client.ts';
import {
  Badge,
  Button,
  Card,
  EmptyState,
  formatDate,
  PageHeader,
  Spinner,
  TextField,
  useAction,
} from '../../ui/components.tsx';
import { slugProblem, suggestSlug } from './logic.ts';
import { CopyOnce, ProblemNote, useOrgs, useViewer } from './parts.tsx';
import type { EnrolmentLink, Org } from './types.ts';

interface Created {
  org: Org;
  owner: { id: string } & EnrolmentLink;
  ownerName: string;
}

export default function OrgListPage({ onChanged }: { onChanged: () => void }) {
  const viewer = useViewer();
  const orgs = useOrgs();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);
  const list = [...(orgs.data?.orgs ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <>
      <PageHeader
        title="Organisations"
        subtitle={
          viewer.isAdmin
            ? 'Every organisation of this installation. Each holds its own people, projects, groups and security policy.'
            : 'Your organisation, and the organisations whose projects you take part in.'
        }
        actions={
          viewer.isAdmin && !creating ? (
            <Button
              variant="primary"
              onClick={() => {
                setCreated(null);
                setCreating(true);
              }}
            >
              New organisation
            </Button>
          ) : null
        }
      />

      {created ? (
        <CopyOnce
          title={`${created.org.name} was created — send its owner this link`}
          url={created.owner.enrolUrl}
          expiresAt={created.owner.expiresAt}
          onDone={() => setCreated(null)}
        >
          <p>
            {created.ownerName} registers a passkey with this link and becomes the owner of{' '}
            {created.org.name} (slug <code>{created.org.slug}</code>). There is no password: without
            the link nobody can sign in as them. Make sure it reaches them: a new enrolment link can
            only be issued by an admin of {created.org.name}, and this owner is its only one so far.
          </p>
        </CopyOnce>
      ) : null}

      {viewer.isAdmin && creating ? (
        <Card>
          <h2>New organisation</h2>
          <CreateOrgForm
            onCancel={() => setCreating(false)}
            onCreated={(made) => {
              setCreating(false);
              setCreated(made);
              orgs.reload();
              onChanged();
            }}
          />
        </Card>
      ) : null}

      <Card>
        <h2>
          {viewer.isAdmin ? 'All organisations' : 'Organisations you see'}
          {orgs.data ? ` (${list.length})` : ''}
        </h2>
        {orgs.loading && !orgs.data ? <Spinner label="Loading organisations…" /> : null}
        <ProblemNote error={orgs.error} />
        {orgs.data && list.length === 0 ? (
          <EmptyState title="No organisations to show">
            <p>
              {viewer.orgRole === 'guest'
                ? 'As a guest you see the organisations of the projects you were invited into; there are none yet.'
                : 'Nothing is visible to you yet.'}
            </p>
          </EmptyState>
        ) : null}
        {list.length > 0 ? (
          <ul className="list">
            {list.map((org) => (
              <li key={org.id}>
                <span className="person">
                  <Link href={`/orgs/${seg(org.id)}`} className="person-name">
                    {org.name}
                  </Link>
                  <span className="person-sub">
                    <code>{org.slug}</code> · since {formatDate(org.createdAt)}
                  </span>
                </span>
                {org.id === viewer.orgId ? (
                  <Badge tone="success">
                    {viewer.orgRole === 'guest' ? 'You are a guest here' : 'Your organisation'}
                  </Badge>
                ) : null}
              </li>
            ))}
          </ul>
        ) : null}
      </Card>
    </>
  );
}

function CreateOrgForm({
  onCreated,
  onCancel,
}: {
  onCreated: (made: Created) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugTouched, setSlugTouched] = useState(false);
  const [ownerName, setOwnerName] = useState('');
  const [ownerUsername, setOwnerUsername] = useState('');
  const [ownerEmail, setOwnerEmail] = useState('');
  const [tried, setTried] = useState(false);
  const shownSlug = slugTouched ? slug : suggestSlug(name);
  const problems = {
    name: name.trim() ? null : 'Give the organisation a name.',
    slug: slugProblem(shownSlug),
    ownerName: ownerName.trim() ? null : 'Give the owner’s name.',
    ownerUsername: /^[A-Za-z0-9._-]{2,64}$/.test(ownerUsername)
      ? null
      : 'Use 2–64 letters, digits, dots, dashes and underscores.',
  };
  const create = useAction(async () => {
    const owner = {
      displayName: ownerName.trim(),
      username: ownerUsername,
      ...(ownerEmail.trim() ? { email: ownerEmail.trim() } : {}),
    };
    return api.post<{ org: Org; owner: { id: string } & EnrolmentLink }>('/v1/orgs', {
      slug: shownSlug,
      name: name.trim(),
      owner,
    });
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (Object.values(problems).some(Boolean)) return;
    const made = await create.run();
    if (made) onCreated({ ...made, ownerName: ownerName.trim() });
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="form-grid">
        <TextField
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          required
          error={tried ? problems.name : null}
        />
        <TextField
          label="Slug"
          hint="Lowercase letters, digits and dashes. Partners use it to link their projects with this organisation; it cannot be changed later."
          value={shownSlug}
          onChange={(e) => {
            setSlugTouched(true);
            setSlug(e.target.value.toLowerCase());
          }}
          maxLength={40}
          required
          autoComplete="off"
          spellCheck={false}
          error={tried ? problems.slug : null}
        />
      </div>
      <fieldset className="fieldset">
        <legend>First owner</legend>
        <p className="muted">
          The owner gets a one-time link to register a passkey; there is no password.
        </p>
        <div className="form-grid">
          <TextField
            label="Owner’s name"
            value={ownerName}
            onChange={(e) => setOwnerName(e.target.value)}
            maxLength={100}
            required
            autoComplete="off"
            error={tried ? problems.ownerName : null}
          />
          <TextField
            label="Owner’s username"
            value={ownerUsername}
            onChange={(e) => setOwnerUsername(e.target.value)}
            maxLength={64}
            required
            autoComplete="off"
            spellCheck={false}
            error={tried ? problems.ownerUsername : null}
          />
          <TextField
            label="Owner’s e-mail address (optional)"
            type="email"
            value={ownerEmail}
            onChange={(e) => setOwnerEmail(e.target.value)}
            maxLength={254}
            autoComplete="off"
          />
        </div>
      </fieldset>
      <ProblemNote error={create.error} />
      <div className="btn-row">
        <Button type="submit" variant="primary" busy={create.busy}>
          Create organisation
        </Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}
