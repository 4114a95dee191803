import { randomBytes, randomUUID } from 'node:crypto';
import { GroupStore } from '../../packages/server/src/directory/groups.ts';
import { InvitationStore } from '../../packages/server/src/directory/invitations.ts';
import { OrgStore } from '../../packages/server/src/directory/orgs.ts';
import { PartnerLinkStore } from '../../packages/server/src/directory/partner-links.ts';
import { MemberStore, ProjectStore } from '../../packages/server/src/directory/projects.ts';
import { PasskeyStore } from '../../packages/server/src/identity/passkeys/store.ts';
import type { OrgRole } from '../../packages/server/src/identity/user-store.ts';
import { ColumnStore } from '../../packages/server/src/kanban/columns.ts';
import { IssueStore } from '../../packages/server/src/kanban/issues.ts';
import { ConversationStore } from '../../packages/server/src/messaging/conversations.ts';
import type { ProjectRole } from '../../packages/server/src/policy/relation.ts';
import type { Answer } from './https.ts';
import type { TestServer } from './server.ts';

/** The people of the authorization matrix, in its column order. */
export const personas = [
  'anonymous',
  'deactivated',
  'orgOwner',
  'orgAdmin',
  'internalMember',
  'internalViewer',
  'externalMember',
  'partnerAdmin',
  'unrelated',
  'installationAdmin',
] as const;
export type Persona = (typeof personas)[number];

export interface Person {
  id: string;
  username: string;
  token: string | null;
}

/**
 * Org Acme owns project Apollo; partner org Globex is linked into it
 * (active, up to member); Initech is unrelated. Every person holds a
 * stepped-up passkey session, so what the matrix sees is authorization.
 */
export interface World {
  acme: string;
  globex: string;
  initech: string;
  main: string;
  apollo: string;
  link: string;
  group: string;
  invitation: string;
  /** An issue on Apollo's board (APOLLO-1), and an empty column of it. */
  issue: string;
  column: string;
  /** A channel of Apollo (no MLS group yet). */
  conversation: string;
  people: Record<Persona, Person>;
  call(
    who: Persona,
    path: string,
    opts?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Answer>;
}

export async function buildWorld(server: TestServer): Promise<World> {
  const identity = server.handle.identity();
  const storage = identity.storage;
  const now = identity.clock.now();
  const tag = randomBytes(4).toString('hex');
  const orgs = new OrgStore(storage);
  const main = await orgs.ensureDefault(now);
  const acme = await orgs.create({ slug: `acme-${tag}`, name: 'Acme' }, now);
  const globex = await orgs.create({ slug: `globex-${tag}`, name: 'Globex' }, now);
  const initech = await orgs.create({ slug: `initech-${tag}`, name: 'Initech' }, now);

  const person = async (
    name: string,
    orgId: string,
    orgRole: OrgRole,
    extra: { isAdmin?: boolean } = {},
  ): Promise<Person> => {
    const username = `${name}-${tag}`;
    const user = await identity.users.create(
      {
        displayName: name,
        username,
        email: `${username}@example.test`,
        orgId,
        orgRole,
        isAdmin: extra.isAdmin ?? false,
      },
      now,
    );
    const { token } = await identity.sessions.create(user.id, {
      kind: 'bearer',
      methods: ['passkey'],
      stepUp: true,
    });
    return { id: user.id, username, token };
  };

  const people: Record<Persona, Person> = {
    anonymous: { id: '', username: '', token: null },
    deactivated: await person('deactivated', acme.id, 'member'),
    orgOwner: await person('owner', acme.id, 'owner'),
    orgAdmin: await person('admin', acme.id, 'admin'),
    internalMember: await person('member', acme.id, 'member'),
    internalViewer: await person('viewer', acme.id, 'member'),
    externalMember: await person('external', globex.id, 'member'),
    partnerAdmin: await person('globex-admin', globex.id, 'admin'),
    unrelated: await person('unrelated', initech.id, 'member'),
    installationAdmin: await person('root', main.id, 'owner', { isAdmin: true }),
  };

  const apollo = await new ProjectStore(storage).create(
    { orgId: acme.id, key: 'APOLLO', name: 'Apollo', description: null },
    now,
  );
  const members = new MemberStore(storage);
  const add = (who: Persona, role: ProjectRole, viaLinkId: string | null = null) =>
    members.put(
      { projectId: apollo.id, userId: people[who].id, role, viaLinkId },
      people.orgOwner.id,
      now,
    );
  await add('orgOwner', 'owner');
  await add('internalMember', 'member');
  await add('internalViewer', 'viewer');
  await add('deactivated', 'member');
  const links = new PartnerLinkStore(storage);
  const link = await links.create(
    { projectId: apollo.id, hostOrgId: acme.id, partnerOrgId: globex.id, maxRole: 'member' },
    people.orgOwner.id,
    now,
  );
  await links.accept(link.id, people.partnerAdmin.id, now);
  await add('externalMember', 'member', link.id);
  const group = await new GroupStore(storage).create(
    { orgId: acme.id, name: 'Engineers', ldapDn: null },
    now,
  );
  const { invitation } = await new InvitationStore(storage, identity.hasher).create(
    { projectId: apollo.id, role: 'member', email: 'new@example.test', domain: null, ttlHours: 24 },
    people.orgOwner.id,
    now,
  );
  await identity.users.setStatus(people.deactivated.id, 'disabled');
  const columns = await new ColumnStore(storage).list(apollo.id, now);
  const [todo, , , done] = columns;
  if (!todo || !done) throw new Error('the default board has four columns');
  const issue = randomUUID();
  const issues = new IssueStore(storage);
  await issues.insert({
    id: issue,
    projectId: apollo.id,
    number: await issues.nextNumber(apollo.id),
    key: 'APOLLO-1',
    title: 'First issue',
    description: '',
    status: todo.id,
    rank: 'a0',
    priority: null,
    labels: [],
    assignees: [],
    dueDate: null,
    estimate: null,
    checklist: [],
    clocks: {},
    createdBy: people.orgOwner.id,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  });

  const channel = await new ConversationStore(storage).create(
    {
      projectId: apollo.id,
      kind: 'channel',
      name: 'general',
      participants: null,
      ciphersuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
      createdBy: people.orgOwner.id,
    },
    now,
  );

  return {
    acme: acme.id,
    globex: globex.id,
    initech: initech.id,
    main: main.id,
    apollo: apollo.id,
    link: link.id,
    group: group.id,
    invitation: invitation.id,
    issue,
    column: done.id,
    conversation: channel.id,
    people,
    call: (who, path, opts = {}) => {
      const token = people[who].token;
      return server.request(path, {
        ...opts,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
      });
    },
  };
}

/** A registered passkey of the given model (a row, no ceremony): enough for policy and lock-out checks. */
export async function givePasskey(
  server: TestServer,
  userId: string,
  aaguid: string,
): Promise<void> {
  const id = randomBytes(16).toString('base64url');
  await new PasskeyStore(server.handle.identity().storage).insert({
    id,
    userId,
    name: 'test key',
    publicKey: randomBytes(77).toString('base64url'),
    counter: 0,
    transports: ['usb'],
    aaguid,
    deviceType: 'singleDevice',
    backedUp: false,
    attestationFmt: 'none',
    attestationObject: randomBytes(8).toString('base64url'),
    createdAt: new Date().toISOString(),
  });
}
