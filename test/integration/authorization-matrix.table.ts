/**
 * The authorization matrix: for every registered route, what each persona
 * gets. Kept next to its test (authorization-matrix.test.ts), which walks
 * every route the server registers and fails for a route without a row.
 *
 *   A  allowed: the request passed authorization (the route may still say
 *      400/409/… about the empty body or the state)
 *   U  401 unauthenticated
 *   F  403 forbidden (the actor may know the resource exists)
 *   N  404 not_found, indistinguishable from an id that was never used
 *   P  403 policy_unsatisfied: the role allows it, the project's policy does
 *      not (e.g. externals may not export by default)
 *
 * Columns, in order (see test/support/directory-world.ts):
 *   anonymous · deactivated user · Acme owner (and Apollo owner) · Acme admin ·
 *   internal member of Apollo · internal viewer of Apollo · external member
 *   (Globex, through the partner link) · Globex admin (partner-org admin) ·
 *   member of unrelated Initech · installation admin (owner of the default org)
 */
export const matrix: Record<string, string> = {
  // installation
  'GET /health': 'A A A A A A A A A A',
  'GET /v1/sys/status': 'A A A A A A A A A A',
  'POST /v1/sys/init': 'A A A A A A A A A A',
  'POST /v1/sys/unseal': 'A A A A A A A A A A',
  'POST /v1/sys/seal': 'U U U U U U U U U U',
  'POST /v1/sys/rekey': 'U U U U U U U U U U',
  'POST /v1/sys/setup-link': 'U U U U U U U U U U',
  'GET /metrics': 'A A A A A A A A A A',
  // DNS over HTTPS: open like port 53; the resolver decides (registered token, allowed range).
  'GET /dns-query': 'A A A A A A A A A A',
  'POST /dns-query': 'A A A A A A A A A A',
  'GET /dns-query/:token': 'A A A A A A A A A A',
  'POST /dns-query/:token': 'A A A A A A A A A A',
  'GET /v1/openapi.json': 'A A A A A A A A A A',

  // pages and login ceremonies
  'GET /login': 'A A A A A A A A A A',
  'GET /setup': 'A A A A A A A A A A',
  'GET /enrol': 'A A A A A A A A A A',
  'GET /invite': 'A A A A A A A A A A',
  'GET /assets/passkeys.js': 'A A A A A A A A A A',
  'GET /assets/pages.css': 'A A A A A A A A A A',
  // the web client: public files (what an account may see comes from the API)
  'GET /': 'A A A A A A A A A A',
  'GET /init': 'A A A A A A A A A A',
  'GET /unseal': 'A A A A A A A A A A',
  'GET /sign-in': 'A A A A A A A A A A',
  'GET /search': 'A A A A A A A A A A',
  'GET /orgs': 'A A A A A A A A A A',
  'GET /orgs/*': 'A A A A A A A A A A',
  'GET /projects/*': 'A A A A A A A A A A',
  'GET /account': 'A A A A A A A A A A',
  'GET /account/*': 'A A A A A A A A A A',
  'GET /admin': 'A A A A A A A A A A',
  'GET /admin/*': 'A A A A A A A A A A',
  'GET /static/*': 'A A A A A A A A A A',
  'GET /icons/*': 'A A A A A A A A A A',
  'GET /manifest.webmanifest': 'A A A A A A A A A A',
  'GET /sw.js': 'A A A A A A A A A A',
  'GET /v1/auth/methods': 'A A A A A A A A A A',
  'POST /v1/auth/setup/options': 'A A A A A A A A A A',
  'POST /v1/auth/setup/verify': 'A A A A A A A A A A',
  'POST /v1/auth/enrol/options': 'A A A A A A A A A A',
  'POST /v1/auth/enrol/verify': 'A A A A A A A A A A',
  'POST /v1/auth/passkey/login/options': 'A A A A A A A A A A',
  'POST /v1/auth/passkey/login/verify': 'A A A A A A A A A A',
  'POST /v1/auth/login/password': 'A A A A A A A A A A',
  'POST /v1/auth/login/second-factor': 'A A A A A A A A A A',
  'POST /v1/auth/login/second-factor/sms': 'A A A A A A A A A A',
  'POST /v1/auth/login/recovery': 'A A A A A A A A A A',
  'POST /v1/auth/login/ldap': 'A A A A A A A A A A',
  'GET /v1/auth/oidc/:connector/start': 'A A A A A A A A A A',
  'GET /v1/auth/oidc/:connector/callback': 'A A A A A A A A A A',

  // one's own session and credentials
  'POST /v1/auth/logout': 'U U A A A A A A A A',
  'POST /v1/auth/step-up/options': 'U U A A A A A A A A',
  'POST /v1/auth/step-up/verify': 'U U A A A A A A A A',
  'POST /v1/auth/step-up/totp': 'U U A A A A A A A A',
  'GET /v1/me': 'U U A A A A A A A A',
  'GET /v1/me/passkeys': 'U U A A A A A A A A',
  'POST /v1/me/passkeys/options': 'U U A A A A A A A A',
  'POST /v1/me/passkeys/verify': 'U U A A A A A A A A',
  'PATCH /v1/me/passkeys/:id': 'U U A A A A A A A A',
  'DELETE /v1/me/passkeys/:id': 'U U A A A A A A A A',
  'GET /v1/me/totp': 'U U A A A A A A A A',
  'POST /v1/me/totp': 'U U A A A A A A A A',
  'POST /v1/me/totp/confirm': 'U U A A A A A A A A',
  'DELETE /v1/me/totp': 'U U A A A A A A A A',
  'GET /v1/me/sms': 'U U A A A A A A A A',
  'POST /v1/me/sms': 'U U A A A A A A A A',
  'POST /v1/me/sms/confirm': 'U U A A A A A A A A',
  'DELETE /v1/me/sms': 'U U A A A A A A A A',
  'PUT /v1/me/password': 'U U A A A A A A A A',
  'DELETE /v1/me/password': 'U U A A A A A A A A',
  'GET /v1/me/recovery-codes': 'U U A A A A A A A A',
  'POST /v1/me/recovery-codes': 'U U A A A A A A A A',
  'GET /v1/sessions': 'U U A A A A A A A A',
  'DELETE /v1/sessions/:id': 'U U A A A A A A A A',
  'POST /v1/sessions/revoke-others': 'U U A A A A A A A A',
  'GET /v1/me/audit/entries': 'U U A A A A A A A A',

  // accounts of one's org (the target is Apollo's internal member, an Acme account)
  'GET /v1/admin/users': 'U U A A F F F A F A',
  'POST /v1/admin/users': 'U U A A F F F A F A',
  'GET /v1/admin/users/:userId/sessions': 'U U A A F F N N N N',
  'POST /v1/admin/users/:userId/sessions/revoke': 'U U A A F F N N N N',
  'POST /v1/admin/users/:userId/enrolment-link': 'U U A A F F N N N N',
  'PUT /v1/admin/users/:userId/status': 'U U A A F F N N N N',
  'POST /v1/admin/users/:userId/erase': 'U U A A F F N N N N',
  'PUT /v1/admin/users/:userId/org-role': 'U U A F F F N N N N',
  'POST /v1/admin/ldap/:connector/sync': 'U U F F F F F F F A',

  // audit ledger
  'GET /v1/audit/key': 'U U A A A A A A A A',
  'GET /v1/audit/checkpoint': 'U U A A A A A A A A',
  'POST /v1/audit/checkpoint': 'U U F F F F F F F A',
  'GET /v1/audit/proofs/inclusion': 'U U A A A A A A A A',
  'GET /v1/audit/proofs/consistency': 'U U A A A A A A A A',
  'GET /v1/audit/entries': 'U U F F F F F F F A',
  'GET /v1/audit/heads': 'U U F F F F F F F A',
  'POST /v1/audit/verify': 'U U F F F F F F F A',

  // orgs (the org is Acme)
  'GET /v1/orgs': 'U U A A A A A A A A',
  'POST /v1/orgs': 'U U F F F F F F F A',
  'GET /v1/orgs/:orgId': 'U U A A A A A A N A',
  'PATCH /v1/orgs/:orgId': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/policy': 'U U A A A A F F N F',
  'PUT /v1/orgs/:orgId/policy': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/partner-links': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/audit/entries': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/history': 'U U A A A A F F N F',
  'GET /v1/orgs/:orgId/projects': 'U U A A A A A A N A',
  'POST /v1/orgs/:orgId/projects': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/groups': 'U U A A A A F F N F',
  'POST /v1/orgs/:orgId/groups': 'U U A A F F F F N F',

  // the org's DNS firewall (Acme): its admins only; members and everyone else may not look
  'GET /v1/orgs/:orgId/dns/zones': 'U U A A F F F F N F',
  'POST /v1/orgs/:orgId/dns/zones': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/dns/zones/:zoneId': 'U U A A F F F F N F',
  'DELETE /v1/orgs/:orgId/dns/zones/:zoneId': 'U U A A F F F F N F',
  'POST /v1/orgs/:orgId/dns/zones/:zoneId/records': 'U U A A F F F F N F',
  'PUT /v1/orgs/:orgId/dns/zones/:zoneId/records/:recordId': 'U U A A F F F F N F',
  'DELETE /v1/orgs/:orgId/dns/zones/:zoneId/records/:recordId': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/dns/groups': 'U U A A F F F F N F',
  'POST /v1/orgs/:orgId/dns/groups': 'U U A A F F F F N F',
  'PUT /v1/orgs/:orgId/dns/groups/:clientGroupId': 'U U A A F F F F N F',
  'DELETE /v1/orgs/:orgId/dns/groups/:clientGroupId': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/dns/groups/:clientGroupId/clients': 'U U A A F F F F N F',
  'POST /v1/orgs/:orgId/dns/groups/:clientGroupId/clients': 'U U A A F F F F N F',
  'DELETE /v1/orgs/:orgId/dns/clients/:clientId': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/dns/query-log': 'U U A A F F F F N F',
  'GET /v1/orgs/:orgId/dns/stats': 'U U A A F F F F N F',

  // the project (Apollo): the installation admin has no say inside a tenant
  'GET /v1/projects/:projectId': 'U U A A A A A A N N',
  'PATCH /v1/projects/:projectId': 'U U A A F F F F N N',
  'GET /v1/projects/:projectId/history': 'U U A A A A A A N N',
  'GET /v1/projects/:projectId/audit/entries': 'U U A A F F F F N N',
  'DELETE /v1/projects/:projectId': 'U U A A F F F F N N',
  'GET /v1/projects/:projectId/policy': 'U U A A A A A A N N',
  'PUT /v1/projects/:projectId/policy': 'U U A A F F F F N N',
  'GET /v1/projects/:projectId/members': 'U U A A A A A A N N',
  'PUT /v1/projects/:projectId/members/:userId': 'U U A A F F F A N N',
  // A partner admin may remove only their own people: Acme's member is not theirs to know.
  'DELETE /v1/projects/:projectId/members/:userId': 'U U A A F F F N N N',
  'POST /v1/projects/:projectId/leave': 'U U A F A A A F N N',
  'PUT /v1/projects/:projectId/groups/:groupId': 'U U A A F F F F N N',
  'DELETE /v1/projects/:projectId/groups/:groupId': 'U U A A F F F F N N',
  'GET /v1/projects/:projectId/partner-links': 'U U A A F F F A N N',
  'POST /v1/projects/:projectId/partner-links': 'U U A A F F F F N N',
  'GET /v1/projects/:projectId/invitations': 'U U A A F F F F N N',
  'POST /v1/projects/:projectId/invitations': 'U U A A F F F F N N',

  // partner links, invitations and groups by id
  'POST /v1/partner-links/:linkId/accept': 'U U F F F F F A N N',
  'DELETE /v1/partner-links/:linkId': 'U U A A F F F A N N',
  'DELETE /v1/invitations/:invitationId': 'U U A A F F F F N N',
  'POST /v1/invitations/accept': 'U U A A A A A A A A',
  'POST /v1/invitations/accept-as-guest': 'A A A A A A A A A A',
  'GET /v1/groups/:groupId': 'U U A A A A N N N N',
  'DELETE /v1/groups/:groupId': 'U U A A F F N N N N',
  'GET /v1/groups/:groupId/history': 'U U A A A A N N N N',
  'PUT /v1/groups/:groupId/members/:memberKind/:memberId': 'U U A A F F N N N N',
  'DELETE /v1/groups/:groupId/members/:memberKind/:memberId': 'U U A A F F N N N N',
  'GET /v1/directory/search': 'U U A A A A A A A A',

  // live updates: any session may open the socket (a plain GET passes the guard and is told
  // to upgrade, 400); each subscription is then authorized as project.read (realtime.test.ts)
  'GET /v1/ws': 'U U A A A A A A A A',

  // messaging: one's own devices (another's answers 404 from the route); org admins verify
  // their people's devices; conversations are read by the project's readers, and the
  // Delivery Service decides what a device may do in one (docs/messaging.md)
  'POST /v1/messaging/devices': 'U U A A A A A A A A',
  'GET /v1/messaging/devices': 'U U A A A A A A A A',
  'POST /v1/messaging/devices/:deviceId/challenge': 'U U A A A A A A A A',
  'POST /v1/messaging/devices/:deviceId/bind': 'U U A A A A A A A A',
  'POST /v1/messaging/devices/:deviceId/verify': 'U U A A A A A A A A',
  'DELETE /v1/messaging/devices/:deviceId': 'U U A A A A A A A A',
  'POST /v1/messaging/devices/:deviceId/key-packages': 'U U A A A A A A A A',
  'GET /v1/messaging/devices/:deviceId/key-packages': 'U U A A A A A A A A',
  'POST /v1/orgs/:orgId/devices/:deviceId/verify': 'U U A A F F F F N F',
  'GET /v1/messaging/conversations': 'U U A A A A A A A A',
  'GET /v1/messaging/ws': 'U U A A A A A A A A',
  'POST /v1/projects/:projectId/conversations': 'U U A A A A A A N N',
  'GET /v1/projects/:projectId/conversations': 'U U A A A A A A N N',
  'GET /v1/conversations/:conversationId': 'U U A A A A A A N N',
  'POST /v1/conversations/:conversationId/group': 'U U A A A A A A N N',
  'POST /v1/conversations/:conversationId/key-packages/claim': 'U U A A A A A A N N',
  'POST /v1/conversations/:conversationId/commits': 'U U A A A A A A N N',
  'POST /v1/conversations/:conversationId/messages': 'U U A A A F A A N N',
  'GET /v1/conversations/:conversationId/messages': 'U U A A A A A A N N',
  'POST /v1/conversations/:conversationId/attachments': 'U U A A A A A A N N',
  'GET /v1/conversations/:conversationId/attachments/:attachmentId': 'U U A A A A A A N N',

  // the Kanban: viewers and partner admins read, members edit, project admins configure
  'GET /v1/projects/:projectId/board': 'U U A A A A A A N N',
  'GET /v1/projects/:projectId/issues': 'U U A A A A A A N N',
  'POST /v1/projects/:projectId/issues': 'U U A A A F A F N N',
  'POST /v1/projects/:projectId/ops': 'U U A A A F A F N N',
  'POST /v1/projects/:projectId/columns': 'U U A A F F F F N N',
  'PATCH /v1/columns/:columnId': 'U U A A F F F F N N',
  'DELETE /v1/columns/:columnId': 'U U A A F F F F N N',
  'GET /v1/issues/:issueId': 'U U A A A A A A N N',
  'PATCH /v1/issues/:issueId': 'U U A A A F A F N N',
  'POST /v1/issues/:issueId/move': 'U U A A A F A F N N',
  'DELETE /v1/issues/:issueId': 'U U A A A F A F N N',
  'POST /v1/issues/:issueId/comments': 'U U A A A F A F N N',
  'POST /v1/issues/:issueId/links': 'U U A A A F A F N N',
  'DELETE /v1/issues/:issueId/links/:linkId': 'U U A A A F A F N N',
  'GET /v1/issues/:issueId/activity': 'U U A A A A A A N N',
  'GET /v1/projects/:projectId/views': 'U U A A A A A A N N',
  'POST /v1/projects/:projectId/views': 'U U A A A A A A N N',
  'DELETE /v1/projects/:projectId/views/:viewId': 'U U A A A A A A N N',
  'GET /v1/projects/:projectId/board/export': 'U U A A A A P P N N',
};
