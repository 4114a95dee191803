import { createHash } from 'node:crypto';
import { canonicalJson, canonicalJsonString } from '@bulwark/ledger';

/** How a change reached the server (provenance). */
export type Channel = 'web' | 'cli' | 'api' | 'ldap-sync' | 'oidc' | 'system';

export interface AuditActor {
  kind: 'user' | 'operator' | 'system';
  userId?: string | null;
  sessionId?: string | null;
  /** The caller's address; stored only as a keyed hash. */
  source?: string | null;
  channel: Channel;
}

/** What a domain reports; the ledger turns it into an entry. */
export interface AuditEvent {
  /** `<domain>.<verb>`, e.g. `user.create`, `sys.rekey`. */
  action: string;
  actor: AuditActor;
  target: { type: string; id: string | null };
  /** The issue this change cites (Kanban issue), when there is one. */
  issue?: string | null;
  /** The org and project the change concerns: who may read the entry, and export filters. */
  scope?: { orgId?: string | null; projectId?: string | null };
  /** The object before and after; only their SHA-256 (of canonical JSON) is kept. */
  before?: unknown;
  after?: unknown;
}

/** Binds a sealed personal value to its entry and subject: moved elsewhere, it does not open. */
export function personalAad(seq: number, subject: string): string {
  return `bulwark/audit-personal/${seq}/${subject}`;
}

/** The stored leaf: canonical JSON (RFC 8785) of this object is what the Merkle tree hashes. */
export interface AuditEntry {
  /** 1: before entries named their org and project; 2: with `org` and `project`. */
  v: 1 | 2;
  seq: number;
  time: string;
  action: string;
  actor: {
    kind: AuditActor['kind'];
    userId: string | null;
    sessionId: string | null;
    sourceHash: string | null;
    channel: Channel;
  };
  target: { type: string; id: string | null };
  issue: string | null;
  beforeSha256: string | null;
  afterSha256: string | null;
  /** Absent in version 1 entries. */
  org?: string | null;
  project?: string | null;
  /**
   * The actor's personal data (their address, …), sealed under their own
   * key: readable by those who may read the entry until the person is
   * erased, then by nobody. Absent before per-person keys; null without any.
   */
  personal?: { subject: string; sealed: string } | null;
}

export function objectDigest(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function buildEntry(
  seq: number,
  time: Date,
  event: AuditEvent,
  hashSource: (source: string) => string,
  personal: AuditEntry['personal'] = null,
): AuditEntry {
  return {
    v: 2,
    seq,
    time: time.toISOString(),
    action: event.action,
    actor: {
      kind: event.actor.kind,
      userId: event.actor.userId ?? null,
      sessionId: event.actor.sessionId ?? null,
      sourceHash: event.actor.source ? hashSource(event.actor.source) : null,
      channel: event.actor.channel,
    },
    target: { type: event.target.type, id: event.target.id },
    issue: event.issue ?? null,
    beforeSha256: objectDigest(event.before),
    afterSha256: objectDigest(event.after),
    org: event.scope?.orgId ?? null,
    project: event.scope?.projectId ?? null,
    personal,
  };
}

export function encodeEntry(entry: AuditEntry): string {
  return canonicalJsonString(entry);
}
