import type { Relation } from './relation.ts';

/**
 * The action catalogue: every route names one of these, and this table is
 * the whole answer to "who may do what". `authorize()` reads it; nothing
 * else decides access (SECURITY.md, Authorization).
 */

/** How the caller must prove who they are before the rule is even asked. */
export type Authn =
  /** Anyone who reaches the port. */
  | 'anonymous'
  /** The operator token written at init (CLI on the server machine). */
  | 'operator'
  /** A valid session. */
  | 'user'
  /** A valid session, or the operator token. */
  | 'user-or-operator';

/** What the route acts on, found from its URL parameter. */
export type ResourceKind =
  | 'none'
  | 'org'
  | 'project'
  | 'group'
  | 'partner-link'
  | 'invitation'
  | 'user'
  | 'issue'
  | 'column'
  | 'conversation';

/** The URL parameter naming each kind of resource; routes must use these names. */
export const resourceParam: Record<Exclude<ResourceKind, 'none'>, string> = {
  org: 'orgId',
  project: 'projectId',
  group: 'groupId',
  'partner-link': 'linkId',
  invitation: 'invitationId',
  user: 'userId',
  issue: 'issueId',
  column: 'columnId',
  conversation: 'conversationId',
};

export interface ActionSpec {
  authn: Authn;
  resource: ResourceKind;
  /** Who may, given how the actor relates to the resource. Not asked for anonymous/operator. */
  allow: (r: Relation) => boolean;
  /** Needs a passkey or TOTP proof within the last 5 minutes. */
  stepUp?: boolean;
  /** Still answered when the session fails its org's policy, so the client can show why and log out. */
  policyExempt?: boolean;
  /** Answered while sealed or uninitialised. */
  availableWhileSealed?: boolean;
  /**
   * A change inside a project: it may cite an issue of that project
   * (`Bulwark-Issue: KEY-12`), and must when the project's policy says
   * "issue link required".
   */
  projectChange?: boolean;
  summary: string;
}

// --- rule building blocks ----------------------------------------------------
const anyone = () => true;
const instanceAdmin = (r: Relation) => r.instanceAdmin;
const orgAdmin = (r: Relation) => r.orgRole === 'owner' || r.orgRole === 'admin';
const orgOwner = (r: Relation) => r.orgRole === 'owner';
const orgMember = (r: Relation) => r.orgRole !== null && r.orgRole !== 'guest';
const projectAtLeast = (min: 'viewer' | 'member' | 'admin' | 'owner') => (r: Relation) =>
  r.projectRole !== null && roleRank[r.projectRole] >= roleRank[min];
const either =
  (...rules: ((r: Relation) => boolean)[]) =>
  (r: Relation) =>
    rules.some((rule) => rule(r));

export const roleRank = { viewer: 1, member: 2, admin: 3, owner: 4 } as const;

/** Internal project admins and the project org's admins manage a project. */
const projectAdmin = (r: Relation) =>
  orgAdmin(r) || (r.projectKind === 'internal' && projectAtLeast('admin')(r));
const projectReader = either(projectAdmin, projectAtLeast('viewer'), (r) => r.partnerAdmin);
const linkParty = (r: Relation) => projectAdmin(r) || r.partnerAdmin;
/** Members edit (internal or external); viewers and partner admins only read. */
const projectEditor = either(projectAdmin, projectAtLeast('member'));

const a = (spec: ActionSpec) => spec;
const open = (summary: string, extra: Partial<ActionSpec> = {}) =>
  a({ authn: 'anonymous', resource: 'none', allow: anyone, summary, ...extra });
const self = (summary: string, extra: Partial<ActionSpec> = {}) =>
  a({ authn: 'user', resource: 'none', allow: anyone, summary, ...extra });

