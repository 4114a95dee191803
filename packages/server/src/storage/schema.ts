import type { Generated } from 'kysely';

/**
 * The database as Kysely sees it. Columns suffixed `_enc` hold FieldCipher
 * ciphertext; `_index` columns hold blind indexes. Timestamps are ISO-8601
 * text on both back ends so the same queries run on SQLite and PostgreSQL.
 */
export interface Tables {
  bulwark_meta: { key: string; value: string };
  users: {
    id: string;
    display_name_enc: string;
    email_enc: string | null;
    email_index: string | null;
    created_at: string;
    username_enc: string | null;
    username_index: string | null;
    status: Generated<'active' | 'disabled'>;
    is_admin: Generated<number>;
    webauthn_user_handle: string | null;
    source: Generated<'local' | 'ldap' | 'oidc'>;
    updated_at: string | null;
    org_id: string | null;
    org_role: Generated<'owner' | 'admin' | 'member' | 'guest'>;
  };
  passkeys: {
    id: string;
    user_id: string;
    name_enc: string;
    public_key: string;
    /** bigint column: pg returns it as a string, SQLite as a number. */
    counter: number | string;
    transports: string;
    aaguid: string;
    device_type: 'singleDevice' | 'multiDevice';
    backed_up: number;
    attestation_fmt: string;
    attestation_enc: string | null;
    created_at: string;
    last_used_at: string | null;
  };
  totp_secrets: {
    user_id: string;
    secret_enc: string;
    confirmed_at: string | null;
    last_used_step: number | string | null;
    created_at: string;
  };
  recovery_codes: {
    id: string;
    user_id: string;
    code_hash: string;
    created_at: string;
    used_at: string | null;
  };
  password_credentials: { user_id: string; hash: string; updated_at: string };
  sms_numbers: {
    user_id: string;
    phone_enc: string;
    confirmed_at: string | null;
    created_at: string;
  };
  sessions: {
    id: string;
    token_hash: string;
    user_id: string;
    kind: 'cookie' | 'bearer';
    auth_methods: string;
    device_enc: string | null;
    source_index: string | null;
    created_at: string;
    last_seen_at: string;
    idle_expires_at: string;
    absolute_expires_at: string;
    step_up_at: string | null;
    revoked_at: string | null;
    revoked_reason: string | null;
    passkey_aaguid: Generated<string | null>;
  };
  auth_challenges: {
    id_hash: string;
    kind: string;
    user_id: string | null;
    data_enc: string | null;
    attempts: Generated<number>;
    created_at: string;
    expires_at: string;
    used_at: string | null;
  };
  settings: { key: string; value_enc: string; updated_at: string; revision: Generated<number> };
  oidc_identities: {
    user_id: string;
    connector_id: string;
    subject_index: string;
    created_at: string;
  };
  external_identities: {
    connector_id: string;
    external_id_index: string;
    user_id: string;
    external_id_enc: string;
    groups_enc: string;
    removed_at: string | null;
    last_synced_at: string;
    created_at: string;
  };
  audit_entries: {
    seq: number | string;
    entry: string;
    leaf_hash: string;
    created_at: string;
    /** Copied from the entry at append (an index for per-org reading, not hashed). */
    org_id: Generated<string | null>;
    project_id: Generated<string | null>;
    actor_id: Generated<string | null>;
    action: Generated<string | null>;
    /** Set when retention emptied `entry` (then ''); the leaf hash stays in audit_nodes. */
    pruned_at: Generated<string | null>;
  };
  subject_keys: {
    subject_id: string;
    key_enc: string | null;
    created_at: string;
    erased_at: string | null;
  };
  object_versions: {
    object_type: string;
    object_id: string;
    version: number;
    seq: number | string;
    leaf_hash: string;
    after_sha256: string | null;
    prev_hash: string | null;
    hash: string;
  };
  audit_nodes: { level: number; idx: number | string; hash: string };
  audit_heads: { size: number | string; root_hash: string; checkpoint: string; created_at: string };
  orgs: {
    id: string;
    slug_enc: string;
    slug_index: string;
    name_enc: string;
    policy_enc: string;
    created_at: string;
    updated_at: string;
  };
  projects: {
    id: string;
    org_id: string;
    key_enc: string;
    key_index: string;
    name_enc: string;
    description_enc: string | null;
    policy_enc: string | null;
    created_at: string;
    updated_at: string;
    archived_at: string | null;
  };
  partner_links: {
    id: string;
    project_id: string;
    host_org_id: string;
    partner_org_id: string;
    max_role: 'admin' | 'member' | 'viewer';
    status: 'pending' | 'active' | 'ended';
    created_by: string;
    created_at: string;
    accepted_by: string | null;
    accepted_at: string | null;
    ended_by: string | null;
    ended_at: string | null;
  };
  project_members: {
    project_id: string;
    user_id: string;
    role: 'owner' | 'admin' | 'member' | 'viewer';
    via_link_id: string | null;
    added_by: string;
    created_at: string;
  };
  groups: {
    id: string;
    org_id: string;
    name_enc: string;
    name_index: string;
    ldap_dn_enc: string | null;
    created_at: string;
  };
  group_members: {
    group_id: string;
    member_kind: 'user' | 'group';
    member_id: string;
    created_at: string;
  };
  project_group_members: {
    project_id: string;
    group_id: string;
    role: 'owner' | 'admin' | 'member' | 'viewer';
    added_by: string;
    created_at: string;
  };
  invitations: {
    id: string;
    token_hash: string;
    project_id: string;
    role: 'admin' | 'member' | 'viewer';
    email_enc: string | null;
    email_index: string | null;
    domain_enc: string | null;
    domain_index: string | null;
    created_by: string;
    created_at: string;
    expires_at: string;
    used_by: string | null;
    used_at: string | null;
    revoked_at: string | null;
  };
  board_columns: {
    id: string;
    project_id: string;
    name_enc: string;
    rank: string;
    wip_limit: number | null;
    created_at: string;
    updated_at: string;
    deleted_at: string | null;
  };
  issue_counters: { project_id: string; next_number: number; version: Generated<string> };
  issues: {
    id: string;
    project_id: string;
    number: number;
    title_enc: string;
    description_enc: string | null;
    status: string;
    rank: string;
    priority: string;
    labels_enc: string;
    assignees: string;
    due_date: string | null;
    estimate: number | null;
    checklist_enc: string;
    /** JSON: field group → HLC of the write that set it (last writer wins). */
    clocks: string;
    created_by: string;
    created_at: string;
    updated_at: string;
    deleted_at: string | null;
  };
  issue_comments: {
    id: string;
    issue_id: string;
    author_id: string;
    body_enc: string;
    mentions: string;
    created_at: string;
  };
  issue_links: {
    id: string;
    project_id: string;
    from_issue: string;
    to_issue: string;
    kind: 'blocks' | 'relates' | 'duplicates';
    created_by: string;
    created_at: string;
  };
  issue_history: {
    id: string;
    issue_id: string;
    field: string;
    value_enc: string;
    hlc: string;
    op_id: string;
    actor_id: string;
    outcome: 'applied' | 'lost';
    lost_to: string | null;
    created_at: string;
  };
  kanban_ops: { op_key: string; project_id: string; result: string; applied_at: string };
  saved_views: {
    id: string;
    user_id: string;
    project_id: string;
    name_enc: string;
    filter_enc: string;
    created_at: string;
  };
  messaging_devices: {
    id: string;
    user_id: string;
    name_enc: string;
    signature_public_key: string;
    status: 'active' | 'pending' | 'revoked';
    verified_by_kind: 'device' | 'admin' | null;
    verified_by_id: string | null;
    created_at: string;
    revoked_at: string | null;
  };
  messaging_device_sessions: { session_id: string; device_id: string; bound_at: string };
  messaging_device_challenges: {
    id: string;
    session_id: string;
    device_id: string;
    challenge: string;
    expires_at: string;
  };
  messaging_key_packages: {
    ref: string;
    device_id: string;
    ciphersuite: string;
    data: string;
    last_resort: number;
    not_after: string;
    claimed_for: string | null;
    claimed_at: string | null;
    created_at: string;
  };
  conversations: {
    id: string;
    project_id: string;
    kind: 'channel' | 'direct';
    name_enc: string | null;
    direct_key: string | null;
    participants: string | null;
    group_id: string;
    ciphersuite: string;
    /** bigint-free: an epoch fits an integer for any group's lifetime. */
    epoch: number | null;
    roster: string;
    group_info: string | null;
    pending: string;
    last_seq: number;
    created_by: string;
    created_at: string;
  };
  conversation_log: {
    conversation_id: string;
    seq: number;
    kind: 'commit' | 'proposal' | 'application';
    epoch: number;
    data: string;
    sender_device_id: string | null;
    digest: string;
    sent_at: string;
  };
  conversation_cursors: {
    device_id: string;
    conversation_id: string;
    joined_seq: number;
    acked_seq: number;
    removed_seq: number | null;
  };
  device_welcomes: {
    id: string;
    device_id: string;
    conversation_id: string;
    epoch: number;
    data: string;
    created_at: string;
  };
  conversation_attachments: {
    id: string;
    conversation_id: string;
    data: string;
    size: number;
    created_at: string;
  };
  dns_zones: {
    id: string;
    org_id: string;
    name_enc: string;
    name_index: string;
    created_at: string;
  };
  dns_records: {
    id: string;
    zone_id: string;
    name_enc: string;
    name_index: string;
    type: string;
    ttl: number;
    data_enc: string;
    created_at: string;
    updated_at: string;
  };
  dns_client_groups: {
    id: string;
    org_id: string;
    project_id: string | null;
    name_enc: string;
    name_index: string;
    /** JSON list of canonical CIDRs, encrypted. */
    source_cidrs_enc: string;
    /** JSON list of {action, pattern}, encrypted. */
    rules_enc: string;
    /** JSON list of categories blocked on top of the org's or project's. */
    block_categories: string;
    answer: 'nxdomain' | 'null' | 'sinkhole';
    sinkhole_ipv4_enc: string | null;
    sinkhole_ipv6_enc: string | null;
    created_at: string;
    updated_at: string;
  };
  dns_clients: {
    id: string;
    group_id: string;
    name_enc: string;
    /** SHA-256 (hex) of the DoH URL token. */
    token_hash: string;
    /** SHA-256 (hex) of the DoT client certificate's DER. */
    cert_fingerprint: string | null;
    created_at: string;
    revoked_at: string | null;
  };
  dns_query_log: {
    id: string;
    at: string;
    org_id: string | null;
    group_id: string | null;
    client_enc: string | null;
    client_id: string | null;
    protocol: string;
    name_enc: string;
    name_index: string;
    type: string;
    rcode: string;
    outcome: string;
    category: string | null;
    rule_enc: string | null;
    upstream: string | null;
    duration_ms: number;
  };
}