export const actions = {
  // --- installation --------------------------------------------------------
  'sys.health': open('Liveness probe.', { availableWhileSealed: true }),
  'sys.status': open('Seal state and version.', { availableWhileSealed: true }),
  'sys.init': open('Initialise a fresh installation (loopback only by default).', {
    availableWhileSealed: true,
  }),
  'sys.unseal': open('Unseal with the passphrase or key shares.', { availableWhileSealed: true }),
  'sys.seal': a({ authn: 'operator', resource: 'none', allow: anyone, summary: 'Seal now.' }),
  'sys.rekey': a({
    authn: 'operator',
    resource: 'none',
    allow: anyone,
    summary: 'Rotate the unseal material.',
  }),
  'sys.setup-link': a({
    authn: 'operator',
    resource: 'none',
    allow: anyone,
    summary: 'Issue a new first-admin setup link.',
  }),
  'sys.metrics': open('Prometheus metrics.'),
  // Open like a DNS port: the resolver itself decides (registered token, allowed source range).
  'dns.query': open(
    'DNS over HTTPS (RFC 8484): one query, GET ?dns= or POST application/dns-message.',
    {
      availableWhileSealed: true,
    },
  ),
  'sys.openapi': open('This API as an OpenAPI 3.1 document.'),
  'page.static': open('Login, setup and enrolment pages and their assets.'),
  // The app must load before init and while sealed: it shows those ceremonies.
  'page.app': open('The web client: its shell, static files, manifest and service worker.', {
    availableWhileSealed: true,
  }),

  // --- authentication ------------------------------------------------------
  'auth.login': open('A login ceremony step (passkey, password, second factor, LDAP, OIDC).'),
  'auth.methods': open('The sign-in methods and connectors this installation offers.'),
  'auth.setup': open('The first-admin passkey ceremony (needs the setup link).'),
  'auth.enrol': open('A new account passkey ceremony (needs the enrolment link).'),
  'auth.logout': self('End this session.', { policyExempt: true }),
  'auth.step-up': self('Prove a strong factor again (passkey or TOTP).'),

  // --- the caller's own account ---------------------------------------------
  'me.read': self('Who am I, and whether my session satisfies policy.', { policyExempt: true }),
  'me.credentials.read': self('List my passkeys, TOTP, SMS and recovery-code state.'),
  'me.credentials.change': self('Add, rename or remove one of my credentials.'),
  'me.credentials.change-sensitive': self(
    'Add or remove a credential that can sign in (needs step-up).',
    { stepUp: true },
  ),
  'me.sessions': self('List or revoke my own sessions.', { policyExempt: true }),
  'me.audit.read': self('Ledger entries of my own actions.'),

  // --- org administration of accounts ---------------------------------------
  'org-users.list': a({
    authn: 'user',
    resource: 'none',
    allow: anyone, // the route lists the caller's own org, and only for its admins
    summary: "List the accounts of the caller's org (org admins).",
  }),
  'org-users.create': a({
    authn: 'user',
    resource: 'none',
    allow: anyone,
    stepUp: true,
    summary: "Create an account in the caller's org, with a one-time enrolment link.",
  }),
  'user.admin-read': a({
    authn: 'user',
    resource: 'user',
    allow: orgAdmin,
    summary: "Read an account's sessions (org admins of the account's org).",
  }),
  'user.admin-change': a({
    authn: 'user',
    resource: 'user',
    allow: orgAdmin,
    stepUp: true,
    summary: 'Disable, re-enrol or revoke the sessions of an account in your org.',
  }),
  'user.erase': a({
    authn: 'user',
    resource: 'user',
    allow: orgAdmin,
    stepUp: true,
    summary:
      'Erase a person: their data in the ledger becomes unreadable, the account is stripped to its id.',
  }),
  'user.role-change': a({
    authn: 'user',
    resource: 'user',
    allow: orgOwner,
    stepUp: true,
    summary: "Change an account's org role (org owners).",
  }),
  'ldap.sync': a({
    authn: 'user',
    resource: 'none',
    allow: instanceAdmin,
    stepUp: true,
    summary: 'Run an LDAP / AD directory sync now.',
  }),

  // --- audit ledger ---------------------------------------------------------
  'audit.public': a({
    authn: 'user-or-operator',
    resource: 'none',
    allow: anyone,
    summary: 'Ledger key, checkpoints and proofs (public material).',
  }),
  'audit.admin': a({
    authn: 'user-or-operator',
    resource: 'none',
    allow: instanceAdmin,
    summary: 'Ledger entries, heads, verification, signing a head now.',
  }),

  // --- orgs -----------------------------------------------------------------
  'org.list': self('Orgs the caller can see.'),
  'org.create': a({
    authn: 'user',
    resource: 'none',
    allow: instanceAdmin,
    stepUp: true,
    summary: 'Create an org (a tenant) and its first owner (installation admins).',
  }),
  'org.read': a({
    authn: 'user',
    resource: 'org',
    allow: (r) => r.orgVisible,
    summary: 'Read an org.',
  }),
  'org.update': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: 'Rename an org (its admins).',
  }),
  'org.policy.read': a({
    authn: 'user',
    resource: 'org',
    allow: orgMember,
    summary: "Read an org's default security policy.",
  }),
  'org.policy.update': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    stepUp: true,
    summary: "Change an org's default security policy.",
  }),
  'org.history': a({
    authn: 'user',
    resource: 'org',
    allow: orgMember,
    summary: "An org's provenance: its versions, each with the ledger entry that made it.",
  }),
  'org.audit.read': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: "Ledger entries about an org (and one of its projects), for the org's admins.",
  }),
  'org.partner-links.list': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: 'Partner links from and to an org.',
  }),
  'org.projects.list': a({
    authn: 'user',
    resource: 'org',
    allow: (r) => r.orgVisible,
    summary: "The org's projects the caller can see.",
  }),
  'org.projects.create': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: 'Create a project (org admins); the creator becomes its owner.',
  }),
  'org.groups.list': a({
    authn: 'user',
    resource: 'org',
    allow: orgMember,
    summary: "An org's groups.",
  }),
  'org.groups.create': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: 'Create a group by hand or bound to an LDAP / AD group.',
  }),

  // --- projects ---------------------------------------------------------------
  'project.read': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: 'Read a project.',
  }),
  'project.audit.read': a({
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    summary: 'Ledger entries about a project, for its admins.',
  }),
  'project.history': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: "A project's provenance: its versions, each with the ledger entry that made it.",
  }),
  'project.update': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    summary: 'Rename or describe a project.',
  }),
  'project.archive': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    allow: either(orgAdmin, (r) => r.projectKind === 'internal' && projectAtLeast('owner')(r)),
    stepUp: true,
    summary: 'Archive a project.',
  }),
  'project.policy.read': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: "A project's policy override and the effective policy.",
  }),
  'project.policy.update': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    stepUp: true,
    summary: "Tighten a project's policy.",
  }),
  'project.members.list': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: "A project's members (people and groups).",
  }),
  'project.members.change': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    // The route narrows further: partner admins only for their own org's people.
    allow: linkParty,
    summary: 'Add a member, change a role, or remove a member.',
  }),
  'project.members.leave': a({
    authn: 'user',
    resource: 'project',
    allow: projectAtLeast('viewer'),
    summary: 'Leave a project.',
  }),
  'project.groups.change': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    summary: 'Make a group of the project org a member, or remove it.',
  }),
  'project.partner-links.list': a({
    authn: 'user',
    resource: 'project',
    allow: linkParty,
    summary: "A project's partner-org links.",
  }),
  'project.partner-links.create': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    stepUp: true,
    summary: 'Invite a partner org into a project.',
  }),
  'project.invitations.list': a({
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    summary: "A project's invitations.",
  }),
  'project.invitations.create': a({
    projectChange: true,
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    summary: 'Invite a person (bound to an e-mail address or a domain).',
  }),

  // --- partner links, invitations, groups by id ---------------------------
  'partner-link.accept': a({
    authn: 'user',
    resource: 'partner-link',
    allow: (r) => r.partnerAdmin,
    stepUp: true,
    summary: 'Accept a partner link (admins of the invited org).',
  }),
  'partner-link.end': a({
    projectChange: true,
    authn: 'user',
    resource: 'partner-link',
    allow: linkParty,
    stepUp: true,
    summary: "End a partner link; the partner's people leave the project at once.",
  }),
  'invitation.revoke': a({
    projectChange: true,
    authn: 'user',
    resource: 'invitation',
    allow: projectAdmin,
    summary: 'Revoke an invitation.',
  }),
  'invitation.accept': self('Accept an invitation with its token.'),
  'invitation.accept-as-guest': open(
    'Accept an e-mail invitation as a new guest account (returns a passkey enrolment link).',
  ),
  'group.read': a({
    authn: 'user',
    resource: 'group',
    allow: orgMember,
    summary: 'Read a group and its members.',
  }),
  'group.history': a({
    authn: 'user',
    resource: 'group',
    allow: orgMember,
    summary: "A group's provenance: its versions, each with the ledger entry that made it.",
  }),
  'group.change': a({
    authn: 'user',
    resource: 'group',
    allow: orgAdmin,
    summary: 'Delete a group, or add or remove a member (a person or a group).',
  }),
  'directory.search': self('Search people the caller may see.'),

  // --- the Kanban (viewers read, members edit, project admins configure) ------
  'board.read': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: 'The board, issue search and saved views of a project.',
  }),
  'board.write': a({
    authn: 'user',
    resource: 'project',
    allow: projectEditor,
    summary: 'Create issues, and apply queued offline operations.',
  }),
  'board.configure': a({
    authn: 'user',
    resource: 'project',
    allow: projectAdmin,
    projectChange: true,
    summary: 'Add a board column.',
  }),
  'board.export': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: "Export the board as JSON or CSV (where the project's policy allows export).",
  }),
  'board.views': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: 'Save, list and delete one’s own views of a board.',
  }),
  'column.configure': a({
    authn: 'user',
    resource: 'column',
    allow: projectAdmin,
    projectChange: true,
    summary: 'Rename, reorder, limit or delete a board column.',
  }),
  'issue.read': a({
    authn: 'user',
    resource: 'issue',
    allow: projectReader,
    summary: 'An issue, its comments, links and activity with ledger proofs.',
  }),
  'issue.write': a({
    authn: 'user',
    resource: 'issue',
    allow: projectEditor,
    summary: 'Edit, move, delete, comment on or link an issue.',
  }),
  // --- end-to-end encrypted messaging (docs/messaging.md) ---------------------
  // Conversations belong to a project; what a device may do inside one (post,
  // commit, add devices) is decided by the Delivery Service from the group's
  // roster and the directory, after these rules admitted the person.
  'messaging.devices.read': self(
    "List a person's messaging devices and identity keys (yourself, or someone you share a project with).",
  ),
  'messaging.devices.change': self(
    'Register, bind, verify, revoke your own messaging devices and upload their key packages.',
  ),
  'messaging.devices.admin-verify': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: "Verify a member's messaging device on their behalf (org admins).",
  }),
  'messaging.conversations.list': self('List your conversations in every project.'),
  'messaging.connect': self(
    'Open the device socket: deliveries of your conversations and Welcomes, in order.',
  ),
  'conversation.create': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: 'Create a channel (members) or open a direct conversation (anyone in the project).',
  }),
  'conversation.list': a({
    authn: 'user',
    resource: 'project',
    allow: projectReader,
    summary: "A project's channels and your direct conversations in it.",
  }),
  'conversation.read': a({
    authn: 'user',
    resource: 'conversation',
    allow: projectReader,
    summary:
      'A conversation: epoch, roster, missing devices, pending removals, its log, attachments.',
  }),
  'conversation.participate': a({
    authn: 'user',
    resource: 'conversation',
    allow: projectReader,
    summary: 'Establish the group, claim key packages, commit, post messages and attachments.',
  }),
  // --- the DNS firewall (docs/dns.md) -------------------------------------------
  // An org's admins run its resolver settings. The configuration names the
  // org's networks and devices, and the query log says what people looked
  // up, so members see neither. Changes need step-up: a record or an allow
  // rule redirects or unblocks names for every device of the org.
  'dns.read': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: "An org's DNS zones and records, client groups (with their policies) and clients.",
  }),
  'dns.manage': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    stepUp: true,
    summary: 'Change DNS zones and records, client groups; register and revoke DNS clients.',
  }),
  'dns.log.read': a({
    authn: 'user',
    resource: 'org',
    allow: orgAdmin,
    summary: "An org's DNS query log and resolver statistics.",
  }),
  'realtime.connect': self(
    'Open the WebSocket for live updates; each subscription is authorized like a read of its project.',
  ),
} as const satisfies Record<string, ActionSpec>;

export type Action = keyof typeof actions;

export function isAction(name: unknown): name is Action {
  return typeof name === 'string' && Object.hasOwn(actions, name);
}

export function actionSpec(action: Action): ActionSpec {
  return actions[action];
}
